"""The shape every detector has; :class:`Finding` and the kind names live in :mod:`guardrail.findings`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from guardrail.exceptions import ConfigurationError
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
    "checked_detectors",
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


def checked_detectors(detectors: object) -> tuple[DetectorLike, ...]:
    """``Guard(detectors=...)`` checked: a list of detector objects or functions (not classes, not names)."""
    if not isinstance(detectors, (list, tuple)):
        raise ConfigurationError(f"detectors must be a list of detectors, got {detectors!r}")
    for detector in detectors:
        if isinstance(detector, type):
            name = detector.__name__
            raise ConfigurationError(f"detectors: {name} is a class, not a detector; did you mean {name}()?")
        if isinstance(detector, str):
            raise ConfigurationError(
                f"detectors: {detector!r} is a string; give a detector object, e.g. KnowingDoingGap()"
            )
        if not (isinstance(detector, Detector) or callable(detector)):
            raise ConfigurationError(f"{detector!r} is not a detector (needs detect(state) or to be callable)")
    return tuple(detectors)
