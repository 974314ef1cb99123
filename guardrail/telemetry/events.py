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
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from guardrail.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_SCRUBBERS",
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
    "Scrubber",
    "StepEvent",
    "StepStatus",
    "json_schema",
    "new_event_id",
    "schema_text",
    "step_event",
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
StepStatus = Literal["ok", "no_legal_action", "agent_error", "stopped"]


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
    ``final_action`` is what was executed. ``agent_calls`` counts calls of the agent; ``judge_calls`` those of a
    judge model that read its rationales (a :class:`~guardrail.CascadeReader`), apart. ``policies`` names the
    guard's configured policy chain (empty when none, or when the writer predates the field).
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
    judge_calls: int = 0
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


@dataclass(frozen=True, slots=True)
class Scrubber:
    """One kind of secret to mask in the text telemetry keeps: a pattern and what replaces each match.

    The pattern must run in linear time (no nested unbounded quantifiers; bound every repeat, as the defaults do).
    ``group`` names the part of the match to replace (0: all of it), so a pattern can keep a label such as
    ``password=`` and mask only the value. ``triggers``: substrings of which at least one is in every match
    (compared lower-cased when ``flags`` has ``re.IGNORECASE``); text holding none of them is not searched,
    which keeps the common case (no secret at all) at a few substring checks.

    >>> Scrubber("ticket", r"\\bTICKET-\\d{4,12}\\b", triggers=("TICKET-",))("see TICKET-12345")
    'see [redacted:ticket]'
    """

    name: str
    pattern: str | re.Pattern[str]
    group: int = 0
    flags: int = 0
    triggers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        compiled = re.compile(self.pattern, self.flags) if isinstance(self.pattern, str) else self.pattern
        object.__setattr__(self, "pattern", compiled)
        if not 0 <= self.group <= compiled.groups:
            raise ConfigurationError(f"scrubber {self.name!r}: group {self.group!r} is not a group of its pattern")
        if compiled.flags & re.IGNORECASE:
            object.__setattr__(self, "triggers", tuple(t.lower() for t in self.triggers))

    @property
    def replacement(self) -> str:
        """What a match (or its ``group``) becomes."""
        return f"[redacted:{self.name}]"

    def __call__(self, text: str) -> str:
        """``text`` with every match masked."""
        pattern = cast(re.Pattern[str], self.pattern)
        if self.triggers:
            haystack = text.lower() if pattern.flags & re.IGNORECASE else text
            for trigger in self.triggers:
                if trigger in haystack:
                    break
            else:
                return text
        if self.group == 0:
            return pattern.sub(self.replacement, text)
        group, replacement = self.group, self.replacement

        def mask(match: re.Match[str]) -> str:
            whole, start = match.group(0), match.start(0)
            return whole[: match.start(group) - start] + replacement + whole[match.end(group) - start :]

        return pattern.sub(mask, text)


_EMAIL_LOCAL_PART: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")


def _is_word(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] == "_")


@dataclass(frozen=True, slots=True)
class _EmailScrubber(Scrubber):
    """Email addresses (``\\b[A-Za-z0-9._%+-]{1,64}@`` then a domain), found from their ``@``.

    ``pattern`` is the domain with its ``@``; the local part is read backwards from the ``@``. A regex for the whole
    address would be tried at every start position and read up to 64 characters there: 64 steps per character of
    a run such as ``"x." * n``. Masks exactly what that regex's ``sub`` masks.
    """

    def __call__(self, text: str) -> str:
        """``text`` with every email address masked."""
        if "@" not in text:
            return text
        pieces: list[str] = []
        kept = 0  # text[:kept] is done; a local part never reaches back into an address already masked
        for match in cast(re.Pattern[str], self.pattern).finditer(text):
            at = start = match.start()
            while start > max(kept, at - 64) and text[start - 1] in _EMAIL_LOCAL_PART:
                start -= 1
            while start < at and _is_word(text, start - 1) == _is_word(text, start):  # \b: the leftmost start
                start += 1
            if start < at:
                pieces += (text[kept:start], self.replacement)
                kept = match.end()
        return "".join(pieces) + text[kept:] if pieces else text


_KEY_NAMES = (
    r"password|passwd|pwd|secret|client[_-]?secret|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|"
    r"access[_-]?token|auth[_-]?token|refresh[_-]?token|private[_-]?key"
)

