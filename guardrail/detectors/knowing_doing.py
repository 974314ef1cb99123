"""The knowing-doing gap: the action contradicts the action the agent's own rationale recommends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guardrail._checks import require_number
from guardrail.detectors.base import KNOWING_DOING_GAP, Finding
from guardrail.exceptions import ConfigurationError
from guardrail.state import StepState

__all__ = ["KnowingDoingGap"]


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowingDoingGap:
    """Fires when both the action and the rationale's action are known and differ.

    Args:
        min_confidence: ignore rationale readings less certain than this (the reader's confidence).
    """

    min_confidence: float = 0.5

    def __post_init__(self) -> None:
        require_number("KnowingDoingGap", "min_confidence", self.min_confidence)
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigurationError(f"min_confidence must be in [0, 1], got {self.min_confidence}")

    def detect(self, state: StepState) -> Sequence[Finding]:
        """One finding when the step acts against its own rationale."""
        decision = state.decision
        if decision.action is None or decision.rationale_action is None:
            return ()
        if decision.action == decision.rationale_action or decision.rationale_confidence < self.min_confidence:
            return ()
        return (
            Finding(
                kind=KNOWING_DOING_GAP,
                score=decision.rationale_confidence,
                detail=(
                    f"the rationale recommends {decision.rationale_action!r} but the action is {decision.action!r}"
                ),
                actions=(decision.action, decision.rationale_action),
                data={"evidence": decision.rationale_evidence},
            ),
        )
