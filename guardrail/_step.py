"""One guarded step, whole: ask the agent, parse, detect, correct, then build the step's records and event once.

The step is a generator (:func:`run_step`) that yields what it needs done, a :class:`Call` of the agent or a
:class:`Sleep`, and is sent each call's :class:`~guardrail._calling.Answer`. Two small drivers run it,
:func:`drive` for ``Guard.step`` and :func:`adrive` for ``Guard.astep``, so retries, waits, timeouts and awaitables
have one semantics (as httpcore and tenacity share their logic between sync and async).

While the step runs it only notes what happened (each attempt's answer and findings, each policy's act); the
records (:class:`FindingRecord`, :class:`CorrectionRecord`), the event and the :class:`StepResult` are built from
those notes when the step ends and never rewritten. A correction is credited with what it changed: a re-ask with
the answer it got, a vote with its majority, an override with its action.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast
from zlib import crc32

import numpy as np

from guardrail._calling import AgentCaller, Answer
from guardrail._frozen import filled
from guardrail._reask_yield import ReAskYieldTally
from guardrail.actions import ActionSpace
from guardrail.decision import Decision, Reply, Usage
from guardrail.detectors.base import INVALID_ACTION, KNOWING_DOING_GAP, Finding
from guardrail.exceptions import ConfigurationError, InvalidInputError, LoopStopped, NoLegalActionError
from guardrail.history import CallHistoryStore, HistoryStore, HistoryView
from guardrail.parsing import Format, parse
from guardrail.policies.base import (
    Correction,
    Override,
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
from guardrail.prompting import Prompter, as_text, bounded_feedback
from guardrail.rationale import RationaleReader
from guardrail.state import Budget, BudgetView, StepState
from guardrail.telemetry.events import (
    CorrectionKind,
    CorrectionRecord,
    FindingRecord,
    Redaction,
    StepEvent,
    StepStatus,
    step_event,
)
from guardrail.telemetry.sinks import Telemetry, escape_surrogates

__all__ = [
    "LOOP_TEXT_LIMIT",
    "Call",
    "PlannedPolicy",
    "Sleep",
    "StepConfig",
    "StepResult",
    "adrive",
    "drive",
    "run_step",
]


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


@dataclass(frozen=True, slots=True)
class PlannedPolicy:
    """A policy resolved once for the per-step path: its name, the kinds it answers, its ``correct``."""

    name: str
    answers: frozenset[str] | None
    correct: Callable[[StepState], Correction | None]

    @classmethod
    def of(cls, policy: PolicyLike) -> PlannedPolicy:
        """The plan of a policy object or function."""
        return cls(policy_name(policy), answers_of(policy), correct_fn(policy))


@dataclass(frozen=True, slots=True, kw_only=True)
class StepConfig:
    """Everything a step needs from its Guard, fixed when the Guard is built (shared objects by reference)."""

    actions: ActionSpace
    detectors: tuple[Callable[[StepState], Sequence[Finding]], ...]
    policies: tuple[PlannedPolicy, ...]
    notes: tuple[PromptNote, ...]
    max_attempts: int
    budget: Budget
    fallback: str
    seed_key: tuple[int, ...]
    parse: Callable[[Any], Decision]
    prompter: Prompter
    redaction: Redaction
    run_id: str
    clock: Callable[[], float]
    caller: AgentCaller
    history: HistoryStore
    keeps_calls: bool  # the history is a CallHistoryStore: resolved once, a protocol check is slow per step
    telemetry: Telemetry
    reask_yield: ReAskYieldTally
    finish_locks: tuple[threading.Lock, ...]

    @property
    def policy_names(self) -> tuple[str, ...]:
        """The policy chain's names, as telemetry lists them."""
        return tuple(p.name for p in self.policies)


@dataclass(frozen=True, slots=True)
class Call:
    """The step asks its driver to call the agent with ``prompt``."""

    prompt: Any


@dataclass(frozen=True, slots=True)
class Sleep:
    """The step asks its driver to wait ``seconds`` (a re-ask's or a retry's wait)."""

    seconds: float


Effect = Call | Sleep
Steps = Generator[Effect, Answer | None, StepResult]

