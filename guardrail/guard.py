"""Guard: the step loop. Parse, detect, correct, record; sync and async share one state machine."""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import inspect
import json
import math
import os
import queue
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, cast, overload
from zlib import crc32

import numpy as np
import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from guardrail._frozen import filled
from guardrail._reask_yield import ReAskYieldTally
from guardrail.actions import ActionSpace
from guardrail.decision import Decision, Reply, Usage
from guardrail.detectors.base import INVALID_ACTION, KNOWING_DOING_GAP, DetectorLike, Finding, detect_fn
from guardrail.detectors.invalid import InvalidAction
from guardrail.detectors.knowing_doing import KnowingDoingGap
from guardrail.exceptions import (
    AgentCallsExhaustedError,
    AgentTimeoutError,
    ConfigurationError,
    InvalidInputError,
    LoopStopped,
    NoLegalActionError,
)
from guardrail.history import CallHistoryStore, HistoryStore, HistoryView, InMemoryHistoryStore, check_reward
from guardrail.parsing import Format, parse
from guardrail.policies.base import (
    Correction,
    Override,
    Policy,
    PolicyLike,
    PromptNote,
    ReAskRequest,
    SampleRequest,
    Shadow,
    Skip,
    answers_of,
    correct_fn,
    policy_name,
)
from guardrail.policies.consistency import majority_vote
from guardrail.policies.reask import ReAsk
from guardrail.rationale import RationaleReader
from guardrail.state import BudgetView, ReAskYields, StepState
from guardrail.telemetry.events import (
    SCHEMA_VERSION,
    CorrectionKind,
    CorrectionRecord,
    FindingRecord,
    Redaction,
    RewardEvent,
    StepEvent,
    StepStatus,
    new_event_id,
)
from guardrail.telemetry.sinks import Sink, Telemetry, as_sinks, escape_surrogates

__all__ = [
    "AsyncGuardedAgent",
    "Budget",
    "Fallback",
    "Guard",
    "GuardedAgent",
    "Prompter",
    "StepResult",
    "TextPrompter",
]


Fallback = Literal["raise", "random"] | str
"""What a step with no legal action does: ``"raise"`` NoLegalActionError, ``"random"`` (the paper's rule: a
seeded random legal action), or the name of a fixed default action."""

