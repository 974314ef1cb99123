"""The paper's format: free reasoning, then ``ACTION=X``; the last match counts."""

from __future__ import annotations

import re

from guardrail.parsing._base import RawReading

__all__ = ["parse_action_eq"]

_ACTION_EQ = re.compile(r"\bACTION\s*[=:]\s*(?P<value>[^\n\r]*)", re.IGNORECASE)
_EQUALS = re.compile(r"\s*=")


def _last_action_eq(text: str) -> int | None:
    """Where the last ``ACTION=`` (``\\bACTION\\s*=``, any case) begins, or None.

    Searched backwards for the word ACTION in an ASCII-folded copy (one byte per character, so positions are the
    text's), each candidate checked once: linear in the text, however it is made (no regex backtracking).
    """
    folded = text.encode("ascii", "replace").upper()
    end = len(folded)
    while (at := folded.rfind(b"ACTION", 0, end)) != -1:
        before = text[at - 1] if at else ""
        if not (before.isalnum() or before == "_") and _EQUALS.match(text, at + 6):
            return at
        end = at + 5  # the next candidate starts before this one
    return None


def parse_action_eq(text: str) -> RawReading | None:
    """Read ``...reasoning... ACTION=X``. Returns None when no ``ACTION=`` appears."""
    start = _last_action_eq(text)  # the last one counts, as in the paper
    if start is None:
        return None
    match = _ACTION_EQ.match(text, start)
    value = match.group("value") if match else ""
    return RawReading(rationale=text[:start].strip(), action_text=value.strip())
