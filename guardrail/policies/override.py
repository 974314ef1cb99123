"""OverrideToRationale: act on what the rationale recommends."""

from __future__ import annotations

from dataclasses import dataclass

from guardrail.detectors.base import INVALID_ACTION, KNOWING_DOING_GAP
from guardrail.exceptions import ConfigurationError
from guardrail.policies.base import Override
from guardrail.state import StepState

__all__ = ["OverrideToRationale"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OverrideToRationale:
    """Replace the action with the rationale's action when the reading is confident enough.

    Args:
        min_confidence: the rationale reader's confidence needed to override (below it, nothing changes).
        answers: finding kinds it responds to (a gap, and a missing action whose rationale names one).
    """

    min_confidence: float = 0.8
    answers: frozenset[str] | None = frozenset({KNOWING_DOING_GAP, INVALID_ACTION})

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigurationError(f"min_confidence must be in [0, 1], got {self.min_confidence}")

    def correct(self, state: StepState) -> Override | None:
        """Override to the rationale's action, if confident and different."""
        decision = state.decision
        target = decision.rationale_action
        if target is None or target == decision.action or decision.rationale_confidence < self.min_confidence:
            return None
        return Override(
            action=target,
            reason=f"rationale recommends {target!r} (confidence {decision.rationale_confidence:.2f})",
        )
