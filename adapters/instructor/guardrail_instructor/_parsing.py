"""Reading instructor's answers into Decisions: validated response models, and answers instructor gave up on."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from guardrail import ActionSpace, Decision, parse
from guardrail.parsing import Format, RawReading, decision_from_reading, read_structured
from guardrail.rationale import RationaleReader
from guardrail_instructor._models import DecisionModel, DecisionSpec

__all__ = ["RejectedResponse", "ResponseParser", "completion_text"]

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class RejectedResponse:
    """The model's last answer when instructor gave up on it (retries exhausted, or the output was cut off).

    The guarded client hands this to the Guard instead of raising, so a rejected answer is data: the Guard still
    reads its action and rationale (a knowing-doing gap can then be overridden, an illegal action falls back).

    Attributes:
        content: the text of the last completion (JSON, usually).
        errors: instructor's validation errors, one per failed attempt, oldest first.
        response_model: the model the answer failed to validate as.
        completion: the provider's last completion object.
    """

    content: str
    errors: tuple[str, ...] = ()
    response_model: type[BaseModel] | None = None
    completion: Any = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.content

    def data(self) -> dict[str, Any] | None:
        """The JSON object in ``content`` (bare, fenced or embedded in prose), or None."""
        return json_object(self.content)


def json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object ``text`` holds (the whole text, a fenced block, or the outermost braces)."""
    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def completion_text(completion: Any) -> str:
    """The text of an OpenAI-style chat completion: the message content, else the first tool call's arguments."""
    choices = getattr(completion, "choices", None)
    if not choices:
        return ""
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if isinstance(content, str) and content:
        return content
    for call in getattr(message, "tool_calls", None) or ():
        arguments = getattr(getattr(call, "function", None), "arguments", None)
        if isinstance(arguments, str):
            return arguments
    return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseParser:
    """A ``Guard(parser=...)`` for instructor answers.

    Reads, in order: a :class:`DecisionModel` (by its own field names; an explicit ``intended_action`` wins over
    the rationale reader), a :class:`RejectedResponse` (its JSON object read the same way, else its text in any
    text format), and anything else :func:`guardrail.parse` reads (other pydantic models, dicts, text).

    Args:
        reader: how to read a rationale's recommendation (default: the model's own, else the lexical reader).
        format: the text format of answers that are not JSON (default: detect it).
    """

    reader: RationaleReader | None = None
    format: Format = "auto"

    def __call__(self, raw: Any, actions: ActionSpace) -> Decision:
        """Parse one answer against ``actions``; never raises on what the model said."""
        if isinstance(raw, DecisionModel):
            spec = type(raw).guardrail_spec
            reading = spec.raw_reading(raw.model_dump())
            if reading is not None:
                return decision_from_reading(
                    reading, actions, format="structured", raw=raw, reader=self.reader or spec.reader
                )
        if isinstance(raw, RejectedResponse):
            return self._rejected(raw, actions)
        if isinstance(raw, (BaseModel, Mapping)):
            return parse(raw, actions, format="structured", reader=self.reader)
        return parse(raw, actions, format=self.format, reader=self.reader)

    def _rejected(self, raw: RejectedResponse, actions: ActionSpace) -> Decision:
        data = raw.data()
        if data is None:
            text_format: Format = "auto" if self.format == "structured" else self.format
            decision = parse(raw.content, actions, format=text_format, reader=self.reader)
            return decision.model_copy(update={"raw": raw})
        spec = getattr(raw.response_model, "guardrail_spec", None)
        reader = self.reader
        reading: RawReading | None = None
        if isinstance(spec, DecisionSpec):
            reading = spec.raw_reading(data)
            reader = reader or spec.reader
        if reading is None:
            reading = read_structured(data)
        if reading is None:
            reading = RawReading(rationale="", action_text=None)
        return decision_from_reading(reading, actions, format="json", raw=raw, reader=reader)
