"""Prompts: how a re-ask and a note are written into the agent's prompt, and how long a re-ask's feedback may be."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from guardrail.actions import ActionSpace
from guardrail.decision import Decision

__all__ = ["MAX_FEEDBACK_CHARS", "MAX_LISTED_ACTIONS", "Prompter", "TextPrompter", "as_text", "bounded_feedback"]


@runtime_checkable
class Prompter(Protocol):
    """How a prompt is rebuilt for a re-ask and annotated with a note. Adapters supply their own."""

    def reask(self, observation: Any, last_output: Any, feedback: str) -> Any:
        """The re-ask prompt: the original observation, the latest failed answer and its feedback, only."""
        ...

    def annotate(self, observation: Any, note: str) -> Any:
        """The observation with a note (e.g. a context summary) added."""
        ...


@dataclass(frozen=True, slots=True)
class TextPrompter:
    """Prompts as plain text."""

    def reask(self, observation: Any, last_output: Any, feedback: str) -> str:
        """Observation, then the previous answer, then the feedback."""
        return (
            f"{observation}\n\nYour previous answer was:\n{as_text(last_output)}\n\nFeedback: {feedback}\nAnswer again."
        )

    def annotate(self, observation: Any, note: str) -> str:
        """Observation, then the note."""
        return f"{observation}\n\n{note}"


def as_text(output: Any) -> str:
    """An agent's output as text: a string as is, a pydantic model as its JSON, anything else by ``str``."""
    if isinstance(output, str):
        return output
    dump = getattr(output, "model_dump_json", None)
    return str(dump()) if callable(dump) else str(output)


MAX_LISTED_ACTIONS: Final = 40
"""How many legal actions a re-ask's feedback lists at most; the rest are counted ("... and 9,960 more")."""

MAX_FEEDBACK_CHARS: Final = 4000
"""The longest re-ask feedback sent to the agent; longer feedback is cut (its list of actions first)."""


def bounded_feedback(feedback: str, actions: ActionSpace, decision: Decision) -> str:
    """Feedback that lists at most :data:`MAX_LISTED_ACTIONS` actions and is at most :data:`MAX_FEEDBACK_CHARS` long.

    A feedback that lists every legal action (as ``default_feedback`` does) grows with the action space (109 KB at
    10,000 actions); the list is replaced by the actions the answer was about (its action, its rationale's action,
    names resembling an illegal action it gave), then the first ones, and a count of the others.
    """
    names = actions.names
    if len(names) > MAX_LISTED_ACTIONS:
        listed = ", ".join(names)
        if listed in feedback:
            feedback = feedback.replace(listed, _short_list(names, decision))
    if len(feedback) > MAX_FEEDBACK_CHARS:
        cut = len(feedback) - MAX_FEEDBACK_CHARS
        feedback = feedback[:MAX_FEEDBACK_CHARS] + f"… [{cut} characters of feedback left out]"
    return feedback


def _short_list(names: Sequence[str], decision: Decision) -> str:
    chosen: dict[str, None] = {}
    for name in (decision.action, decision.rationale_action):
        if name is not None:
            chosen[name] = None
    wanted = (decision.raw_action or "").strip().lower()
    if wanted:
        for name in names:
            if len(chosen) >= MAX_LISTED_ACTIONS // 2:
                break
            low = name.lower()
            if wanted in low or low in wanted:
                chosen[name] = None
    for name in names:
        if len(chosen) >= MAX_LISTED_ACTIONS:
            break
        chosen[name] = None
    return ", ".join(chosen) + f", … and {len(names) - len(chosen):,} more"
