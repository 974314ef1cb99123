"""The paper's format: free reasoning, then ``ACTION=X``; the last match counts."""

from __future__ import annotations

import re

from guardrail.parsing._base import RawReading

__all__ = ["parse_action_eq"]

_ACTION_EQ = re.compile(r"\bACTION\s*[=:]\s*(?P<value>[^\n\r]*)", re.IGNORECASE)
# The greedy prefix makes the engine try from the end backwards: the match found is the last ``ACTION=``
# (two such matches cannot overlap), in one pass however long the reasoning before it.
_LAST = re.compile(r"(?s:.*)(?P<at>\bACTION\s*=)", re.IGNORECASE)


def parse_action_eq(text: str) -> RawReading | None:
    """Read ``...reasoning... ACTION=X``. Returns None when no ``ACTION=`` appears."""
    last = _LAST.match(text)  # the last one counts, as in the paper
    if last is None:
        return None
    start = last.start("at")
    match = _ACTION_EQ.match(text, start)
    value = match.group("value") if match else ""
    return RawReading(rationale=text[:start].strip(), action_text=value.strip())
