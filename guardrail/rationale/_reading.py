"""What a reader returns, and the contract every reader keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from guardrail._checks import require_int, require_number
from guardrail.actions import ActionSpace
from guardrail.exceptions import ConfigurationError

__all__ = ["NO_READING", "RationaleReader", "RationaleReading"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RationaleReading:
    """What a rationale recommends.

    Attributes:
        action: the canonical name of the recommended action (always in the space), or None.
        confidence: how sure the reader is, in [0, 1]; 0.0 when ``action`` is None.
        evidence: the text span that decided it (for telemetry and re-ask feedback).
        span: ``(start, end)`` offsets of ``evidence`` in the rationale.
        judge_calls: how many judge-model calls this reading cost (0 for the lexical reader and cache hits).
    """

    action: str | None
    confidence: float
    evidence: str | None = None
    span: tuple[int, int] | None = None
    judge_calls: int = 0

    def __post_init__(self) -> None:
        # checked at run time: custom readers build readings too
        require_number("RationaleReading", "confidence", self.confidence, least=0, most=1)
        if self.action is None and self.confidence != 0.0:
            raise ConfigurationError(f"a reading without an action has confidence 0; got {self.confidence!r}")
        require_int("RationaleReading", "judge_calls", self.judge_calls)


NO_READING: Final = RationaleReading(action=None, confidence=0.0)
"""The reading of a rationale that recommends nothing (or nothing the reader can tell)."""


class RationaleReader(Protocol):
    """Anything that tells which action a rationale recommends: a callable ``(rationale, actions)``."""

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Read ``rationale`` against ``actions``; return :data:`NO_READING` when it recommends nothing."""
        ...
