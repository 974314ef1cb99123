"""What a detector returns: :class:`Finding`, and the kind names the built-in detectors use.

Plain data at the bottom of the layers, so that exceptions and telemetry can name a finding without importing
the detectors (``guardrail.detectors`` re-exports all of it).
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FREQUENCY_BIAS", "GREEDINESS", "INVALID_ACTION", "KNOWING_DOING_GAP", "UNEXECUTED_INTENT", "Finding"]

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
