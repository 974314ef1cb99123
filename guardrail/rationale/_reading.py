"""What a reader returns, and the contract every reader keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

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
        confidence: object = self.confidence  # checked at run time: custom readers build readings too
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.0 <= confidence <= 1.0:
            raise ConfigurationError(f"confidence must be a number in [0, 1]; got {self.confidence!r}")
        if self.action is None and self.confidence != 0.0:
            raise ConfigurationError(f"a reading without an action has confidence 0; got {self.confidence!r}")
        calls: object = self.judge_calls
        if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
            raise ConfigurationError(f"judge_calls must be a whole number >= 0; got {self.judge_calls!r}")


NO_READING: Final = RationaleReading(action=None, confidence=0.0)
"""The reading of a rationale that recommends nothing (or nothing the reader can tell)."""


class RationaleReader(Protocol):
    """Anything that tells which action a rationale recommends: a callable ``(rationale, actions)``."""

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Read ``rationale`` against ``actions``; return :data:`NO_READING` when it recommends nothing."""
        ...
