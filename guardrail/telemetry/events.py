"""The telemetry schema: one :class:`StepEvent` per guarded step, one :class:`RewardEvent` per reward.

The schema is versioned (``schema_version``); readers accept every version listed in
:data:`SUPPORTED_SCHEMA_VERSIONS`. Add fields with defaults; never rename or remove one without a new version.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from guardrail.exceptions import ConfigurationError

__all__ = [
    "SCHEMA_VERSION",
    "SUPPORTED_SCHEMA_VERSIONS",
    "CorrectionKind",
    "CorrectionRecord",
    "Event",
    "EventAdapter",
    "FindingRecord",
    "Redaction",
    "RewardEvent",
    "StepEvent",
    "new_event_id",
]

SCHEMA_VERSION: Final = 1
SUPPORTED_SCHEMA_VERSIONS: Final = frozenset({1})

CorrectionKind = Literal["reask", "override", "explore", "vote", "fallback"]
StepStatus = Literal["ok", "no_legal_action", "agent_error"]


def new_event_id() -> str:
    """A random event id (uuid4, hex)."""
    return uuid.uuid4().hex


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class FindingRecord(_Record):
    """A finding as logged: which attempt raised it and whether the budget stopped a policy answering it."""

    kind: str
    score: float
    detail: str
    actions: tuple[str, ...] = ()
    data: dict[str, Any] = Field(default_factory=dict)
    attempt: int = 1
    budget_exhausted: bool = False


class CorrectionRecord(_Record):
    """One policy's correction: what it changed, why, and what it cost.

    ``applied`` is False for a shadow correction (``Observe``) or one a spent budget stopped.
    """

    policy: str
    kind: CorrectionKind
    from_action: str | None = None
    to_action: str | None = None
    attempts: int = 1
    reason: str = ""
    applied: bool = True


class StepEvent(_Record):
    """The telemetry record of one guarded step."""

    schema_version: int = SCHEMA_VERSION
    type: Literal["step"] = "step"
    event_id: str = Field(default_factory=new_event_id)
    run_id: str
    episode: str
    step: int
    timestamp: float = Field(default_factory=time.time)
    status: StepStatus = "ok"
    agent: str | None = None
    format: str | None = None
    raw: str | None = None
    rationale: str | None = None
    raw_action: str | None = None
    parsed_action: str | None = None
    rationale_action: str | None = None
    rationale_confidence: float = 0.0
    final_rationale_action: str | None = None
    findings: tuple[FindingRecord, ...] = ()
    corrections: tuple[CorrectionRecord, ...] = ()
    final_action: str | None = None
    agent_calls: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    agent_latency_s: float = 0.0
    guard_latency_s: float = 0.0
    coverage: float | None = None
    counts: dict[str, int] | None = None
    error: str | None = None
    agent_errors: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool | None:
        """Whether the executed action is the one the final answer's rationale recommends (None: unknown)."""
        if self.final_action is None or self.final_rationale_action is None:
            return None
        return self.final_action == self.final_rationale_action

    @property
    def intervened(self) -> bool:
        """Whether any applied correction changed the step (a re-ask or a changed action)."""
        return any(c.applied for c in self.corrections)

    @property
    def kinds(self) -> frozenset[str]:
        """The finding kinds raised on this step."""
        return frozenset(f.kind for f in self.findings)


class RewardEvent(_Record):
    """A reward recorded for an earlier step."""

    schema_version: int = SCHEMA_VERSION
    type: Literal["reward"] = "reward"
    event_id: str = Field(default_factory=new_event_id)
    run_id: str
    episode: str
    step: int
    timestamp: float = Field(default_factory=time.time)
    reward: float


Event = Annotated[StepEvent | RewardEvent, Field(discriminator="type")]
EventAdapter: TypeAdapter[StepEvent | RewardEvent] = TypeAdapter(Event)


@dataclass(frozen=True, slots=True, kw_only=True)
class Redaction:
    """How much of the agent's raw output and rationale is written to telemetry.

    ``mode``: ``"full"``; ``"truncate"`` to ``max_chars`` (the default, 500); ``"sha256"`` (a digest, so equal
    texts can still be matched); ``"none"`` (nothing).
    """

    mode: Literal["full", "truncate", "sha256", "none"] = "truncate"
    max_chars: int = 500

    def __post_init__(self) -> None:
        if self.mode not in ("full", "truncate", "sha256", "none"):
            raise ConfigurationError(f"redaction mode must be full, truncate, sha256 or none; got {self.mode!r}")
        if self.max_chars < 0:
            raise ConfigurationError(f"max_chars must be >= 0, got {self.max_chars}")

    def __call__(self, text: str | None) -> str | None:
        """The text as it may be logged."""
        if text is None or self.mode == "full":
            return text
        if self.mode == "none":
            return None
        if self.mode == "sha256":
            return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        if len(text) <= self.max_chars:
            return text
        return text[: self.max_chars] + f"…[+{len(text) - self.max_chars} chars]"
