"""Which action does a rationale recommend?

An agent writes a rationale ("... the highest UCB is blue, so I choose blue.") and then an action. A reader takes
the rationale on its own and says which action of the space it recommends as the next step, if any, so that a
detector can compare the two (the knowing-doing gap). See docs/parsing.md for how the lexical reader reads.

>>> from guardrail.actions import ActionSpace
>>> space = ActionSpace(["red", "green", "blue"])
>>> read_rationale("red: mean 0.40, UCB 1.23; blue: untried, UCB inf. The highest UCB is blue, so I choose blue.",
...                space).action
'blue'
>>> read_rationale("Rather than red, choose green.", space).action
'green'
>>> read_rationale("I am not sure between red and blue.", space).action is None
True
"""

from __future__ import annotations

import dataclasses

from guardrail.actions import ActionSpace
from guardrail.rationale._cascade import CascadeReader, CascadeStats, JudgeBase, JudgeQuestion
from guardrail.rationale._lexical import LexicalReader
from guardrail.rationale._reading import NO_READING, RationaleReader, RationaleReading

__all__ = [
    "NO_READING",
    "CascadeReader",
    "CascadeStats",
    "JudgeBase",
    "JudgeQuestion",
    "LexicalReader",
    "RationaleReader",
    "RationaleReading",
    "read_rationale",
]

_DEFAULT_READER = LexicalReader()


def read_rationale(rationale: str, actions: ActionSpace, reader: RationaleReader | None = None) -> RationaleReading:
    """Which action ``rationale`` recommends, by ``reader`` (default: :class:`LexicalReader`).

    Never raises on any text; the reading's action is always in ``actions`` or None (a reader that answers
    outside the space is read as :data:`NO_READING`).
    """
    text: object = rationale  # typed str, but never raise on anything else
    if not isinstance(text, str) or not text:
        return NO_READING
    space = ActionSpace.of(actions)
    reading = (reader or _DEFAULT_READER)(rationale, space)
    if reading.action is not None and reading.action not in space:
        return dataclasses.replace(NO_READING, judge_calls=reading.judge_calls)  # the calls were still spent
    return reading
