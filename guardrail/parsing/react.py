"""ReAct: ``Thought: ...`` / ``Action: X`` / ``Action Input: ...``."""

from __future__ import annotations

import re

from guardrail.parsing._base import RawReading, _json_object

__all__ = ["parse_react"]

_ACTION_LINE = re.compile(r"^[ \t]*(?:\*\*)?Action(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*(?P<value>[^\n\r]*)", re.M | re.I)
_INPUT_LINE = re.compile(r"^[ \t]*(?:\*\*)?Action[ \t_]Input(?:\*\*)?[ \t]*:[ \t]*(?P<value>.*)", re.M | re.I | re.S)
_THOUGHT = re.compile(r"^[ \t]*(?:\*\*)?Thought(?:\*\*)?[ \t]*:[ \t]*", re.M | re.I)


def parse_react(text: str) -> RawReading | None:
    """Read a ReAct step. The last ``Action:`` line is the action; the text before it is the rationale."""
    last = None
    for last in _ACTION_LINE.finditer(text):  # noqa: B007 - the last Action line counts
        pass
    if last is None:
        return None
    rationale = _THOUGHT.sub("", text[: last.start()]).strip()
    arguments = None
    tail = _INPUT_LINE.search(text, last.end())
    if tail is not None:
        raw_input = tail.group("value").strip().split("\nObservation:")[0].strip()
        arguments = _json_object(raw_input) or ({"input": raw_input} if raw_input else None)
    return RawReading(rationale=rationale, action_text=last.group("value").strip(), arguments=arguments)
