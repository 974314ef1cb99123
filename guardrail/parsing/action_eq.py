"""The paper's format: free reasoning, then ``ACTION=X``; the last match counts."""

from __future__ import annotations

import re

from guardrail.parsing._base import RawReading

__all__ = ["parse_action_eq"]

_ACTION_EQ = re.compile(r"\bACTION\s*[=:]\s*(?P<value>[^\n\r]*)", re.IGNORECASE)
_STRICT = re.compile(r"\bACTION\s*=", re.IGNORECASE)


def parse_action_eq(text: str) -> RawReading | None:
    """Read ``...reasoning... ACTION=X``. Returns None when no ``ACTION=`` appears."""
    last = None
    for last in _STRICT.finditer(text):  # noqa: B007 - we want the last match, as the paper does
        pass
    if last is None:
        return None
    match = _ACTION_EQ.match(text, last.start())
    value = match.group("value") if match else ""
    return RawReading(rationale=text[: last.start()].strip(), action_text=value.strip())
