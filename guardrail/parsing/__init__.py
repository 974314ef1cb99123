"""Parse an agent's raw output into a :class:`~guardrail.decision.Decision`.

One module per format; :func:`parse` picks one by name or detects it (``format="auto"``). Bad model output
never raises: a missing or illegal action is ``action=None``. Misuse (a non-text input, a wrong format name)
raises :class:`~guardrail.exceptions.InvalidInputError` or :class:`~guardrail.exceptions.ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel

from guardrail.actions import ActionSpace
from guardrail.decision import Decision
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail.parsing._base import FormatParser, RawReading, reading_from_mapping
from guardrail.parsing.action_eq import parse_action_eq
from guardrail.parsing.json_format import parse_json
from guardrail.parsing.react import parse_react
from guardrail.parsing.xml import parse_xml
from guardrail.rationale import RationaleReader, read_rationale

__all__ = ["FORMATS", "Format", "RawReading", "decision_from_reading", "parse", "read_structured"]

Format = Literal["auto", "action_eq", "json", "react", "xml", "structured", "bare"]

FORMATS: Mapping[str, FormatParser] = {
    "xml": parse_xml,
    "json": parse_json,
    "action_eq": parse_action_eq,
    "react": parse_react,
}
"""Text formats by name, in the order ``auto`` tries them."""


def read_structured(output: Any) -> RawReading | None:
    """Read a dict, a pydantic model or an object with action/rationale attributes."""
    if isinstance(output, BaseModel):
        return reading_from_mapping(output.model_dump())
    if isinstance(output, Mapping):
        return reading_from_mapping(output)
    return None


def _bare(text: str) -> RawReading:
    # The whole output is the action ("red", "**Red**."), or there is no action at all.
    return RawReading(rationale=text.strip(), action_text=text.strip() if len(text) < 200 else None)


def decision_from_reading(
    reading: RawReading,
    actions: ActionSpace,
    *,
    format: str,
    raw: Any,
    reader: RationaleReader | None = None,
) -> Decision:
    """Resolve a format's reading against the action space and read the rationale's recommendation."""
    action = actions.resolve(reading.action_text) if reading.action_text is not None else None
    intended = actions.resolve(reading.intended_text) if reading.intended_text else None
    rationale_action: str | None
    evidence: str | None
    judge_calls = 0
    if intended is not None:
        rationale_action, confidence, evidence = intended, 1.0, "explicit intended_action field"
    else:
        reading_of_rationale = read_rationale(reading.rationale, actions, reader)
        rationale_action = reading_of_rationale.action
        confidence = reading_of_rationale.confidence
        evidence = reading_of_rationale.evidence
        judge_calls = reading_of_rationale.judge_calls
    raw_action: str | None = reading.action_text
    if format == "bare":
        if action is not None:  # a bare action names no reasoning of its own
            rationale_action, confidence, evidence = None, 0.0, None
        else:  # prose without any action format: it stated no action
            raw_action = None
    return Decision(
        rationale=reading.rationale,
        action=action,
        rationale_action=rationale_action,
        rationale_confidence=confidence,
        rationale_evidence=evidence,
        rationale_judge_calls=judge_calls,
        raw_action=raw_action,
        arguments=reading.arguments,
        format=format,
        raw=raw,
    )


def parse(
    output: Any,
    actions: ActionSpace | Iterable[str],
    *,
    format: Format = "auto",
    reader: RationaleReader | None = None,
) -> Decision:
    """Parse one agent output.

    Args:
        output: the agent's text, or an already-structured dict / pydantic model.
        actions: the legal actions (an :class:`ActionSpace` or a list of names).
        format: a format name from :data:`FORMATS`, ``"structured"``, ``"bare"``, or ``"auto"`` to detect it.
        reader: how to tell which action the rationale recommends (default: the lexical reader).

    Returns:
        A :class:`Decision`; ``action`` is None when no legal action could be read.
    """
    space = ActionSpace.of(actions)
    if format == "structured" or (format == "auto" and not isinstance(output, str)):
        if isinstance(output, (str, bytes)) or output is None:
            raise InvalidInputError(f"format='structured' needs a dict or pydantic model, got {type(output).__name__}")
        reading = read_structured(output)
        if reading is None:
            if isinstance(output, (Mapping, BaseModel)):
                reading = RawReading(rationale="", action_text=None)
            else:
                raise InvalidInputError(f"parse() takes text, a dict or a pydantic model; got {type(output).__name__}")
        return decision_from_reading(reading, space, format="structured", raw=output, reader=reader)
    if not isinstance(output, str):
        raise InvalidInputError(f"format={format!r} needs text, got {type(output).__name__}")
    if format == "auto":
        for name, parser in FORMATS.items():
            found = parser(output)
            if found is not None:
                return decision_from_reading(found, space, format=name, raw=output, reader=reader)
        return decision_from_reading(_bare(output), space, format="bare", raw=output, reader=reader)
    if format == "bare":
        return decision_from_reading(_bare(output), space, format="bare", raw=output, reader=reader)
    chosen = FORMATS.get(format)
    if chosen is None:
        known = ", ".join(["auto", *FORMATS, "structured", "bare"])
        raise ConfigurationError(f"unknown format {format!r}; known formats: {known}")
    found = chosen(output)
    reading = found if found is not None else RawReading(rationale=output.strip(), action_text=None)
    return decision_from_reading(reading, space, format=format, raw=output, reader=reader)
