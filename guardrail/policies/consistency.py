"""SelfConsistency: sample the agent several times and take the majority action."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from guardrail._checks import require_number
from guardrail.decision import Decision
from guardrail.detectors.base import INVALID_ACTION, KNOWING_DOING_GAP
from guardrail.exceptions import ConfigurationError
from guardrail.policies.base import SampleRequest
from guardrail.state import StepState

__all__ = ["SelfConsistency", "majority_vote"]


def majority_vote(decisions: Sequence[Decision], *, prefer: str | None = None) -> str | None:
    """The most common legal action; ties go to ``prefer`` (the rationale's action), then to the earliest."""
    votes = Counter(d.action for d in decisions if d.action is not None)
    if not votes:
        return None
    top = max(votes.values())
    tied = [action for action, n in votes.items() if n == top]  # Counter keeps first-seen order
    if prefer in tied:
        return prefer
    return tied[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class SelfConsistency:
    """Ask the agent ``samples - 1`` more times with the same prompt and vote (the paper used 16; docs/background.md).

    Args:
        samples: total answers voted over, the first included.
        answers: finding kinds that trigger sampling; None samples on every step (costly).
    """

    samples: int = 5
    answers: frozenset[str] | None = frozenset({KNOWING_DOING_GAP, INVALID_ACTION})

    def __post_init__(self) -> None:
        require_number("SelfConsistency", "samples", self.samples, integer=True)
        if self.samples < 2:
            raise ConfigurationError(f"SelfConsistency(samples) must be >= 2, got {self.samples}")

    def correct(self, state: StepState) -> SampleRequest | None:
        """Request the extra samples."""
        return SampleRequest(n=self.samples - 1, policy_reason=f"majority of {self.samples} samples")