DEFAULT_SCRUBBERS: Final[tuple[Scrubber, ...]] = (
    Scrubber(  # the body is base64 and newlines: it stops at the next "-", so runs of BEGIN lines stay linear
        "private_key",
        r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[^-]{0,8192}(?:-----END [A-Z ]{0,40}PRIVATE KEY-----)?",
        triggers=("-----BEGIN",),
    ),
    Scrubber(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{8,4096}\.[A-Za-z0-9_-]{0,4096}",
        triggers=("eyJ",),
    ),
    Scrubber("api_key", r"\b[spr]k-[A-Za-z0-9_-]{16,256}", triggers=("k-",)),  # OpenAI, Anthropic (sk-ant-)
    Scrubber("api_key", r"\b[spr]k_(?:live|test)_[A-Za-z0-9]{16,256}", triggers=("k_",)),  # Stripe
    Scrubber("api_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", triggers=("AKIA", "ASIA")),  # AWS access key id
    Scrubber(
        "api_key",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{30,255})",
        triggers=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    Scrubber("api_key", r"\bxox[abprse]-[A-Za-z0-9-]{10,255}", triggers=("xox",)),  # Slack
    Scrubber("api_key", r"\bAIza[0-9A-Za-z_-]{35}", triggers=("AIza",)),  # Google
    Scrubber("bearer", r"\b[Bb]earer[ \t]{1,8}([A-Za-z0-9._~+/-]{16,4096}=*)", group=1, triggers=("earer",)),
    Scrubber(
        "secret",
        rf"\b(?:{_KEY_NAMES})[\"']?[ \t]{{0,8}}[:=][ \t]{{0,8}}[\"']?([^\s\"',;]{{1,512}})",
        group=1,
        flags=re.IGNORECASE,
        triggers=("pass", "pwd", "secret", "key", "token"),
    ),
    _EmailScrubber("email", r"@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}\b", triggers=("@",)),
)
"""What :class:`Redaction` masks by default in the text it keeps, in the manner of Sentry's default PII scrubbing:
private key blocks, JWTs, API keys (OpenAI/Anthropic ``sk-``, Stripe, AWS, GitHub, Slack, Google), bearer
tokens, the values of ``password=`` / ``api_key:`` / ``secret=`` style pairs, and email addresses."""

