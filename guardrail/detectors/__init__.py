"""Detectors: each looks at one step and returns findings."""

from guardrail.detectors.base import (
    FREQUENCY_BIAS,
    GREEDINESS,
    INVALID_ACTION,
    KNOWING_DOING_GAP,
    UNEXECUTED_INTENT,
    Detector,
    DetectorLike,
    Finding,
)
from guardrail.detectors.frequency import FrequencyBias
from guardrail.detectors.greediness import Greediness
from guardrail.detectors.intent import UnexecutedIntent
from guardrail.detectors.invalid import InvalidAction
from guardrail.detectors.knowing_doing import KnowingDoingGap
from guardrail.detectors.loops import LOOP, LoopPattern, Loops

__all__ = [
    "FREQUENCY_BIAS",
    "GREEDINESS",
    "INVALID_ACTION",
    "KNOWING_DOING_GAP",
    "LOOP",
    "UNEXECUTED_INTENT",
    "Detector",
    "DetectorLike",
    "Finding",
    "FrequencyBias",
    "Greediness",
    "InvalidAction",
    "KnowingDoingGap",
    "LoopPattern",
    "Loops",
    "UnexecutedIntent",
]
