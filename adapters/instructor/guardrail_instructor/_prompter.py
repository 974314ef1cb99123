"""MessagesPrompter: the Guard's re-ask prompts and notes as OpenAI-style chat messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from guardrail.exceptions import InvalidInputError

__all__ = ["Message", "MessagesPrompter", "as_messages"]

Message = dict[str, Any]
"""One chat message: ``{"role": "user", "content": "..."}`` (OpenAI's ``ChatCompletionMessageParam`` shape)."""


def as_messages(prompt: str | Sequence[Mapping[str, Any]]) -> list[Message]:
    """A fresh list of message dicts: a string becomes one user message; the input is never mutated.

    Raises:
        InvalidInputError: the prompt is neither text nor a sequence of message mappings with a role.
    """
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, (bytes, Mapping)) or not isinstance(prompt, Sequence):
        raise InvalidInputError(f"messages must be a list of chat messages or a string, got {type(prompt).__name__}")
    messages: list[Message] = []
    for message in prompt:
        if not isinstance(message, Mapping) or "role" not in message:
            raise InvalidInputError(f"each message must be a mapping with a 'role', got {message!r}")
        messages.append(dict(message))
    return messages


def _answer_text(output: Any) -> str:
    if isinstance(output, BaseModel):
        return output.model_dump_json()
    return output if isinstance(output, str) else str(output)


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesPrompter:
    """A ``Guard(prompter=...)`` for chat messages.

    A Guard-level re-ask sends the ORIGINAL messages, then the failed answer as an assistant message (its JSON),
    then the feedback as a user message: the same shape instructor's own re-ask uses, so the model sees one
    convention. Earlier failed attempts are not included. A note (e.g. ``ContextSummary``) is appended to the
    last user message's text, or added as a new user message.

    Args:
        feedback_prefix: text put before the Guard's feedback in the user message.
    """

    feedback_prefix: str = ""

    def reask(self, observation: Any, last_output: Any, feedback: str) -> list[Message]:
        """The original messages, the latest failed answer, and the feedback."""
        return [
            *as_messages(observation),
            {"role": "assistant", "content": _answer_text(last_output)},
            {"role": "user", "content": f"{self.feedback_prefix}{feedback}"},
        ]

    def annotate(self, observation: Any, note: str) -> list[Message]:
        """The messages with ``note`` added to the last user message, or as a new user message."""
        messages = as_messages(observation)
        if messages and messages[-1].get("role") == "user" and isinstance(messages[-1].get("content"), str):
            messages[-1] = {**messages[-1], "content": f"{messages[-1]['content']}\n\n{note}"}
        else:
            messages.append({"role": "user", "content": note})
        return messages
