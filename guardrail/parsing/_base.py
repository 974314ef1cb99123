"""What every format parser returns before actions are resolved."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

__all__ = [
    "ACTION_KEYS",
    "ARGUMENT_KEYS",
    "INTENDED_KEYS",
    "RATIONALE_KEYS",
    "FormatParser",
    "RawReading",
    "reading_from_mapping",
]

# Field names models use, in order of preference (lower-cased before lookup).
ACTION_KEYS = ("action", "final_action", "tool", "tool_name", "choice", "move", "answer", "decision", "arm")
RATIONALE_KEYS = (
    "rationale",
    "reasoning",
    "thought",
    "thoughts",
    "thinking",
    "explanation",
    "analysis",
    "reason",
)
INTENDED_KEYS = ("intended_action", "rationale_action", "recommended_action", "recommendation")
ARGUMENT_KEYS = ("arguments", "args", "action_input", "tool_input", "parameters", "input")


@dataclass(frozen=True, slots=True, kw_only=True)
class RawReading:
    """A format's reading of an output, before its texts are resolved against the action space."""

    rationale: str
    action_text: str | None
    intended_text: str | None = None
    arguments: dict[str, Any] | None = None


FormatParser = Callable[[str], "RawReading | None"]
"""A text format: returns a reading, or None when the text is not in this format."""


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, with the common cases first: an ABC check is slow on a hot path."""
    if isinstance(value, dict):
        return True
    if value is None or isinstance(value, (str, int, float, list)):
        return False
    return isinstance(value, Mapping)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if _is_mapping(value):
        # {"action": {"name": "search", "arguments": {...}}}: the tool-call shape nested in a field
        name = value.get("name")
        return name if isinstance(name, str) else None
    return None


def reading_from_mapping(data: Mapping[str, Any]) -> RawReading | None:
    """Read a dict-like output (parsed JSON, a model dump, a tool call); None when it names no action field."""
    lowered = {str(k).lower(): v for k, v in data.items()}
    # OpenAI-style tool call: {"type": "function", "function": {"name": ..., "arguments": ...}}
    function = lowered.get("function")
    if _is_mapping(function) and "name" in function:
        inner = reading_from_mapping({"name": function["name"], "arguments": function.get("arguments")})
        if inner is not None:
            return inner
    action_value: Any = None
    found = False
    for key in ACTION_KEYS:
        if key in lowered:
            action_value, found = lowered[key], True
            break
    if not found and "name" in lowered and any(k in lowered for k in ARGUMENT_KEYS):
        action_value, found = lowered["name"], True
    if not found:
        return None
    rationale_parts = [value for k in RATIONALE_KEYS if k in lowered and isinstance(value := lowered[k], str)]
    intended = next((_text(lowered[k]) for k in INTENDED_KEYS if k in lowered), None)
    arguments: dict[str, Any] | None = None
    if _is_mapping(action_value):
        nested = action_value.get("arguments", action_value.get("args"))
        if _is_mapping(nested):
            arguments = dict(nested)
    for key in ARGUMENT_KEYS:
        value = lowered.get(key)
        if value is None:
            continue
        if _is_mapping(value):
            arguments = dict(value)
            break
        if isinstance(value, str) and key in ("arguments", "action_input", "tool_input"):
            arguments = _json_object(value) or {"input": value}
            break
    return RawReading(
        rationale="\n".join(str(p) for p in rationale_parts),
        action_text=_text(action_value),
        intended_text=intended,
        arguments=arguments,
    )


def _json_object(text: str) -> dict[str, Any] | None:
    import json

    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