LOOP_TEXT_LIMIT: Final = 4096
"""In ``astep``, agent outputs longer than this (in characters) are read in a worker thread, off the event loop."""

_UNBOUNDED: Final = BudgetView()
_UNFIXED: Final = frozenset({INVALID_ACTION, KNOWING_DOING_GAP})
"""Finding kinds on a re-ask's answer that mean the re-ask did not fix its step."""


def drive(steps: Steps, call: Callable[[Any], Answer], sleep: Callable[[float], object]) -> StepResult:
    """Run a step synchronously: each :class:`Call` through ``call``, each :class:`Sleep` through ``sleep``."""
    effect: Effect | _Done = _advance(steps, None)
    while not isinstance(effect, _Done):
        if isinstance(effect, Sleep):
            sleep(effect.seconds)
            effect = _advance(steps, None)
        else:
            effect = _advance(steps, call(effect.prompt))
    return effect.result


async def adrive(
    steps: Steps,
    call: Callable[[Any], Awaitable[Answer]],
    sleep: Callable[[float], object],
) -> StepResult:
    """Run a step on an event loop; ``sleep`` may return an awaitable. Long outputs are read off the loop."""
    effect: Effect | _Done = _advance(steps, None)
    while not isinstance(effect, _Done):
        if isinstance(effect, Sleep):
            slept = sleep(effect.seconds)
            if inspect.isawaitable(slept):
                await slept
            effect = _advance(steps, None)
            continue
        answer = await call(effect.prompt)
        if _text_length(answer.output) > LOOP_TEXT_LIMIT:  # reading a long output is not the loop's business
            effect = await asyncio.to_thread(_advance, steps, answer)
        else:
            effect = _advance(steps, answer)
    return effect.result


@dataclass(frozen=True, slots=True)
class _Done:
    result: StepResult


def _advance(steps: Steps, answer: Answer | None) -> Effect | _Done:
    """The step's next effect, or its result (a StopIteration cannot cross a thread's future)."""
    try:
        return steps.send(answer)  # send(None) starts the generator
    except StopIteration as done:
        return _Done(done.value)


def _text_length(raw: Any) -> int:
    if isinstance(raw, Reply):
        raw = raw.output
    return len(raw) if isinstance(raw, str) else 0


How = Literal["applied", "shadow", "skipped", "blocked"]
"""What became of a policy's correction: applied, logged only (Observe), skipped by the policy, or budget-blocked."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Act:
    """What one policy did on one attempt, noted when it did it (the record is built from it at the end)."""

    policy: str
    kind: CorrectionKind
    how: How
    attempt: int
    from_action: str | None = None
    to_action: str | None = None
    reason: str = ""
    answers: frozenset[str] | None = None  # a blocked act: the finding kinds its policy answers


@dataclass(frozen=True, slots=True)
class _Voted:
    """A finished vote's majority (None when no sample named a legal action)."""

    action: str | None


def run_step(config: StepConfig, observation: Any, *, episode: str, agent: str | None) -> Steps:
    """The step of ``observation`` in ``episode``: yields calls and sleeps, returns the :class:`StepResult`.

    Raises what the agent raised (after writing the step's ``agent_error`` event),
    :class:`NoLegalActionError` (after its ``no_legal_action`` event) and a policy's :class:`LoopStopped` (after
    its ``stopped`` event).
    """
    return _Step(config, observation, episode, agent).run()


