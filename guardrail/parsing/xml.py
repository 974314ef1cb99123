"""XML-style tags: ``<rationale>...</rationale><action>...</action>``; tolerant of truncation."""

from __future__ import annotations

import re

from guardrail.parsing._base import RawReading

__all__ = ["parse_xml"]

_RATIONALE_TAGS = ("rationale", "reasoning", "thinking", "thought", "think", "analysis")


def _tag(name: str) -> re.Pattern[str]:
    # The closing tag may be missing when the output was cut off: then the value runs to the end of its line.
    # Attributes stop at the next "<" as well as at ">": an unclosed "<action xxx" then costs the distance to the
    # next tag, not to the end of the text (with [^>]* a run of unclosed tags was quadratic: 11.7 s at 100 KB).
    return re.compile(rf"<{name}(?:\s[^<>]*)?>(?P<value>.*?)(?:</{name}\s*>|\Z)", re.I | re.S)


_ACTION = _tag("action")
_INTENDED = _tag("intended_action")
_RATIONALES = [_tag(name) for name in _RATIONALE_TAGS]


def _last(pattern: re.Pattern[str], text: str) -> str | None:
    value = None
    for match in pattern.finditer(text):
        value = match.group("value")
    return value


def parse_xml(text: str) -> RawReading | None:
    """Read tagged output. Returns None when there is no ``<action>`` tag."""
    if "<" not in text:
        return None
    action = _last(_ACTION, text)
    if action is None:
        return None
    if "</action" not in action.lower() and "\n" in action.strip():
        action = action.strip().splitlines()[0]  # truncated: take the first line only
    rationale = next((v for p in _RATIONALES if (v := _last(p, text)) is not None), None)
    if rationale is None:  # untagged reasoning before the action tag
        rationale = text[: text.lower().rfind("<action")]
    return RawReading(
        rationale=rationale.strip(),
        action_text=action.strip(),
        intended_text=(_last(_INTENDED, text) or "").strip() or None,
    )
