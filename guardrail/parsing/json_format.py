"""A JSON object: bare, in a fenced block, or inside prose."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from guardrail.parsing._base import RawReading, reading_from_mapping

__all__ = ["parse_json"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(?P<body>.*?)```", re.S)
_DECODER = json.JSONDecoder()
# Scanning every "{" of a 1 MB output would be quadratic; a real answer has its object among the first few.
_MAX_CANDIDATES = 64
# A string field of an object cut off mid-way (a model that ran out of tokens): "key": "value", escapes kept.
_STRING_FIELD = re.compile(r'"(?P<key>[A-Za-z_]{1,40})"\s{0,8}:\s{0,8}"(?P<value>(?:[^"\\\n]|\\.){0,10000})"')


def _objects(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for fence in _FENCE.finditer(text):
        found.extend(_scan(fence.group("body")))
    found.extend(_scan(text))
    return found


def _scan(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    position = text.find("{")
    tried = 0
    while position != -1 and tried < _MAX_CANDIDATES:
        tried += 1
        try:
            value, end = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError):
            position = text.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        position = text.find("{", end)
    return found


def _cut_off(text: str) -> dict[str, Any]:
    """The string fields of an object that never closes, the first occurrence of each key; the first few only (a
    real answer has a handful), so at most a bounded scan past them."""
    fields: dict[str, Any] = {}
    for match in itertools.islice(_STRING_FIELD.finditer(text, text.find("{")), _MAX_CANDIDATES):
        try:
            fields.setdefault(match.group("key"), json.loads(f'"{match.group("value")}"'))
        except ValueError:
            continue
    return fields


def parse_json(text: str) -> RawReading | None:
    """Read the last JSON object that has an action field; None when there is none.

    An object cut off before it closes (``{"thought": "...", "tool": "x", "arguments": {"q": ...``) is read by its
    string fields, so the rationale is its thought and not the raw text with its fields.
    """
    if "{" not in text:
        return None
    objects = _objects(text)
    if not objects and text.lstrip().startswith(("{", "```")):
        objects = [_cut_off(text)]
    for obj in reversed(objects):
        reading = reading_from_mapping(obj)
        if reading is not None:
            if not reading.rationale:
                # Prose around the object is the rationale when the object carries none.
                start = text.find("{")
                return RawReading(
                    rationale=text[:start].strip(),
                    action_text=reading.action_text,
                    intended_text=reading.intended_text,
                    arguments=reading.arguments,
                )
            return reading
    return None