class _Step:
    """The notes of one step in flight; only :func:`run_step` makes one."""

    def __init__(self, config: StepConfig, observation: Any, episode: str, agent: str | None) -> None:
        self.config = config
        self.observation = observation
        self.episode = episode
        self.agent = agent
        self.started = config.clock()
        self.started_mono = time.monotonic()
        self.episode_key = crc32(episode.encode())  # the Guard checked that it encodes
        self.view: HistoryView = config.history.view(episode, len(config.actions))
        self.yields = config.reask_yield.view(agent or "", episode)
        self.pending: deque[tuple[Any, float]] = deque()
        self.calls = 0
        self.judge_calls = 0
        self.usage: Usage | None = None
        self.agent_seconds = 0.0
        self.errors: list[str] = []
        self.last_raw: Any = None
        self.answers: list[Decision] = []  # one per attempt; vote samples apart
        self.found: list[tuple[int, Finding]] = []  # (attempt, finding): the one list of findings
        self.acts: list[_Act] = []
        self.samples: list[Decision] = []
        self.samples_wanted = 0
        self.voted: _Voted | None = None
        self.final_action: str | None = None
        self.settled = False

    # -- the loop --------------------------------------------------------------------------------------
    def run(self) -> Steps:
        prompt = self.observation
        for noting in self.config.notes:
            note = noting.note(self.view, self.config.actions)
            if note:
                prompt = self.config.prompter.annotate(prompt, note)
        self.prompt = prompt
        self.pending.append((prompt, 0.0))
        while self.pending and not self.settled:
            prompt, wait = self.pending.popleft()
            if wait > 0:
                yield Sleep(wait)
            answer = yield from self._ask(prompt)
            try:
                self._receive(answer.output)
            except LoopStopped as stopped:  # a policy ended the agent: the step's event says so, then it propagates
                self.config.telemetry.emit(self._event(self.view.t, "stopped", self._records(), stopped))
                raise
        return self._finish()

    def _ask(self, prompt: Any) -> Generator[Effect, Answer | None, Answer]:
        """One answer of the agent, retried as the guard's ``agent_retry`` allows; raises what it raised last."""
        tries = 0
        first_try = time.monotonic()
        while True:
            answer = yield Call(prompt)
            assert answer is not None, "a driver sends an Answer for every Call"
            tries += 1
            self.calls += 1  # a failed call still counts
            self.agent_seconds += answer.seconds
            error = answer.error
            if error is None:
                return answer
            self.errors.append(f"{type(error).__name__}: {error}"[:500])
            wait = self.config.caller.retry_wait(tries, first_try, error) if answer.retryable else None
            if wait is None:
                self.config.telemetry.emit(self._event(self.view.t, "agent_error", self._records(), error))
                raise error
            if wait > 0:
                yield Sleep(wait)

    def _receive(self, raw: Any) -> None:
        if isinstance(raw, Reply):
            self.calls += raw.calls - 1
            if raw.usage is not None:
                self.usage = raw.usage if self.usage is None else self.usage + raw.usage
            raw = raw.output
        self.last_raw = raw
        decision = self.config.parse(raw)
        self.judge_calls += decision.rationale_judge_calls
        if self.samples_wanted:
            self.samples.append(decision)
            if len(self.samples) == self.samples_wanted:
                self.voted = _Voted(majority_vote(self.samples, prefer=self.samples[0].rationale_action))
                self._settle(self.voted.action)
            return
        self.answers.append(decision)
        self._decide(decision, raw)

    # -- deciding ----------------------------------------------------------------------------------------
    @property
    def attempt(self) -> int:
        return len(self.answers)

    def _interventions(self) -> int:
        return sum(1 for act in self.acts if act.how == "applied")

    def _state(self, decision: Decision) -> StepState:
        config, view = self.config, self.view
        budget = config.budget
        extra_used = self.calls - 1
        steps_since = None if view.last_exploration_step is None else view.t - view.last_exploration_step
        return filled(
            StepState,
            actions=config.actions,
            decision=decision,
            history=view,
            findings=(),
            episode=self.episode,
            step=view.t,
            attempt=self.attempt,
            max_attempts=config.max_attempts,
            budget=_UNBOUNDED
            if steps_since is None and budget.unbounded
            else BudgetView(
                interventions_left=None
                if budget.max_interventions_per_episode is None
                else budget.max_interventions_per_episode - view.interventions - self._interventions(),
                extra_calls_left_step=None
                if budget.max_extra_calls_per_step is None
                else budget.max_extra_calls_per_step - extra_used,
                extra_calls_left_episode=None
                if budget.max_extra_calls_per_episode is None
                else budget.max_extra_calls_per_episode - view.extra_agent_calls - extra_used,
                steps_since_exploration=steps_since,
            ),
            seed=(*config.seed_key, self.episode_key, view.t, self.attempt),
            observation=self.observation,
            started_at=self.started_mono,
            reask_yield=self.yields,
        )

    def _decide(self, decision: Decision, raw: Any) -> None:
        state = self._state(decision)
        findings = [f for detect in self.config.detectors for f in detect(state) or ()]
        kinds: frozenset[str] = frozenset()
        if findings:
            self.found.extend((self.attempt, f) for f in findings)
            # dataclasses.replace would re-run __init__, which costs more than the step
            state = filled(StepState, **{**state.__dict__, "findings": tuple(findings)})
            kinds = frozenset(f.kind for f in findings)
        for policy in self.config.policies:
            if policy.answers is not None and policy.answers.isdisjoint(kinds):
                continue
            correction = policy.correct(state)
            if correction is not None and self._apply(policy, correction, state, raw):
                return
        self._settle(decision.action)

    def _note(
        self,
        policy: PlannedPolicy | str,
        kind: CorrectionKind,
        how: How,
        *,
        from_action: str | None,
        to_action: str | None = None,
        reason: str,
    ) -> None:
        name = policy if isinstance(policy, str) else policy.name
        answers = policy.answers if isinstance(policy, PlannedPolicy) and how == "blocked" else None
        self.acts.append(
            _Act(
                policy=name,
                kind=kind,
                how=how,
                attempt=self.attempt,
                from_action=from_action,
                to_action=to_action,
                reason=reason,
                answers=answers,
            )
        )

    def _apply(self, policy: PlannedPolicy, correction: Correction, state: StepState, raw: Any) -> bool:
        """Note one correction and act on it; True when it ends this attempt's policy chain."""
        action = state.decision.action
        if isinstance(correction, Shadow):
            inner = correction.correction
            self._note(
                correction.policy,
                _kind_of(inner),
                "shadow",
                from_action=action,
                to_action=inner.action if isinstance(inner, Override) else None,
                reason=inner.reason if isinstance(inner, Override) else "shadow",
            )
            return False
        if isinstance(correction, Skip):
            self._note(policy, correction.kind, "skipped", from_action=action, reason=correction.reason)
            return False
        kind = _kind_of(correction)
        budget = state.budget
        if not budget.can_intervene:
            self._note(policy, kind, "blocked", from_action=action, reason="budget exhausted")
            return False
        if isinstance(correction, Override):
            if correction.action not in self.config.actions:
                raise ConfigurationError(f"policy {policy.name} overrode to {correction.action!r}, not a legal action")
            if correction.explore:
                gap = budget.steps_since_exploration
                if gap is not None and gap < self.config.budget.min_steps_between_explorations:
                    self._note(policy, kind, "blocked", from_action=action, reason="budget exhausted")
                    return False
            self._note(
                policy, kind, "applied", from_action=action, to_action=correction.action, reason=correction.reason
            )
            self._settle(correction.action)
            return True
        if isinstance(correction, ReAskRequest):
            if not budget.can_call(1):
                self._note(policy, kind, "blocked", from_action=action, reason="budget exhausted")
                return False
            feedback = bounded_feedback(correction.feedback, self.config.actions, state.decision)
            self.pending.append((self.config.prompter.reask(self.prompt, raw, feedback), correction.wait))
            self._note(policy, kind, "applied", from_action=action, reason=feedback)
            return True
        # SampleRequest: as many extra samples as the budget allows
        left = [x for x in (budget.extra_calls_left_step, budget.extra_calls_left_episode) if x is not None]
        n = min([correction.n, *left])
        if n < 1:
            self._note(policy, kind, "blocked", from_action=action, reason="budget exhausted")
            return False
        self.samples = [state.decision]
        self.samples_wanted = n + 1
        self.pending.extend((self.prompt, 0.0) for _ in range(n))
        self._note(policy, kind, "applied", from_action=action, reason=correction.policy_reason)
        return True

    def _settle(self, action: str | None) -> None:
        if action is None:
            action = self._fallback()
        self.final_action = action
        self.settled = True

    def _fallback(self) -> str | None:
        config = self.config
        if config.fallback == "raise":
            return None
        if config.fallback == "random":
            rng = np.random.default_rng((*config.seed_key, self.episode_key, self.view.t, 1 << 20))
            action = config.actions.names[int(rng.integers(len(config.actions)))]
            reason = "no legal action: seeded random legal action"
        else:
            action, reason = config.fallback, "no legal action: configured default"
        self.acts.append(
            _Act(policy="fallback", kind="fallback", how="applied", attempt=0, to_action=action, reason=reason)
        )
        return action

    # -- ending: every record built here, once -------------------------------------------------------------
    def _records(self) -> tuple[tuple[FindingRecord, ...], tuple[CorrectionRecord, ...]]:
        blocked = [act for act in self.acts if act.how == "blocked"]
        findings = tuple(
            FindingRecord(
                kind=f.kind,
                score=f.score,
                detail=f.detail,
                actions=f.actions,
                data=f.data,
                attempt=attempt,
                budget_exhausted=any(
                    act.attempt == attempt and (act.answers is None or f.kind in act.answers) for act in blocked
                ),
            )
            for attempt, f in self.found
        )
        return findings, tuple(self._correction(act) for act in self.acts)

    def _correction(self, act: _Act) -> CorrectionRecord:
        to_action, attempts, reason = act.to_action, act.attempt, act.reason
        if act.how == "applied" and act.kind == "reask":  # credited with the answer it got, if it got one
            to_action = self.answers[act.attempt].action if len(self.answers) > act.attempt else None
        elif act.how == "applied" and act.kind == "vote" and self.voted is not None:
            to_action = self.voted.action
            attempts += len(self.samples) - 1
            reason = f"{reason}: {', '.join(f'{d.action}' for d in self.samples)}"
        fields: dict[str, Any] = {"policy": act.policy, "kind": act.kind, "reason": reason}
        if act.kind != "fallback":
            fields.update(from_action=act.from_action, attempts=attempts)
        return CorrectionRecord(**fields, to_action=to_action, applied=act.how == "applied")

    def _event(
        self,
        step: int,
        status: StepStatus,
        records: tuple[tuple[FindingRecord, ...], tuple[CorrectionRecord, ...]],
        error: BaseException | None = None,
    ) -> StepEvent:
        config = self.config
        first = self.answers[0] if self.answers else None
        last = self.answers[-1] if self.answers else None
        wall = config.clock() - self.started
        counts: dict[str, int] | None = None
        coverage: float | None = None
        if self.final_action is not None:
            index = config.actions.index(self.final_action)
            view = self.view
            counts_list = list(view.counts)
            counts_list[index] += 1
            names = config.actions.names
            # Once every action has been chosen (the common case) no zero is left out: dict() builds it in C.
            counts = (
                dict(zip(names, counts_list, strict=True))
                if 0 not in counts_list
                else {name: n for name, n in zip(names, counts_list, strict=True) if n}
            )
            coverage = (view.tried + (view.counts[index] == 0)) / view.k
        usage = self.usage
        return step_event(
            redaction=config.redaction,
            run_id=config.run_id,
            episode=self.episode,
            step=step,
            status=status,
            agent=self.agent,
            format=last.format if last else None,
            raw=as_text(self.last_raw) if self.last_raw is not None else None,
            rationale=last.rationale if last else None,
            raw_action=last.raw_action if last else None,
            parsed_action=first.action if first else None,
            rationale_action=first.rationale_action if first else None,
            rationale_confidence=float(first.rationale_confidence) if first else 0.0,
            final_rationale_action=last.rationale_action if last else None,
            findings=records[0],
            corrections=records[1],
            final_action=self.final_action,
            agent_calls=self.calls,
            judge_calls=self.judge_calls,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            agent_latency_s=float(self.agent_seconds),
            guard_latency_s=float(max(0.0, wall - self.agent_seconds)),
            coverage=coverage,
            counts=counts,
            error=f"{type(error).__name__}: {error}" if error is not None else None,
            agent_errors=tuple(self.errors),
            policies=config.policy_names,
        )

    def _tally_reasks(self, findings: tuple[FindingRecord, ...]) -> None:
        """A re-ask fixed its step when its answer is legal and raised no invalid-action or knowing-doing finding."""
        outcomes: list[bool] = []
        skipped = 0
        for act in self.acts:
            if act.kind != "reask":
                continue
            skipped += act.how == "skipped"
            if act.how == "applied" and len(self.answers) > act.attempt:
                answered = act.attempt + 1
                unfixed = any(r.attempt == answered and r.kind in _UNFIXED for r in findings)
                outcomes.append(self.answers[act.attempt].action is not None and not unfixed)
        if outcomes or skipped:
            self.config.reask_yield.record(self.agent or "", self.episode, outcomes, skipped)

    def _record(self) -> int:
        config = self.config
        action = self.final_action
        assert action is not None
        k = len(config.actions)
        costs: dict[str, Any] = {
            "interventions": self._interventions(),
            "extra_agent_calls": self.calls - 1,
            "explored": any(act.kind == "explore" and act.how == "applied" for act in self.acts),
        }
        if not config.keeps_calls:
            return config.history.record_step(self.episode, k, config.actions.index(action), **costs)
        decision = self.answers[-1]  # the executed call, with the last answer's arguments when it named this action
        arguments = decision.arguments if decision.action == action else None
        # The step and its call as one write where the store can (StepCallStore); getattr, as a protocol check per
        # step is slow.
        together = getattr(config.history, "record_step_call", None)
        if together is not None:
            return int(together(self.episode, k, config.actions.index(action), action, arguments, **costs))
        index = config.history.record_step(self.episode, k, config.actions.index(action), **costs)
        cast(CallHistoryStore, config.history).record_call(self.episode, k, index, action, arguments)
        return index

    def _finish(self) -> StepResult:
        config = self.config
        records = self._records()
        self._tally_reasks(records[0])
        if self.final_action is None:
            config.telemetry.emit(self._event(self.view.t, "no_legal_action", records))
            raise NoLegalActionError(
                f"no legal action after {self.attempt} attempt(s) in episode {self.episode!r}; "
                f"last output: {as_text(self.last_raw)[:200]!r}",
                episode=self.episode,
                step=self.view.t,
                attempts=self.calls,
                last_output=self.last_raw,
                findings=[f for _, f in self.found],
            )
        if config.telemetry.raise_error:
            # The event first: a sink that fails raises before the step is recorded, so a retry counts it once.
            # Steps of one episode finishing at once in this process take turns, so the index read is the index
            # record_step gives (another process writing the same episode meanwhile is the one way it is not).
            with config.finish_locks[self.episode_key % len(config.finish_locks)]:
                step = config.history.view(self.episode, len(config.actions)).t
                event = self._event(step, "ok", records)
                config.telemetry.emit(event)
                self._record()
        else:
            step = self._record()
            event = self._event(step, "ok", records)
            config.telemetry.emit(event)
        return filled(
            StepResult,
            action=self.final_action,
            decision=self.answers[-1],
            first_decision=self.answers[0],
            episode=self.episode,
            step=step,
            findings=tuple(f for _, f in self.found),
            corrections=records[1],
            agent_calls=self.calls,
            event=event,
        )


def reading(
    actions: ActionSpace,
    format: Format,
    reader: RationaleReader | None,
    parser: Callable[[Any, ActionSpace], Decision] | None,
) -> Callable[[Any], Decision]:
    """How a step reads an agent's output: the user's parser, or :func:`parse` with the guard's format."""
    if parser is not None:
        return lambda raw: parser(raw, actions)

    def read(raw: Any) -> Decision:
        try:
            return parse(raw, actions, format=format, reader=reader)
        except UnicodeEncodeError:  # a lone surrogate in the output: read it with the surrogates escaped
            if not isinstance(raw, str):
                raise
            return parse(escape_surrogates(raw), actions, format=format, reader=reader)

    return read


def check_episode(episode: object) -> None:
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


def _kind_of(correction: Override | ReAskRequest | SampleRequest) -> CorrectionKind:
    if isinstance(correction, ReAskRequest):
        return "reask"
    if isinstance(correction, SampleRequest):
        return "vote"
    return "explore" if correction.explore else "override"
