"""The telemetry schema: one :class:`StepEvent` per guarded step, one :class:`RewardEvent` per reward.

The schema is versioned (``schema_version``); readers accept every version listed in
:data:`SUPPORTED_SCHEMA_VERSIONS`. Add fields with defaults; never rename or remove one without a new version.

Compatibility rules (schema version 1):

- A new *optional* field (with a default) keeps the version: old readers ignore it (``extra="ignore"``), new
  readers fill the default into old lines. ``tests/telemetry/data/events-v1.jsonl`` pins what v1 lines look like.
- Renaming, removing or changing the meaning of a field bumps ``SCHEMA_VERSION`` to 2. The v2 reader then keeps
  reading v1 lines by adding 1 to :data:`SUPPORTED_SCHEMA_VERSIONS` and registering an upgrade in
  :data:`UPGRADES` (``UPGRADES[1]`` maps a v1 dict to a v2 dict before validation), so both the validating reader
  (:func:`guardrail.telemetry.read_events`) and the fast summariser see v2 shapes only.

The JSON Schema of both events is :func:`json_schema` (committed as ``docs/telemetry-schema.json``;
``scripts/export_schema.py`` regenerates it).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from guardrail.exceptions import ConfigurationError

__all__ = [
    "SCHEMA_VERSION",
    "SUPPORTED_SCHEMA_VERSIONS",
    "UPGRADES",
    "CorrectionKind",
    "CorrectionRecord",
    "Event",
    "EventAdapter",
    "FindingRecord",
    "Redaction",
    "RewardEvent",
    "StepEvent",
    "StepStatus",
    "json_schema",
    "new_event_id",
    "schema_text",
    "upgrade",
]

SCHEMA_VERSION: Final = 1
SUPPORTED_SCHEMA_VERSIONS: Final = frozenset({1})

UPGRADES: Final[Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}
"""``UPGRADES[v]`` turns an event dict of schema version ``v`` into one of version ``v + 1`` (none yet)."""


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """An event dict brought to :data:`SCHEMA_VERSION` through :data:`UPGRADES` (unchanged for v1)."""
    version = data.get("schema_version", SCHEMA_VERSION)
    while isinstance(version, int) and version < SCHEMA_VERSION and version in UPGRADES:
        data = UPGRADES[version](data)
        version = data.get("schema_version", version + 1)
    return data


CorrectionKind = Literal["reask", "override", "explore", "vote", "fallback"]
StepStatus = Literal["ok", "no_legal_action", "agent_error"]


_UUID4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)


# Event ids need to be unique, not secret: a generator seeded from os.urandom (again in every forked child, so
# two processes never share a sequence) costs a third of an os.urandom call per id. Private, so that a user's
# random.seed() cannot make two runs write the same ids.
_IDS: Final = random.Random()
if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork to share the sequence with
    os.register_at_fork(after_in_child=_IDS.seed)


def new_event_id() -> str:
    """A random event id: a version-4 UUID in hex, as ``uuid.uuid4().hex`` writes it (122 random bits)."""
    return f"{(_IDS.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET:032x}"


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
    """The telemetry record of one guarded step.

    Emitted when the step ends, so ``timestamp`` is the step's end; it began
    ``agent_latency_s + guard_latency_s`` seconds earlier. ``parsed_action``, ``rationale_action`` and
    ``rationale_confidence`` describe the agent's *first* answer; ``final_rationale_action`` its last;
    ``final_action`` is what was executed. ``policies`` names the guard's configured policy chain (empty when
    none, or when the writer predates the field).
    """

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
    policies: tuple[str, ...] = ()

    @classmethod
    def _of_typed_fields(cls, fields: dict[str, Any]) -> StepEvent:
        """The event of ``fields``, which give every field, each already of its declared type; not validated.

        The guard builds one event per step from values it has typed itself (its records are validated models),
        and validating them again cost a tenth of a step (docs/performance.md). tests/telemetry/test_event_build.py
        checks that the events the guard builds this way validate to themselves.
        """
        # A count catches a field added to or removed from the schema but not to the guard (the tests check the
        # names the guard gives); comparing the names themselves would cost more than the rest of this method.
        if len(fields) != len(_STEP_FIELDS):
            missing = sorted(_STEP_FIELDS - fields.keys())
            unknown = sorted(fields.keys() - _STEP_FIELDS)
            raise ConfigurationError(f"StepEvent fields: missing {missing}, unknown {unknown}")
        event = cls.__new__(cls)
        _set = object.__setattr__  # the model is frozen: set what model_construct sets, as it does
        _set(event, "__dict__", fields)
        _set(event, "__pydantic_fields_set__", _STEP_FIELD_SET.copy())
        _set(event, "__pydantic_extra__", None)
        _set(event, "__pydantic_private__", None)
        return event

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


_STEP_FIELDS: Final = frozenset(StepEvent.model_fields)
_STEP_FIELD_SET: Final = set(_STEP_FIELDS)  # copied into each event as the fields it was given (all of them)


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


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one telemetry line (a step or a reward event), for schema version 1."""
    schema = EventAdapter.json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:guardrail:telemetry:v{SCHEMA_VERSION}",
        "title": f"guardrail telemetry event (schema_version {SCHEMA_VERSION})",
        "description": (
            "One JSON object per line of a guardrail JSONL telemetry file. Fields whose value is null are "
            "omitted when written; readers fill in the defaults."
        ),
        **schema,
    }


def schema_text() -> str:
    """:func:`json_schema` as the exact text committed to ``docs/telemetry-schema.json``."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class Redaction:
    """How much of the agent's raw output and rationale is written to telemetry.

    ``mode``: ``"full"``; ``"truncate"`` to ``max_chars`` (the default, 500); ``"sha256"`` (a digest, so equal
    texts can still be matched); ``"none"`` (nothing).

    The guard applies it to ``raw``, ``rationale`` and the text quoted in findings (:meth:`finding`, e.g. the
    knowing-doing detector's rationale evidence). Action names, finding details and error messages are not
    agent prose and are kept.

    >>> Redaction(max_chars=5)("Blue is best")
    'Blue …[+7 chars]'
    >>> Redaction(mode="sha256")("x")[:15]
    'sha256:2d711642'
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

    def finding(self, record: FindingRecord) -> FindingRecord:
        """The finding with the text values of its ``data`` redacted (numbers and actions kept)."""
        if self.mode == "full" or not any(isinstance(v, str) for v in record.data.values()):
            return record
        data = {k: self(v) if isinstance(v, str) else v for k, v in record.data.items()}
        redacted = {k: v for k, v in data.items() if v is not None}
        if redacted == record.data:  # short labels such as a reason survive truncation: no copy needed
            return record
        return record.model_copy(update={"data": redacted})
