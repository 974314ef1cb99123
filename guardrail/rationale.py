# INTERIM STUB written by the lead so the package imports; the rationale helper replaces this file wholesale.
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from guardrail.actions import ActionSpace


@dataclass(frozen=True, slots=True, kw_only=True)
class RationaleReading:
    action: str | None
    confidence: float
    evidence: str | None = None
    span: tuple[int, int] | None = None


NO_READING = RationaleReading(action=None, confidence=0.0)


class RationaleReader(Protocol):
    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LexicalReader:
    min_confidence: float = 0.5

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        m = re.search(r"(?:choose|pick|select)\s+(\w+)", rationale, re.I)
        if m and actions.resolve(m.group(1)):
            return RationaleReading(action=actions.resolve(m.group(1)), confidence=0.9, evidence=m.group(0))
        return NO_READING


def read_rationale(rationale, actions, reader=None):
    return (reader or LexicalReader())(rationale, actions)
