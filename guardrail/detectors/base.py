"""The shape every detector has; :class:`Finding` and the kind names live in :mod:`guardrail.findings`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from guardrail.findings import (
    FREQUENCY_BIAS,
    GREEDINESS,
    INVALID_ACTION,
    KNOWING_DOING_GAP,
    UNEXECUTED_INTENT,
    Finding,
)

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
