"""No legal action could be read from the output."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guardrail.detectors.base import INVALID_ACTION, Finding
from guardrail.state import StepState

__all__ = ["InvalidAction"]


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidAction:
    """Fires when the decision has no legal action: none was given, or it is not in the action space."""

    def detect(self, state: StepState) -> Sequence[Finding]:
        """One finding when the action is missing or illegal."""
        decision = state.decision
        if decision.action is not None:
            return ()
        if decision.raw_action:
            shown = decision.raw_action if len(decision.raw_action) <= 60 else decision.raw_action[:57] + "..."
            detail = f"{shown!r} is not a legal action"
        else:
            detail = "no action was found in the output"
        return (
            Finding(
                kind=INVALID_ACTION,
                score=1.0,
                detail=detail,
                data={"raw_action": decision.raw_action, "format": decision.format},
            ),
        )