_SCRUB_MARGIN: Final = 4096
"""Text scrubbed beyond the ``max_chars`` kept, so a secret that straddles the cut is masked whole."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Redaction:
    """How much of the agent's text is written to telemetry, and which secrets in it are masked.

    ``mode``: ``"full"``; ``"truncate"`` to ``max_chars`` (the default, 500); ``"sha256"`` (a digest, so equal
    texts can still be matched); ``"none"`` (nothing).

    The guard applies it to every field of a step event that can carry text the agent wrote or that was built
    from it: ``raw``, ``rationale``, ``raw_action``, the ``detail`` and text ``data`` of findings, the ``reason`` of
    corrections (a re-ask's feedback quotes the agent), ``error`` and ``agent_errors`` (an agent's exception
    message may quote its output; the exception's type name is kept). tests/telemetry/test_redaction.py walks
    the event schema and fails on a text field that escapes it. Ids, action names, finding kinds and policy
    names are not agent text and are kept.

    ``scrubbers`` mask secrets in whatever is kept (modes ``"full"`` and ``"truncate"``): by default
    :data:`DEFAULT_SCRUBBERS` (emails and common API keys and tokens); ``()`` turns masking off; add your own
    :class:`Scrubber` or any ``str -> str`` function.

    >>> Redaction(max_chars=5)("Blue is best")
    'Blue …[+7 chars]'
    >>> Redaction(mode="sha256")("x")[:15]
    'sha256:2d711642'
    >>> Redaction()("mail me at ada@example.com")
    'mail me at [redacted:email]'
    """

    mode: Literal["full", "truncate", "sha256", "none"] = "truncate"
    max_chars: int = 500
    scrubbers: tuple[Callable[[str], str], ...] = DEFAULT_SCRUBBERS
    _triggers: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _folded: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _always: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        if self.mode not in ("full", "truncate", "sha256", "none"):
            raise ConfigurationError(f"redaction mode must be full, truncate, sha256 or none; got {self.mode!r}")
        if self.max_chars < 0:
            raise ConfigurationError(f"max_chars must be >= 0, got {self.max_chars}")
        scrubbers = tuple(self.scrubbers)
        for scrubber in scrubbers:
            if not callable(scrubber):
                raise ConfigurationError(f"a scrubber must be a Scrubber or a str -> str function, got {scrubber!r}")
        object.__setattr__(self, "scrubbers", scrubbers)
        # One pass of substring checks decides whether any scrubber can match (the common case: none can).
        triggers: list[str] = []
        folded: list[str] = []
        for scrubber in scrubbers:
            if not isinstance(scrubber, Scrubber) or not scrubber.triggers:
                object.__setattr__(self, "_always", True)
                break
            pattern = cast(re.Pattern[str], scrubber.pattern)
            (folded if pattern.flags & re.IGNORECASE else triggers).extend(scrubber.triggers)
        object.__setattr__(self, "_triggers", tuple(dict.fromkeys(triggers)))
        object.__setattr__(self, "_folded", tuple(dict.fromkeys(folded)))

    def __call__(self, text: str | None) -> str | None:
        """The text as it may be logged (None: nothing may be)."""
        if text is None or self.mode == "none":
            return None
        if self.mode == "sha256":
            return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        if self.mode == "full":
            return self.scrub(text)
        limit = self.max_chars
        if len(text) <= limit:
            return self.scrub(text)
        window = limit + _SCRUB_MARGIN
        while True:  # scrub a window past the cut, wide enough that what is kept cannot end inside a secret
            scrubbed = self.scrub(text[:window])
            if window >= len(text) or len(scrubbed) - limit >= _SCRUB_MARGIN // 2:
                break
            window *= 2
        return scrubbed[:limit] + f"…[+{len(text) - limit} chars]"

    def text(self, text: str) -> str:
        """:meth:`__call__` for a field that must be text: ``""`` where nothing may be logged."""
        return self(text) or ""

    def scrub(self, text: str) -> str:
        """``text`` with every scrubber applied."""
        if not self.scrubbers:
            return text
        if not self._always:
            for trigger in self._triggers:
                if trigger in text:
                    break
            else:
                folded = text.lower() if self._folded else ""
                for trigger in self._folded:
                    if trigger in folded:
                        break
                else:
                    return text
        for scrubber in self.scrubbers:
            text = scrubber(text)
        return text

    def finding(self, record: FindingRecord) -> FindingRecord:
        """The finding with its ``detail`` and the text values of its ``data`` redacted (numbers and actions kept)."""
        detail = self.text(record.detail)
        has_text = any(isinstance(v, str) for v in record.data.values())
        if detail == record.detail and not has_text:
            return record
        data = record.data
        if has_text:
            redacted = {k: self(v) if isinstance(v, str) else v for k, v in data.items()}
            data = {k: v for k, v in redacted.items() if v is not None}
        if detail == record.detail and data == record.data:  # short labels survive truncation: no copy needed
            return record
        return record.model_copy(update={"detail": detail, "data": data})

    def error(self, message: str) -> str:
        """An error line ``Type: message`` with the message redacted and the type name kept."""
        kind, sep, rest = message.partition(": ")
        if not sep:
            return self.text(message) if message and not message.isidentifier() else message
        redacted = self.text(rest)
        return f"{kind}: {redacted}" if redacted else kind


_GUARD_REASONS: Final = frozenset(
    {"budget exhausted", "shadow", "no legal action: seeded random legal action", "no legal action: configured default"}
)
"""Reasons the guard writes itself: not agent text, kept under every redaction mode."""


def _redacted_correction(record: CorrectionRecord, redact: Redaction) -> CorrectionRecord:
    """The record with its reason redacted: a policy's reason may quote the agent (a re-ask's feedback does)."""
    reason = record.reason
    if not reason or reason in _GUARD_REASONS:
        return record
    redacted = redact.text(reason)
    return record if redacted == reason else record.model_copy(update={"reason": redacted})


def step_event(
    *,
    redaction: Redaction,
    run_id: str,
    episode: str,
    step: int,
    status: StepStatus,
    agent: str | None,
    format: str | None,
    raw: str | None,
    rationale: str | None,
    raw_action: str | None,
    parsed_action: str | None,
    rationale_action: str | None,
    rationale_confidence: float,
    final_rationale_action: str | None,
    findings: tuple[FindingRecord, ...],
    corrections: tuple[CorrectionRecord, ...],
    final_action: str | None,
    agent_calls: int,
    judge_calls: int,
    input_tokens: int | None,
    output_tokens: int | None,
    agent_latency_s: float,
    guard_latency_s: float,
    coverage: float | None,
    counts: dict[str, int] | None,
    error: str | None,
    agent_errors: tuple[str, ...],
    policies: tuple[str, ...],
) -> StepEvent:
    """The event of one step, with its agent text redacted by ``redaction``; stamped with an id and the time now.

    Every argument is of its field's type (records are validated models), so the event skips validation.
    """
    redact = redaction
    return StepEvent._of_typed_fields(
        {  # the schema's order, which the JSON lines keep
            "schema_version": SCHEMA_VERSION,
            "type": "step",
            "event_id": new_event_id(),
            "run_id": run_id,
            "episode": episode,
            "step": step,
            "timestamp": time.time(),
            "status": status,
            "agent": agent,
            "format": format,
            "raw": redact(raw),
            "rationale": redact(rationale),
            "raw_action": redact(raw_action[:200]) if raw_action else None,
            "parsed_action": parsed_action,
            "rationale_action": rationale_action,
            "rationale_confidence": rationale_confidence,
            "final_rationale_action": final_rationale_action,
            "findings": tuple(redact.finding(r) for r in findings) if findings else (),
            "corrections": tuple(_redacted_correction(c, redact) for c in corrections) if corrections else (),
            "final_action": final_action,
            "agent_calls": agent_calls,
            "judge_calls": judge_calls,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "agent_latency_s": agent_latency_s,
            "guard_latency_s": guard_latency_s,
            "coverage": coverage,
            "counts": counts,
            "error": redact.error(error[:500]) if error is not None else None,
            "agent_errors": tuple(redact.error(e) for e in agent_errors) if agent_errors else (),
            "policies": policies,
        }
    )
