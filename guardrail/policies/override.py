"""OverrideToRationale: act on what the rationale recommends, never emitting a call its tool would reject."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from guardrail._checks import require_int
from guardrail.arguments import argument_errors, carried_arguments
from guardrail.detectors.base import INVALID_ACTION, KNOWING_DOING_GAP
from guardrail.exceptions import ConfigurationError
from guardrail.policies.base import Override, ReAskRequest, Skip
from guardrail.state import StepState

__all__ = ["MissingArgs", "OverrideToRationale"]

MissingArgs = Literal["reask", "keep"]
"""What :class:`OverrideToRationale` does when the rationale's tool needs arguments the call does not give."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OverrideToRationale:
    """Replace the action with the rationale's action when the reading is confident enough.

    When the action space declares an argument schema for the rationale's action (``ActionSpace(schemas=...)``,
    filled from the tools by the adapters) and the step's arguments do not fit it (a required argument missing,
    a wrong type), renaming the call would emit a call its tool rejects. Then, by ``on_missing_args``:

    - ``"reask"`` (default): ask the agent again, naming the tool and the arguments it needs (at most
      ``max_reasks`` times in a step, within the call budget); once those are spent, as ``"keep"``;
    - ``"keep"``: leave the call as it is, and record why (an unapplied ``override`` correction).

    Args:
        min_confidence: the rationale reader's confidence needed to override (below it, nothing changes).
        answers: finding kinds it responds to (a gap, and a missing action whose rationale names one).
        on_missing_args: ``"reask"`` or ``"keep"``, see above.
        max_reasks: re-asks per step for missing arguments (``on_missing_args="reask"``).
    """

    min_confidence: float = 0.8
    answers: frozenset[str] | None = frozenset({KNOWING_DOING_GAP, INVALID_ACTION})
    on_missing_args: MissingArgs = "reask"
    max_reasks: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigurationError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        if self.on_missing_args not in ("reask", "keep"):
            raise ConfigurationError(f"on_missing_args must be 'reask' or 'keep', got {self.on_missing_args!r}")
        require_int("OverrideToRationale", "max_reasks", self.max_reasks)

    def correct(self, state: StepState) -> Override | ReAskRequest | Skip | None:
        """Override to the rationale's action, if confident, different and callable with the step's arguments."""
        decision = state.decision
        target = decision.rationale_action
        if target is None or target == decision.action or decision.rationale_confidence < self.min_confidence:
            return None
        schema = state.actions.schemas.get(target)
        errors = argument_errors(carried_arguments(decision.arguments, schema), schema)
        if not errors:
            return Override(
                action=target,
                reason=f"rationale recommends {target!r} (confidence {decision.rationale_confidence:.2f})",
            )
        needs = "; ".join(errors)
        called = f"called {decision.action!r}" if decision.action is not None else "made no valid call"
        if self.on_missing_args == "reask" and state.attempt <= self.max_reasks and state.budget.can_call():
            return ReAskRequest(
                feedback=(
                    f"Your reasoning recommends {target!r}, but you {called}. To call {target!r}, give the "
                    f"arguments it needs ({needs}): call {target!r} with them."
                )
            )
        return Skip(kind="override", reason=f"kept the call: {target!r} needs arguments the call lacks ({needs})")
