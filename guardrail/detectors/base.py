"""Finding, and the shape every detector has."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from guardrail.state import StepState

__all__ = [
    "FREQUENCY_BIAS",
    "GREEDINESS",
    "INVALID_ACTION",
    "KNOWING_DOING_GAP",
    "UNEXECUTED_INTENT",
    "Detector",
    "DetectorFn",
    "DetectorLike",
    "Finding",
    "detect_fn",
]

KNOWING_DOING_GAP: Final = "knowing_doing_gap"
INVALID_ACTION: Final = "invalid_action"
FREQUENCY_BIAS: Final = "frequency_bias"
GREEDINESS: Final = "greediness"
UNEXECUTED_INTENT: Final = "unexecuted_intent"


class Finding(BaseModel):
    """One detector's verdict on one step.

    ``score`` in [0, 1] is how sure or how severe; ``actions`` are the actions involved (the chosen one
    first); ``data`` holds the figures behind it (frequencies, estimated cost, ...).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    score: float = Field(ge=0.0, le=1.0)
    detail: str
    actions: tuple[str, ...] = ()
    data: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class Detector(Protocol):
    """Looks at one step and returns what is wrong with it (often nothing)."""

    def detect(self, state: StepState) -> Sequence[Finding]:
        """Findings for this step; an empty sequence when all is well."""
        ...


DetectorFn = Callable[["StepState"], Sequence[Finding]]
DetectorLike = Detector | DetectorFn
"""A detector object, or a plain function of the same shape."""


def detect_fn(detector: DetectorLike) -> DetectorFn:
    """The callable behind a detector object or function (resolve once: protocol checks are slow per step)."""
    return detector.detect if isinstance(detector, Detector) else detector
