"""Unexecuted intent: the rationale commits to an action and the answer carries none (no tool call, no action).

Reported for tool-calling models ("Let me call search_docs", then no call), and invisible to the knowing-doing
gap, which needs an action to compare. The commitment is what the guard's rationale reader reads (by default
:class:`~guardrail.rationale.LexicalReader`): its stance cues already drop negated, hedged, asked, deferred and
history mentions, so "I used search_docs earlier" or "should I call search_docs?" commit to nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guardrail.detectors.base import UNEXECUTED_INTENT, Finding
from guardrail.exceptions import ConfigurationError
from guardrail.state import StepState

__all__ = ["UnexecutedIntent"]

_ANSWER_FORMAT = "answer"  # Decision.format of a message read as the answer action (no call, no action)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnexecutedIntent:
    """Fires when the rationale recommends an action and the step carries none.

    A step carries none when it has no action and named none (``action`` and ``raw_action`` are None), or when a
    tool-calling adapter read a message without a tool call as its answer action (``Decision.format ==
    "answer"``, e.g. ``guard_for_tools(..., answer_action="final_answer")``).

    Args:
        min_confidence: ignore rationale readings less certain than this (the reader's confidence).
    """

    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigurationError(f"min_confidence must be in [0, 1], got {self.min_confidence}")

    def detect(self, state: StepState) -> Sequence[Finding]:
        """One finding when the rationale commits to an action the answer does not take."""
        decision = state.decision
        intended = decision.rationale_action
        if intended is None or decision.rationale_confidence < self.min_confidence:
            return ()
        carries_none = (decision.action is None and decision.raw_action is None) or decision.format == _ANSWER_FORMAT
        if not carries_none or intended == decision.action:
            return ()
        return (
            Finding(
                kind=UNEXECUTED_INTENT,
                score=decision.rationale_confidence,
                detail=f"the rationale commits to {intended!r} but the answer makes no call",
                actions=(intended,),
                data={"evidence": decision.rationale_evidence},
            ),
        )
