"""The paper's format: free reasoning, then ``ACTION=X``; the last match counts."""

from __future__ import annotations

import re

from guardrail.parsing._base import RawReading

__all__ = ["parse_action_eq"]

_ACTION_EQ = re.compile(r"\bACTION\s*[=:]\s*(?P<value>[^\n\r]*)", re.IGNORECASE)
_EQUALS = re.compile(r"\s*=")


_CHUNK = 1 << 16


def _last_action_eq(text: str) -> int | None:
    """Where the last ``ACTION=`` (``\\bACTION\\s*=``, any case) begins, or None.

    Searched backwards for the word ACTION in ASCII-folded chunks of the text (one byte per character, so
    positions are the text's), each candidate checked once: linear in the text however it is made (no regex
    backtracking), and no copy of a long text (the answer is nearly always in the last chunk).
    """
    end = len(text)
    while end > 0:
        start = max(0, end - _CHUNK)
        folded = text[start:end].encode("ascii", "replace").upper()
        stop = len(folded)
        while (found := folded.rfind(b"ACTION", 0, stop)) != -1:
            at = start + found
            before = text[at - 1] if at else ""
            if not (before.isalnum() or before == "_") and _EQUALS.match(text, at + 6):
                return at
            stop = found + 5  # the next candidate starts before this one
        if start == 0:
            return None
        end = start + 5  # a word cut by the chunk's start is searched whole in the next chunk
    return None


def parse_action_eq(text: str) -> RawReading | None:
    """Read ``...reasoning... ACTION=X``. Returns None when no ``ACTION=`` appears."""
    start = _last_action_eq(text)  # the last one counts, as in the paper
    if start is None:
        return None
    match = _ACTION_EQ.match(text, start)
    value = match.group("value") if match else ""
    return RawReading(rationale=text[:start].strip(), action_text=value.strip())