SyncAgent = Callable[[Any], Any]
AsyncAgent = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """Bounds on what policies may cost. None means unbounded.

    Args:
        max_interventions_per_episode: applied corrections (re-asks, overrides, votes) per episode.
        max_extra_calls_per_step: agent calls beyond the first, per step.
        max_extra_calls_per_episode: agent calls beyond the first of each step, summed over the episode.
        min_steps_between_explorations: steps that must pass after a forced exploration before the next.
    """

    max_interventions_per_episode: int | None = None
    max_extra_calls_per_step: int | None = None
    max_extra_calls_per_episode: int | None = None
    min_steps_between_explorations: int = 0

    def __post_init__(self) -> None:
        for name in (
            "max_interventions_per_episode",
            "max_extra_calls_per_step",
            "max_extra_calls_per_episode",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigurationError(f"Budget({name}) must be >= 0 or None, got {value}")
        if self.min_steps_between_explorations < 0:
            raise ConfigurationError("Budget(min_steps_between_explorations) must be >= 0")

    @property
    def unbounded(self) -> bool:
        """Whether no limit on interventions or extra calls is set (the default)."""
        return (
            self.max_interventions_per_episode is None
            and self.max_extra_calls_per_step is None
            and self.max_extra_calls_per_episode is None
        )


_UNBOUNDED: Final = BudgetView()
"""What an unbounded budget leaves a step before any exploration: nothing is limited (shared, it is frozen)."""


class Prompter(Protocol):
    """How a prompt is rebuilt for a re-ask and annotated with a note. Adapters supply their own."""

    def reask(self, observation: Any, last_output: Any, feedback: str) -> Any:
        """The re-ask prompt: the original observation, the latest failed answer and its feedback, only."""
        ...

    def annotate(self, observation: Any, note: str) -> Any:
        """The observation with a note (e.g. a context summary) added."""
        ...


@dataclass(frozen=True, slots=True)
class TextPrompter:
    """Prompts as plain text."""

    def reask(self, observation: Any, last_output: Any, feedback: str) -> str:
        """Observation, then the previous answer, then the feedback."""
        return (
            f"{observation}\n\nYour previous answer was:\n{_as_text(last_output)}\n\n"
            f"Feedback: {feedback}\nAnswer again."
        )

    def annotate(self, observation: Any, note: str) -> str:
        """Observation, then the note."""
        return f"{observation}\n\n{note}"


def _as_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    dump = getattr(output, "model_dump_json", None)
    return str(dump()) if callable(dump) else str(output)


@dataclass(frozen=True, kw_only=True)
class StepResult:
    """The outcome of one guarded step.

    ``action`` is what to execute: a legal action (possibly corrected or the fallback). ``decision`` is the
    agent's last parsed answer; ``first_decision`` its first.
    """

    action: str | None
    decision: Decision
    first_decision: Decision
    episode: str
    step: int
    findings: tuple[Finding, ...]
    corrections: tuple[CorrectionRecord, ...]
    agent_calls: int
    event: StepEvent

    @property
    def intervened(self) -> bool:
        """Whether the guard changed anything (a re-ask, an override, a vote, a fallback)."""
        return any(c.applied for c in self.corrections)

    @property
    def rationale(self) -> str:
        """The rationale of the agent's last answer."""
        return self.decision.rationale

    @property
    def rationale_action(self) -> str | None:
        """The action the last answer's rationale recommends."""
        return self.decision.rationale_action

    @property
    def arguments(self) -> dict[str, Any] | None:
        """Tool-call arguments of the last answer, when the final action is the one it named."""
        return self.decision.arguments if self.action == self.decision.action else None


@dataclass(slots=True)
class _Call:
    prompt: Any
    wait: float = 0.0


@dataclass(slots=True)
class _StepRun:
    """The state machine of one step. Drivers ask ``next_call()``, call the agent, and feed ``receive()``."""

    guard: Guard
    observation: Any
    episode: str
    agent_name: str | None
    view: HistoryView
    started: float
    started_mono: float
    prompt: Any = None
    queue: list[_Call] = field(default_factory=list)
    attempt: int = 0
    calls: int = 0
    judge_calls: int = 0  # a cascade reader's judge calls, counted apart from agent calls
    usage: Usage | None = None
    agent_seconds: float = 0.0
    decision: Decision | None = None
    first_decision: Decision | None = None
    last_raw: Any = None
    findings: list[Finding] = field(default_factory=list)
    finding_records: list[FindingRecord] = field(default_factory=list)
    corrections: list[CorrectionRecord] = field(default_factory=list)
    samples: list[Decision] = field(default_factory=list)
    samples_wanted: int = 0
    errors: list[str] = field(default_factory=list)
    final_action: str | None = None
    explored: bool = False
    done: bool = False
    episode_key: int = 0
    reask_yield: ReAskYields = field(default_factory=ReAskYields)
    reask_outcomes: list[bool] = field(default_factory=list)  # per re-ask made: did its answer fix the step?
    reasks_skipped: int = 0
    reasked: bool = False  # the answer being received is a re-ask's

    def __post_init__(self) -> None:
        self.episode_key = crc32(self.episode.encode())  # _check_episode made sure it encodes
        prompt = self.observation
        for noting in self.guard._notes:
            note = noting.note(self.view, self.guard.actions)
            if note:
                prompt = self.guard.prompter.annotate(prompt, note)
        self.prompt = prompt
        self.queue.append(_Call(prompt))

    # -- the driver's side -------------------------------------------------------------------------------
    def next_call(self) -> _Call | None:
        return None if self.done or not self.queue else self.queue.pop(0)

    def record_error(self, error: BaseException, seconds: float) -> None:
        """A failed agent call still counts as a call."""
        self.calls += 1
        self.agent_seconds += seconds
        self.errors.append(f"{type(error).__name__}: {error}"[:500])

    def receive(self, raw: Any, seconds: float) -> None:
        self.calls += 1
        self.agent_seconds += seconds
        if isinstance(raw, Reply):
            self.calls += raw.calls - 1
            if raw.usage is not None:
                self.usage = raw.usage if self.usage is None else self.usage + raw.usage
            raw = raw.output
        self.last_raw = raw
        decision = self.guard._parse(raw)
        self.judge_calls += decision.rationale_judge_calls
        if self.samples_wanted:
            self.samples.append(decision)
            if len(self.samples) < self.samples_wanted:
                return
            self._finish_vote()
            return
        self.attempt += 1
        self.decision = decision
        if self.first_decision is None:
            self.first_decision = decision
        elif self.corrections and (asked := self.corrections[-1]).kind == "reask" and asked.applied:
            # the answer to a re-ask: the re-ask is credited with this answer, not with what later policies made of it
            self.corrections[-1] = asked.model_copy(update={"to_action": decision.action})
        self._decide(decision, raw)

    # -- deciding ----------------------------------------------------------------------------------------
    def _interventions(self) -> int:
        return sum(1 for c in self.corrections if c.applied) if self.corrections else 0

    def _state(self, decision: Decision, findings: Sequence[Finding]) -> StepState:
        guard = self.guard
        budget = guard.budget
        extra_used = self.calls - 1
        steps_since = None if self.view.last_exploration_step is None else self.view.t - self.view.last_exploration_step
        interventions_now = self._interventions()
        return filled(
            StepState,
            actions=guard.actions,
            decision=decision,
            history=self.view,
            findings=tuple(findings),
            episode=self.episode,
            step=self.view.t,
            attempt=self.attempt,
            max_attempts=guard._max_attempts,
            budget=_UNBOUNDED
            if steps_since is None and budget.unbounded
            else BudgetView(
                interventions_left=None
                if budget.max_interventions_per_episode is None
                else budget.max_interventions_per_episode - self.view.interventions - interventions_now,
                extra_calls_left_step=None
                if budget.max_extra_calls_per_step is None
                else budget.max_extra_calls_per_step - extra_used,
                extra_calls_left_episode=None
                if budget.max_extra_calls_per_episode is None
                else budget.max_extra_calls_per_episode - self.view.extra_agent_calls - extra_used,
                steps_since_exploration=steps_since,
            ),
            seed=(*self.guard._seed_key, self.episode_key, self.view.t, self.attempt),
            observation=self.observation,
            started_at=self.started_mono,
            reask_yield=self.reask_yield,
        )

    def _decide(self, decision: Decision, raw: Any) -> None:
        state = self._state(decision, ())
        findings: list[Finding] = []
        for detect in self.guard._detect_fns:
            found = detect(state)
            if found:
                findings.extend(found)
        records: list[FindingRecord] = []
        kinds: set[str] = set()
        if findings:
            self.findings.extend(findings)
            records = [
                FindingRecord(
                    kind=f.kind,
                    score=f.score,
                    detail=f.detail,
                    actions=f.actions,
                    data=f.data,
                    attempt=self.attempt,
                )
                for f in findings
            ]
            self.finding_records.extend(records)
            state = _with_findings(state, tuple(findings))
            kinds = {f.kind for f in findings}
        if self.reasked:  # a re-ask fixed its step when its answer is legal and consistent
            self.reasked = False
            self.reask_outcomes.append(decision.action is not None and kinds.isdisjoint(_UNFIXED))
        for policy, answers, correct in self.guard._policy_plan:
            if answers is not None and answers.isdisjoint(kinds):
                continue
            correction = correct(state)
            if correction is None:
                continue
            if self._apply(policy, correction, state, decision, raw, records):
                return
        self._settle(decision.action)

    def _blocked(
        self, policy: PolicyLike, kind: CorrectionKind, state: StepState, records: list[FindingRecord]
    ) -> None:
        answers = answers_of(policy)
        for i, record in enumerate(self.finding_records):
            if record in records and (answers is None or record.kind in answers):
                self.finding_records[i] = record.model_copy(update={"budget_exhausted": True})
        self.corrections.append(
            CorrectionRecord(
                policy=policy_name(policy),
                kind=kind,
                from_action=state.decision.action,
                attempts=self.attempt,
                reason="budget exhausted",
                applied=False,
            )
        )

    def _apply(
        self,
        policy: PolicyLike,
        correction: Correction,
        state: StepState,
        decision: Decision,
        raw: Any,
        records: list[FindingRecord],
    ) -> bool:
        """Apply one correction; True when it ends this attempt's policy chain."""
        name = policy_name(policy)
        if isinstance(correction, Shadow):
            inner = correction.correction
            self.corrections.append(
                CorrectionRecord(
                    policy=correction.policy,
                    kind=_kind_of(inner),
                    from_action=decision.action,
                    to_action=inner.action if isinstance(inner, Override) else None,
                    attempts=self.attempt,
                    reason=inner.reason if isinstance(inner, Override) else "shadow",
                    applied=False,
                )
            )
            return False
        if isinstance(correction, Skip):
            self.reasks_skipped += correction.kind == "reask"
            self.corrections.append(
                CorrectionRecord(
                    policy=name,
                    kind=correction.kind,
                    from_action=decision.action,
                    attempts=self.attempt,
                    reason=correction.reason,
                    applied=False,
                )
            )
            return False
        if not state.budget.can_intervene:
            self._blocked(policy, _kind_of(correction), state, records)
            return False
        if isinstance(correction, Override):
            if correction.action not in self.guard.actions:
                raise ConfigurationError(f"policy {name} overrode to {correction.action!r}, not a legal action")
            kind = _kind_of(correction)
            if correction.explore:
                gap = state.budget.steps_since_exploration
                if gap is not None and gap < self.guard.budget.min_steps_between_explorations:
                    self._blocked(policy, kind, state, records)
                    return False
                self.explored = True
            self.corrections.append(
                CorrectionRecord(
                    policy=name,
                    kind=kind,
                    from_action=decision.action,
                    to_action=correction.action,
                    attempts=self.attempt,
                    reason=correction.reason,
                )
            )
            self._settle(correction.action)
            return True
        if isinstance(correction, ReAskRequest):
            if not state.budget.can_call(1):
                self._blocked(policy, "reask", state, records)
                return False
            wait = policy.wait_seconds(state) if isinstance(policy, ReAsk) else 0.0
            feedback = _bounded_feedback(correction.feedback, self.guard.actions, decision)
            self.queue.append(_Call(self.guard.prompter.reask(self.prompt, raw, feedback), wait))
            self.reasked = True
            self.corrections.append(
                CorrectionRecord(
                    policy=name,
                    kind="reask",
                    from_action=decision.action,
                    attempts=self.attempt,
                    reason=feedback,
                )
            )
            return True
        # SampleRequest: as many extra samples as the budget allows
        left = [x for x in (state.budget.extra_calls_left_step, state.budget.extra_calls_left_episode) if x is not None]
        n = min([correction.n, *left])
        if n < 1:
            self._blocked(policy, "vote", state, records)
            return False
        self.samples = [decision]
        self.samples_wanted = n + 1
        self.queue.extend(_Call(self.prompt) for _ in range(n))
        self.corrections.append(
            CorrectionRecord(
                policy=name,
                kind="vote",
                from_action=decision.action,
                attempts=self.attempt,
                reason=correction.policy_reason,
            )
        )
        return True

    def _finish_vote(self) -> None:
        first = self.samples[0]
        voted = majority_vote(self.samples, prefer=first.rationale_action)
        last = self.corrections[-1]
        tally = ", ".join(f"{d.action}" for d in self.samples)
        self.corrections[-1] = last.model_copy(
            update={
                "to_action": voted,
                "attempts": last.attempts + len(self.samples) - 1,
                "reason": f"{last.reason}: {tally}",
            }
        )
        self.samples_wanted = 0
        self._settle(voted)

    def _settle(self, action: str | None) -> None:
        if action is None:
            action = self._fallback()
        self.final_action = action
        self.done = True

    def _fallback(self) -> str | None:
        fallback = self.guard.fallback
        if fallback == "raise":
            return None
        if fallback == "random":
            rng = np.random.default_rng((*self.guard._seed_key, self.episode_key, self.view.t, 1 << 20))
            action = self.guard.actions.names[int(rng.integers(len(self.guard.actions)))]
            reason = "no legal action: seeded random legal action"
        else:
            action, reason = fallback, "no legal action: configured default"
        self.corrections.append(CorrectionRecord(policy="fallback", kind="fallback", to_action=action, reason=reason))
        return action

    # -- ending ------------------------------------------------------------------------------------------
    def event(self, step: int, status: StepStatus, error: BaseException | None = None) -> StepEvent:
        guard = self.guard
        redact = guard.redaction
        first = self.first_decision
        last = self.decision
        wall = guard.clock() - self.started
        counts: dict[str, int] | None = None
        coverage: float | None = None
        if self.final_action is not None:
            index = guard.actions.index(self.final_action)
            view = self.view
            counts_list = list(view.counts)
            counts_list[index] += 1
            names = guard.actions.names
            # Once every action has been chosen (the common case) no zero is left out: dict() builds it in C.
            counts = (
                dict(zip(names, counts_list, strict=True))
                if 0 not in counts_list
                else {name: n for name, n in zip(names, counts_list, strict=True) if n}
            )
            coverage = (view.tried + (view.counts[index] == 0)) / view.k
        usage = self.usage
        findings = self.finding_records
        # Every value below is of its field's type (records are validated models, the rest is built here), so
        # the event skips validation; the order is the schema's, which the JSON lines keep.
        return StepEvent._of_typed_fields(
            {
                "schema_version": SCHEMA_VERSION,
                "type": "step",
                "event_id": new_event_id(),
                "run_id": guard.run_id,
                "episode": self.episode,
                "step": step,
                "timestamp": time.time(),
                "status": status,
                "agent": self.agent_name,
                "format": last.format if last else None,
                "raw": redact(_as_text(self.last_raw)) if self.last_raw is not None else None,
                "rationale": redact(last.rationale) if last else None,
                "raw_action": redact(last.raw_action[:200]) if last and last.raw_action else None,
                "parsed_action": first.action if first else None,
                "rationale_action": first.rationale_action if first else None,
                "rationale_confidence": float(first.rationale_confidence) if first else 0.0,
                "final_rationale_action": last.rationale_action if last else None,
                "findings": tuple(redact.finding(r) for r in findings) if findings else (),
                "corrections": tuple(_redacted_correction(c, redact) for c in self.corrections)
                if self.corrections
                else (),
                "final_action": self.final_action,
                "agent_calls": self.calls,
                "judge_calls": self.judge_calls,
                "input_tokens": usage.input_tokens if usage else None,
                "output_tokens": usage.output_tokens if usage else None,
                "agent_latency_s": float(self.agent_seconds),
                "guard_latency_s": float(max(0.0, wall - self.agent_seconds)),
                "coverage": coverage,
                "counts": counts,
                "error": redact.error(f"{type(error).__name__}: {error}"[:500]) if error is not None else None,
                "agent_errors": tuple(redact.error(e) for e in self.errors) if self.errors else (),
                "policies": guard._policy_names,
            }
        )

    def _tally_reasks(self) -> None:
        if self.reask_outcomes or self.reasks_skipped:
            self.guard._reask_yield.record(
                self.agent_name or "", self.episode, self.reask_outcomes, self.reasks_skipped
            )

    def fail(self, error: BaseException, status: StepStatus = "agent_error") -> None:
        """The agent raised (or a policy stopped it): record what happened, then the caller re-raises unchanged."""
        self.guard._emit(self.event(self.view.t, status, error))

    def _record(self) -> int:
        guard = self.guard
        assert self.final_action is not None
        index = guard.history.record_step(
            self.episode,
            len(guard.actions),
            guard.actions.index(self.final_action),
            interventions=self._interventions(),
            extra_agent_calls=self.calls - 1,
            explored=self.explored,
        )
        guard._record_call(self.episode, index, self.final_action, self.decision)
        return index

    def finish(self) -> StepResult:
        guard = self.guard
        assert self.decision is not None
        assert self.first_decision is not None
        self._tally_reasks()
        if self.final_action is None:
            event = self.event(self.view.t, "no_legal_action")
            guard._emit(event)
            raise NoLegalActionError(
                f"no legal action after {self.attempt} attempt(s) in episode {self.episode!r}; "
                f"last output: {_as_text(self.last_raw)[:200]!r}",
                episode=self.episode,
                step=self.view.t,
                attempts=self.calls,
                last_output=self.last_raw,
                findings=self.findings,
            )
        if guard.telemetry.raise_error:
            # The event first: a sink that fails raises before the step is recorded, so a retry counts it once.
            # Steps of one episode finishing at once in this process take turns, so the index read is the index
            # record_step gives (another process writing the same episode meanwhile is the one way it is not).
            with guard._finish_locks[self.episode_key % len(guard._finish_locks)]:
                step = guard.history.view(self.episode, len(guard.actions)).t
                event = self.event(step, "ok")
                guard._emit(event)
                self._record()
        else:
            step = self._record()
            event = self.event(step, "ok")
            guard._emit(event)
        return filled(
            StepResult,
            action=self.final_action,
            decision=self.decision,
            first_decision=self.first_decision,
            episode=self.episode,
            step=step,
            findings=tuple(self.findings),
            corrections=tuple(self.corrections),
            agent_calls=self.calls,
            event=event,
        )


LOOP_TEXT_LIMIT: Final = 4096
"""In ``astep``, agent outputs longer than this (in characters) are read in a worker thread, off the event loop.

Shorter ones are read on the loop: with linear-time reading that bounds the loop's cost per step. (The rationale
reader's own linear-time rewrite is separate work; until it lands a short hostile rationale can still cost more.)
"""


def _text_length(raw: Any) -> int:
    if isinstance(raw, Reply):
        raw = raw.output
    return len(raw) if isinstance(raw, str) else 0


MAX_LISTED_ACTIONS: Final = 40
"""How many legal actions a re-ask's feedback lists at most; the rest are counted ("... and 9,960 more")."""

MAX_FEEDBACK_CHARS: Final = 4000
"""The longest re-ask feedback sent to the agent; longer feedback is cut (its list of actions first)."""


def _bounded_feedback(feedback: str, actions: ActionSpace, decision: Decision) -> str:
    """Feedback that lists at most :data:`MAX_LISTED_ACTIONS` actions and is at most :data:`MAX_FEEDBACK_CHARS` long.

    A feedback that lists every legal action (as ``default_feedback`` does) grows with the action space (109 KB at
    10,000 actions); the list is replaced by the actions the answer was about (its action, its rationale's action,
    names resembling an illegal action it gave), then the first ones, and a count of the others.
    """
    names = actions.names
    if len(names) > MAX_LISTED_ACTIONS:
        listed = ", ".join(names)
        if listed in feedback:
            feedback = feedback.replace(listed, _short_list(names, decision))
    if len(feedback) > MAX_FEEDBACK_CHARS:
        cut = len(feedback) - MAX_FEEDBACK_CHARS
        feedback = feedback[:MAX_FEEDBACK_CHARS] + f"… [{cut} characters of feedback left out]"
    return feedback


def _short_list(names: Sequence[str], decision: Decision) -> str:
    chosen: dict[str, None] = {}
    for name in (decision.action, decision.rationale_action):
        if name is not None:
            chosen[name] = None
    wanted = (decision.raw_action or "").strip().lower()
    if wanted:
        for name in names:
            if len(chosen) >= MAX_LISTED_ACTIONS // 2:
                break
            low = name.lower()
            if wanted in low or low in wanted:
                chosen[name] = None
    for name in names:
        if len(chosen) >= MAX_LISTED_ACTIONS:
            break
        chosen[name] = None
    return ", ".join(chosen) + f", … and {len(names) - len(chosen):,} more"


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


def _with_findings(state: StepState, findings: tuple[Finding, ...]) -> StepState:
    """A copy of ``state`` with findings; dataclasses.replace re-runs __init__ and costs more than the step."""
    if not findings:
        return state
    return filled(StepState, **{**state.__dict__, "findings": findings})


_UNFIXED: Final = frozenset({INVALID_ACTION, KNOWING_DOING_GAP})
"""Finding kinds on a re-ask's answer that mean the re-ask did not fix its step."""


def _kind_of(correction: Override | ReAskRequest | SampleRequest) -> CorrectionKind:
    if isinstance(correction, ReAskRequest):
        return "reask"
    if isinstance(correction, SampleRequest):
        return "vote"
    return "explore" if correction.explore else "override"


class Guard:
    """Guards an agent's steps: parses its output, detects gaps and biases, corrects them by policy, logs.

    >>> from guardrail.testing import ScriptedAgent
    >>> guard = Guard(actions=["red", "blue"], policies=[OverrideToRationale()])  # doctest: +SKIP

    Args:
        actions: the legal actions (an :class:`ActionSpace` or a list of names).
        policies: corrections to apply, tried in order; the first that corrects a step wins.
        detectors: what to look for (default: :class:`KnowingDoingGap` and :class:`InvalidAction`).
        telemetry: a JSONL path, a sink, several sinks, or None.
        fallback: for a step with no legal action after all policies: ``"raise"`` (default), ``"random"`` (a
            seeded random legal action, the paper's rule) or a fixed action name.
        seed: seeds every random choice (policies, fallback); with the same seed a run reproduces.
        budget: bounds on interventions and extra agent calls.
        history: where per-episode history lives (default: in memory).
        reader: how to read a rationale's recommended action (default: the lexical reader).
        format: the agent's output format, or ``"auto"``.
        parser: replaces :func:`guardrail.parse` entirely (adapters use this for framework objects).
        prompter: builds re-ask and annotated prompts (default: plain text).
        redaction: how much raw text and rationale telemetry keeps (default: truncated to 500 characters).
        run_id: identifies this run in telemetry (default: random).
        raise_on_sink_error: raise :class:`TelemetryError` when a sink fails instead of warning. The step's event
            is then written before the step is recorded in the history, so a step whose event failed is not
            counted and may be retried. (A reward's event is written after the reward is recorded.)
        agent_timeout: seconds an agent call may take before :class:`AgentTimeoutError`, measured from the moment
            the agent starts (a sync agent then runs on a worker thread of its own, so a hung call never delays
            another; the late call is abandoned, not killed).
        max_abandoned_calls: how many timed-out sync agent calls may still be running; beyond that a new call is
            refused with :class:`AgentCallsExhaustedError` (before the agent is called) until one returns.
        agent_retry: retry an agent call that raises: the total attempts (int) or a tenacity stop strategy.
        agent_retry_wait: a tenacity wait strategy between those retries (default: none).
        clock, sleep: injectable for tests.
    """

    def __init__(
        self,
        actions: ActionSpace | Iterable[str],
        *,
        policies: Sequence[PolicyLike] = (),
        detectors: Sequence[DetectorLike] | None = None,
        telemetry: str | os.PathLike[str] | Sink | Iterable[Sink] | None = None,
        fallback: Fallback = "raise",
        seed: int | None = None,
        budget: Budget | None = None,
        history: HistoryStore | None = None,
        reader: RationaleReader | None = None,
        format: Format = "auto",
        parser: Callable[[Any, ActionSpace], Decision] | None = None,
        prompter: Prompter | None = None,
        redaction: Redaction | None = None,
        run_id: str | None = None,
        raise_on_sink_error: bool = False,
        agent_timeout: float | None = None,
        agent_retry: int | stop_base | None = None,
        agent_retry_wait: wait_base | None = None,
        max_abandoned_calls: int = 64,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.actions = ActionSpace.of(actions)
        if not isinstance(cast(object, policies), (list, tuple)):
            raise ConfigurationError("policies must be a list of policies")
        for policy in policies:
            if not (isinstance(policy, Policy) or callable(policy)):
                raise ConfigurationError(f"{policy!r} is not a policy (needs correct(state) or to be callable)")
        self.policies: tuple[PolicyLike, ...] = tuple(policies)
        self.detectors: tuple[DetectorLike, ...] = (
            (KnowingDoingGap(), InvalidAction()) if detectors is None else tuple(detectors)
        )
        if fallback not in ("raise", "random") and self.actions.resolve(fallback) is None:
            raise ConfigurationError(
                f"fallback must be 'raise', 'random' or a legal action; {fallback!r} is not one of "
                f"{list(self.actions.names)}"
            )
        self.fallback: Fallback = self.actions.resolve(fallback) or fallback
        if seed is not None and (not isinstance(cast(object, seed), int) or seed < 0):
            raise ConfigurationError(f"seed must be a non-negative int, got {seed!r}")
        self.seed = seed
        self._seed_key: tuple[int, ...] = (seed,) if seed is not None else (uuid.uuid4().int & (2**63 - 1),)
        self.budget = budget or Budget()
        self.history: HistoryStore = history if history is not None else InMemoryHistoryStore()
        self._keeps_calls = isinstance(self.history, CallHistoryStore)  # resolved once: too slow per step
        self.reader = reader
        self.format: Format = format
        self.parser = parser
        self.prompter: Prompter = prompter or TextPrompter()
        self.redaction = redaction or Redaction()
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.telemetry = Telemetry(as_sinks(telemetry), raise_error=raise_on_sink_error)
        self.clock = clock
        self.sleep = sleep
        if agent_timeout is not None and not (agent_timeout > 0 and math.isfinite(agent_timeout)):
            raise ConfigurationError(f"agent_timeout must be a positive number of seconds, got {agent_timeout!r}")
        self.agent_timeout = agent_timeout
        if isinstance(cast(object, agent_retry), bool) or (isinstance(agent_retry, int) and agent_retry < 1):
            raise ConfigurationError(
                f"agent_retry must be >= 1 attempts or a tenacity stop strategy, got {agent_retry!r}"
            )
        self._retry_stop: stop_base | None = (
            tenacity.stop_after_attempt(agent_retry) if isinstance(agent_retry, int) else agent_retry
        )
        self._retry_wait: wait_base = agent_retry_wait or tenacity.wait_none()
        if isinstance(cast(object, max_abandoned_calls), bool) or max_abandoned_calls < 1:
            raise ConfigurationError(f"max_abandoned_calls must be >= 1, got {max_abandoned_calls!r}")
        self.max_abandoned_calls = max_abandoned_calls
        self._threads: _AgentThreads | None = None
        # Resolved once: runtime protocol checks are too slow for the per-step path.
        self._detect_fns: tuple[Callable[[StepState], Sequence[Finding]], ...] = tuple(
            detect_fn(d) for d in self.detectors
        )
        self._policy_plan: tuple[
            tuple[PolicyLike, frozenset[str] | None, Callable[[StepState], Correction | None]], ...
        ] = tuple((p, answers_of(p), correct_fn(p)) for p in self.policies)
        notes: list[PromptNote] = []
        for policy in self.policies:
            candidate: object = policy
            if isinstance(candidate, PromptNote):
                notes.append(candidate)
        self._notes = tuple(notes)
        self._policy_names = tuple(policy_name(p) for p in self.policies)
        attempts = [p.max_attempts for p in self.policies if isinstance(p, ReAsk)]
        self._max_attempts = max(attempts, default=1)
        self._reask_yield = ReAskYieldTally()  # per Guard, in memory: see guardrail/_reask_yield.py for why
        self._closed = False
        self._lock = threading.Lock()
        self._finish_locks = tuple(threading.Lock() for _ in range(64))

    # -- parsing and telemetry -------------------------------------------------------------------------
    def _parse(self, raw: Any) -> Decision:
        if self.parser is not None:
            return self.parser(raw, self.actions)
        try:
            return parse(raw, self.actions, format=self.format, reader=self.reader)
        except UnicodeEncodeError:  # a lone surrogate in the output: read it with the surrogates escaped
            if not isinstance(raw, str):
                raise
            return parse(escape_surrogates(raw), self.actions, format=self.format, reader=self.reader)

    def _emit(self, event: StepEvent | RewardEvent) -> None:
        self.telemetry.emit(event)

    def _begin(self, observation: Any, episode: str, reward: float | None, agent: object) -> _StepRun:
        _check_episode(episode)
        if reward is not None:
            self.record_reward(episode, reward)
        name = str(getattr(agent, "name", None) or getattr(agent, "__name__", None) or type(agent).__name__)
        return _StepRun(
            guard=self,
            observation=observation,
            episode=episode,
            agent_name=name,
            reask_yield=self._reask_yield.view(name, episode),
            view=self.history.view(episode, len(self.actions)),
            started=self.clock(),
            started_mono=time.monotonic(),
        )

    # -- public API ------------------------------------------------------------------------------------
    def step(
        self, agent: SyncAgent, observation: Any, *, episode: str = "default", reward: float | None = None
    ) -> StepResult:
        """Guard one step of a synchronous agent ``agent(prompt) -> output``.

        Args:
            agent: called with the observation (and again for re-asks and samples).
            observation: the prompt: text, or whatever the agent and the prompter understand.
            episode: which conversation or task this step belongs to.
            reward: the reward of this episode's previous step, if not recorded with :meth:`record_reward`.

        Returns:
            A :class:`StepResult`; ``result.action`` is the action to execute.

        Raises:
            NoLegalActionError: no legal action and ``fallback="raise"`` (the event is written first).
            Exception: whatever the agent raised, unchanged (the event is written first).
        """
        run = self._begin(observation, episode, reward, agent)
        while (call := run.next_call()) is not None:
            if call.wait > 0:
                self.sleep(call.wait)
            try:
                raw, seconds = self._call(agent, call.prompt, run)
            except BaseException as error:
                run.fail(error)
                raise
            try:
                run.receive(raw, seconds)
            except LoopStopped as stopped:  # a policy ended the agent: the step's event says so, then it propagates
                run.fail(stopped, "stopped")
                raise
        return run.finish()

    def _call_once(self, agent: SyncAgent, prompt: Any, run: _StepRun) -> tuple[Any, float]:
        started = self.clock()
        try:
            if self.agent_timeout is None:
                raw = agent(prompt)
            else:
                threads = self._agent_threads()
                call = threads.submit(agent, prompt)
                started = self.clock()  # the timeout and the latency are the agent's own, not a thread start
                raw = threads.result(call, self.agent_timeout)
        except BaseException as error:
            run.record_error(error, self.clock() - started)
            raise
        if not isinstance(raw, str) and inspect.isawaitable(raw):  # text, the common answer, is never awaitable
            close = getattr(raw, "close", None)
            if callable(close):
                close()
            raise InvalidInputError("the agent returned an awaitable; use `await guard.astep(...)` for async agents")
        return raw, self.clock() - started

    def _agent_threads(self) -> _AgentThreads:
        threads = self._threads
        if threads is None:
            with self._lock:
                threads = self._threads
                if threads is None:
                    threads = self._threads = _AgentThreads(self.max_abandoned_calls)
        return threads

    def _call(self, agent: SyncAgent, prompt: Any, run: _StepRun) -> tuple[Any, float]:
        if self._retry_stop is None:
            return self._call_once(agent, prompt, run)
        retrying = tenacity.Retrying(
            stop=self._retry_stop,
            wait=self._retry_wait,
            retry=tenacity.retry_if_exception_type(Exception),
            reraise=True,
            sleep=self.sleep,
        )
        return retrying(self._call_once, agent, prompt, run)

    async def astep(
        self,
        agent: SyncAgent | AsyncAgent,
        observation: Any,
        *,
        episode: str = "default",
        reward: float | None = None,
    ) -> StepResult:
        """Guard one step of an agent that may be async (a sync agent is run in a worker thread).

        The guard's own work on an output longer than :data:`LOOP_TEXT_LIMIT` characters (parsing, reading the
        rationale, detectors and policies) runs in a worker thread too, so the event loop never spends more than
        the bounded cost of a short output on one step.
        """
        run = self._begin(observation, episode, reward, agent)
        while (call := run.next_call()) is not None:
            if call.wait > 0:
                await asyncio.sleep(call.wait)
            try:
                raw, seconds = await self._acall(agent, call.prompt, run)
            except BaseException as error:
                run.fail(error)
                raise
            try:
                if _text_length(raw) > LOOP_TEXT_LIMIT:  # reading a long output is not the event loop's business
                    await asyncio.to_thread(run.receive, raw, seconds)
                else:
                    run.receive(raw, seconds)
            except LoopStopped as stopped:
                run.fail(stopped, "stopped")
                raise
        return run.finish()

    async def _acall_once(self, agent: SyncAgent | AsyncAgent, prompt: Any, run: _StepRun) -> tuple[Any, float]:
        started = self.clock()
        try:
            if _is_async(agent):
                pending: Awaitable[Any] = cast(AsyncAgent, agent)(prompt)
                if self.agent_timeout is None:
                    raw = await pending
                else:
                    try:
                        raw = await asyncio.wait_for(pending, self.agent_timeout)
                    except asyncio.TimeoutError:
                        raise AgentTimeoutError(self.agent_timeout) from None
            else:  # on our worker threads: the loop's default executor is small and a hung call would hold it
                threads = self._agent_threads()
                call = threads.submit(cast(SyncAgent, agent), prompt)
                started = self.clock()
                raw = await threads.aresult(call, self.agent_timeout)
            if inspect.isawaitable(raw):
                raw = await raw
        except BaseException as error:
            run.record_error(error, self.clock() - started)
            raise
        return raw, self.clock() - started

    async def _acall(self, agent: SyncAgent | AsyncAgent, prompt: Any, run: _StepRun) -> tuple[Any, float]:
        if self._retry_stop is None:
            return await self._acall_once(agent, prompt, run)
        retrying = tenacity.AsyncRetrying(
            stop=self._retry_stop,
            wait=self._retry_wait,
            retry=tenacity.retry_if_exception_type(Exception),
            reraise=True,
        )
        result: tuple[Any, float] = await retrying(self._acall_once, agent, prompt, run)
        return result

    @overload
    def wrap(self, agent: Callable[[Any], Awaitable[Any]]) -> AsyncGuardedAgent: ...
    @overload
    def wrap(self, agent: Callable[[Any], Any]) -> GuardedAgent: ...
    def wrap(self, agent: Callable[[Any], Any]) -> GuardedAgent | AsyncGuardedAgent:
        """A guarded version of ``agent``: call it as ``guarded(observation, episode=...)``.

        An async agent gives an async guarded agent (``await guarded(...)``).
        """
        if not callable(agent):
            raise ConfigurationError(f"wrap() needs a callable agent, got {agent!r}")
        if _is_async(agent):
            return AsyncGuardedAgent(self, cast(AsyncAgent, agent))
        return GuardedAgent(self, agent)

    def adapted(
        self,
        *,
        parser: Callable[[Any, ActionSpace], Decision] | None = None,
        prompter: Prompter | None = None,
    ) -> Guard:
        """This guard, reading and re-asking the way a framework needs; for adapters.

        ``parser`` is used only when the guard has none of its own, and ``prompter`` only when it still has the
        default :class:`TextPrompter`. When either applies, the result is a shallow copy that shares this guard's
        history, telemetry, policies and budget (steps through it count in the same episodes and write to the
        same sinks); otherwise it is this guard. The guard itself is never changed.
        """
        use_parser = parser is not None and self.parser is None
        use_prompter = prompter is not None and isinstance(self.prompter, TextPrompter)
        if not (use_parser or use_prompter):
            return self
        adapted = copy.copy(self)
        if use_parser:
            adapted.parser = parser
        if use_prompter:
            adapted.prompter = cast(Prompter, prompter)
        return adapted

    def record_reward(self, episode: str, reward: float, *, step: int | None = None) -> None:
        """Record the reward of the episode's oldest unrewarded step (or of ``step``).

        Raises:
            InvalidInputError: the reward is not a finite number, or no step is waiting for one.
        """
        _check_episode(episode)
        value = check_reward(reward)
        index = self.history.record_reward(episode, len(self.actions), value, step=step)
        self._emit(RewardEvent(run_id=self.run_id, episode=episode, step=index, reward=value))

    def record_outcome(
        self,
        episode: str,
        *,
        result: object = None,
        error: str | BaseException | None = None,
        step: int | None = None,
    ) -> None:
        """Record what the episode's latest executed call (or the call at ``step``) got back: a result or an error.

        Loop detection (:class:`~guardrail.detectors.Loops`) reads these outcomes: the same call getting the same
        result, the same error, or every call getting the same observation. A result that is not text is stored
        as its JSON (or ``str``) form; only a digest and, for an error, its first 200 characters are kept.

        Raises:
            InvalidInputError: both a result and an error were given, or no call is waiting for an outcome.
            ConfigurationError: the history store keeps no calls.
        """
        _check_episode(episode)
        if result is not None and error is not None:
            raise InvalidInputError("record_outcome takes a result or an error, not both")
        store = self._call_store(episode)
        error_text = None if error is None else _error_text(error)
        store.record_outcome(
            episode,
            len(self.actions),
            result=None if result is None else _result_text(result),
            error=error_text,
            step=step,
        )

    async def arecord_outcome(
        self,
        episode: str,
        *,
        result: object = None,
        error: str | BaseException | None = None,
        step: int | None = None,
    ) -> None:
        """Async twin of :meth:`record_outcome` (the store's work runs in a worker thread)."""
        await asyncio.to_thread(self.record_outcome, episode, result=result, error=error, step=step)

    def new_user_message(self, episode: str) -> None:
        """A new user message arrived in ``episode``: loop counters start again from the next call.

        With a history store that keeps no calls there are no counters, and nothing happens.
        """
        _check_episode(episode)
        if self._keeps_calls:
            cast(CallHistoryStore, self.history).new_user_message(episode, len(self.actions))

    async def anew_user_message(self, episode: str) -> None:
        """Async twin of :meth:`new_user_message`."""
        await asyncio.to_thread(self.new_user_message, episode)

    def _call_store(self, episode: str) -> CallHistoryStore:
        store = self.history
        if not isinstance(store, CallHistoryStore):
            raise ConfigurationError(
                f"the history store {type(store).__name__} keeps no calls, so episode {episode!r} cannot record "
                "outcomes or user messages; use InMemoryHistoryStore (or a store with record_call/record_outcome)"
            )
        return store

    def _record_call(self, episode: str, step: int, action: str, decision: Decision | None) -> None:
        """Record the executed call's arguments (the decision's, when it named this action) for loop detection."""
        if self._keeps_calls:
            arguments = decision.arguments if decision is not None and decision.action == action else None
            cast(CallHistoryStore, self.history).record_call(episode, len(self.actions), step, action, arguments)

    def reask_yield(self, agent: str, episode: str = "default") -> ReAskYields:
        """What re-asks achieved so far for ``agent`` (its name, as in telemetry) and for ``episode``."""
        return self._reask_yield.view(agent, episode)

    def view(self, episode: str = "default") -> HistoryView:
        """The episode's statistics (counts, means, UCB, coverage) now."""
        return self.history.view(episode, len(self.actions))

    def close(self) -> None:
        """Close the telemetry sinks (and the worker threads used for agent timeouts)."""
        if not self._closed:
            self._closed = True
            self.telemetry.close()
            if self._threads is not None:
                self._threads.close()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        policies = ", ".join(policy_name(p) for p in self.policies)
        return f"Guard(actions={list(self.actions.names)!r}, policies=[{policies}])"


class _AgentCall:
    """One agent call run on an :class:`_AgentThreads` worker: when it started, and its outcome."""

    __slots__ = ("abandoned", "agent", "outcome", "prompt", "started")

    def __init__(self, agent: SyncAgent, prompt: Any) -> None:
        self.agent = agent
        self.prompt = prompt
        self.started: concurrent.futures.Future[float] = concurrent.futures.Future()
        self.outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.abandoned = False

    def run(self) -> None:
        self.started.set_result(time.monotonic())
        try:
            result = self.agent(self.prompt)
        except BaseException as error:  # handed to the caller, who re-raises it
            self.outcome.set_exception(error)
        else:
            self.outcome.set_result(result)
        finally:
            self.prompt = None


class _AgentThreads:
    """Worker threads for timed agent calls: a hung call never holds up another one.

    A call is handed to an idle worker, or a new one is started for it, so no call waits in a queue behind
    another; the timeout is measured from the moment the agent starts. A call that timed out is abandoned: its
    thread runs on until the agent returns (Python cannot kill a thread) and then serves later calls. At most
    ``max_abandoned`` abandoned calls may be running: beyond that a new call is refused with
    :class:`AgentCallsExhaustedError` before the agent is called. Idle workers exit after ``idle_seconds``.
    """

    def __init__(self, max_abandoned: int, *, idle_seconds: float = 30.0) -> None:
        self.max_abandoned = max_abandoned
        self.idle_seconds = idle_seconds
        self.abandoned = 0
        self.threads = 0
        self._idle = 0
        self._jobs: queue.SimpleQueue[_AgentCall | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, agent: SyncAgent, prompt: Any) -> _AgentCall:
        call = _AgentCall(agent, prompt)
        with self._lock:
            if self.abandoned >= self.max_abandoned:
                raise AgentCallsExhaustedError(self.abandoned)
            spawn = self._idle == 0
            if spawn:
                self.threads += 1
            else:
                self._idle -= 1  # that idle worker is now promised this call
        self._jobs.put(call)
        if spawn:
            threading.Thread(target=self._work, name="guardrail-agent", daemon=True).start()
        return call

    def abandon(self, call: _AgentCall) -> None:
        """The caller gave up on ``call`` (a timeout); it counts until its agent returns."""
        with self._lock:
            if not call.outcome.done():
                call.abandoned = True
                self.abandoned += 1

    def _work(self) -> None:
        while True:
            try:
                call = self._jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # an unpromised idle worker: leave
                        self._idle -= 1
                        self.threads -= 1
                        return
                continue  # every idle worker is promised a call: ours is on its way
            if call is None:
                with self._lock:
                    self.threads -= 1
                return
            call.run()
            with self._lock:
                if call.abandoned:
                    self.abandoned -= 1
                if self._closed:
                    self.threads -= 1
                    return
                self._idle += 1

    def result(self, call: _AgentCall, timeout: float) -> Any:
        """The call's result, waiting at most ``timeout`` seconds from the moment the agent started."""
        started = call.started.result()  # a worker picks it up at once: this waits for a thread start only
        left = timeout - (time.monotonic() - started)
        try:
            return call.outcome.result(timeout=max(0.0, left))
        except concurrent.futures.TimeoutError:
            self.abandon(call)
            if call.outcome.done():  # it returned just now: not a timeout after all
                return call.outcome.result()
            raise AgentTimeoutError(timeout) from None

    async def aresult(self, call: _AgentCall, timeout: float | None) -> Any:
        """:meth:`result` for an event loop: awaits without blocking it."""
        started = await asyncio.wrap_future(call.started)
        outcome = asyncio.wrap_future(call.outcome)
        if timeout is None:
            return await outcome
        left = timeout - (time.monotonic() - started)
        try:
            return await asyncio.wait_for(asyncio.shield(outcome), max(0.0, left))
        except asyncio.TimeoutError:
            self.abandon(call)
            if call.outcome.done():
                return call.outcome.result()
            outcome.add_done_callback(_retrieve)  # its late outcome is discarded, and never reported as lost
            raise AgentTimeoutError(timeout) from None

    def close(self) -> None:
        """Let idle workers exit; busy ones exit when their call returns."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._jobs.put(None)


def _result_text(result: object) -> str:
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(result)


def _error_text(error: str | BaseException) -> str:
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"


def _check_episode(episode: object) -> None:
    """An episode id is a non-empty string that UTF-8 can encode: checked before the agent is called."""
    if not isinstance(episode, str) or not episode:
        raise InvalidInputError(f"episode must be a non-empty string, got {episode!r}")
    if not episode.isascii():
        try:
            episode.encode()
        except UnicodeEncodeError:
            raise InvalidInputError(
                f"episode {episode!r} is not valid text (a lone surrogate): it could not be stored or logged"
            ) from None


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _is_async(agent: object) -> bool:
    if inspect.iscoroutinefunction(agent):
        return True
    call = getattr(agent, "__call__", None)  # noqa: B004 - we need the bound method itself
    return inspect.iscoroutinefunction(call)


class GuardedAgent:
    """A synchronous agent wrapped by a Guard."""

    def __init__(self, guard: Guard, agent: SyncAgent) -> None:
        self.guard = guard
        self.agent = agent

    def __call__(self, observation: Any, *, episode: str = "default", reward: float | None = None) -> StepResult:
        """Guard one step; see :meth:`Guard.step`."""
        return self.guard.step(self.agent, observation, episode=episode, reward=reward)

    async def acall(self, observation: Any, *, episode: str = "default", reward: float | None = None) -> StepResult:
        """Guard one step without blocking the event loop (the agent runs in a worker thread)."""
        return await self.guard.astep(self.agent, observation, episode=episode, reward=reward)


class AsyncGuardedAgent:
    """An async agent wrapped by a Guard."""

    def __init__(self, guard: Guard, agent: AsyncAgent) -> None:
        self.guard = guard
        self.agent = agent

    async def __call__(self, observation: Any, *, episode: str = "default", reward: float | None = None) -> StepResult:
        """Guard one step; see :meth:`Guard.astep`."""
        return await self.guard.astep(self.agent, observation, episode=episode, reward=reward)
