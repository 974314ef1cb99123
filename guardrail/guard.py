"""Guard: its configuration, checked when it is built; ``step``/``astep``; rewards, outcomes and user messages.

The step is in :mod:`guardrail._step` (one module, driven sync or async), agent calls in :mod:`guardrail._calling`,
the wrapped agents in :mod:`guardrail._wrappers`, argument checks in :mod:`guardrail._checks`.
"""

from __future__ import annotations

import asyncio
import copy
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, cast, overload

from tenacity.stop import stop_base
from tenacity.wait import wait_base

from guardrail._calling import AgentCaller, AsyncAgent, SyncAgent, agent_name, is_async
from guardrail._checks import Fallback, checked_actions, checked_fallback, checked_seed, of_type, require_callable
from guardrail._reask_yield import ReAskYieldTally
from guardrail._step import PlannedPolicy, StepConfig, StepResult, adrive, check_episode, drive, reading, run_step
from guardrail._wrappers import AsyncGuardedAgent, GuardedAgent
from guardrail.actions import ActionSpace
from guardrail.decision import Decision
from guardrail.detectors.base import DetectorLike, checked_detectors, detect_fn
from guardrail.detectors.invalid import InvalidAction
from guardrail.detectors.knowing_doing import KnowingDoingGap
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail.history import (
    CallHistoryStore,
    HistoryStore,
    HistoryView,
    check_reward,
    checked_history,
    record_outcome,
)
from guardrail.parsing import Format
from guardrail.policies.base import AsksAgain, PolicyLike, PromptNote, checked_policies, policy_name
from guardrail.prompting import Prompter, TextPrompter
from guardrail.rationale import RationaleReader
from guardrail.state import Budget, ReAskYields
from guardrail.telemetry.events import Redaction, RewardEvent
from guardrail.telemetry.sinks import Sink, Telemetry, as_sinks

__all__ = ["AsyncGuardedAgent", "Budget", "Fallback", "Guard", "GuardedAgent", "Prompter", "StepResult", "TextPrompter"]


class Guard:
    """Guards an agent's steps: parses its output, detects gaps and biases, corrects them by policy, logs.

    Every argument is checked here: a wrong one is a :class:`ConfigurationError` naming it, never an error at
    step 1. The configuration is fixed once built (use :meth:`adapted` for a variant).

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
        clock: the clock latencies are measured with.
        sleep: how ``step`` and ``astep`` alike wait before a re-ask or a retry (default: ``time.sleep`` in
            ``step``, ``asyncio.sleep`` in ``astep``); it may return an awaitable, which ``astep`` awaits.
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
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.actions = checked_actions(actions)
        self.policies: tuple[PolicyLike, ...] = checked_policies(policies)
        self.detectors: tuple[DetectorLike, ...] = (
            (KnowingDoingGap(), InvalidAction()) if detectors is None else checked_detectors(detectors)
        )
        self.fallback: Fallback = checked_fallback(fallback, self.actions)
        self.seed = checked_seed(seed)
        self._seed_key: tuple[int, ...] = (seed,) if seed is not None else (uuid.uuid4().int & (2**63 - 1),)
        self.budget = of_type("budget", budget, Budget) or Budget()
        self.history: HistoryStore = checked_history(history, self.detectors)  # a detector may need its calls
        require_callable(reader=reader, parser=parser, clock=clock, sleep=sleep)
        self.reader = reader
        self.format: Format = format
        self.parser = parser
        self.prompter: Prompter = of_type("prompter", prompter, Prompter) or TextPrompter()
        self.redaction = of_type("redaction", redaction, Redaction) or Redaction()
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.telemetry = Telemetry(as_sinks(telemetry), raise_error=raise_on_sink_error)
        self.clock = clock
        self.sleep = sleep
        self._caller = AgentCaller(  # it checks these arguments
            timeout=agent_timeout,
            retry=agent_retry,
            retry_wait=agent_retry_wait,
            max_abandoned=max_abandoned_calls,
            clock=clock,
        )
        self.agent_timeout = agent_timeout
        self.max_abandoned_calls = max_abandoned_calls
        self._reask_yield = ReAskYieldTally()  # per Guard, in memory: see guardrail/_reask_yield.py for why
        self._finish_locks = tuple(threading.Lock() for _ in range(64))
        self._closed = False
        self._config = self._step_config()

    def _step_config(self) -> StepConfig:
        """The frozen configuration a step runs with (policies and detectors resolved once, off the step path)."""
        policies = self.policies
        asks = [p.max_attempts for p in cast(tuple[object, ...], policies) if isinstance(p, AsksAgain)]
        return StepConfig(
            actions=self.actions,
            detectors=tuple(detect_fn(d) for d in self.detectors),
            policies=tuple(PlannedPolicy.of(p) for p in policies),
            notes=tuple(p for p in cast(tuple[object, ...], policies) if isinstance(p, PromptNote)),
            max_attempts=max(asks, default=1),
            budget=self.budget,
            fallback=self.fallback,
            seed_key=self._seed_key,
            parse=reading(self.actions, self.format, self.reader, self.parser),
            prompter=self.prompter,
            redaction=self.redaction,
            run_id=self.run_id,
            clock=self.clock,
            caller=self._caller,
            history=self.history,
            keeps_calls=isinstance(self.history, CallHistoryStore),
            telemetry=self.telemetry,
            reask_yield=self._reask_yield,
            finish_locks=self._finish_locks,
        )

    def _begin(self, episode: str, reward: float | None) -> None:
        check_episode(episode)
        if reward is not None:
            self.record_reward(episode, reward)

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
            InvalidInputError: ``agent`` is async (use :meth:`astep`), or returned an awaitable; a bad episode id.
            NoLegalActionError: no legal action and ``fallback="raise"`` (the event is written first).
            LoopStopped: a policy (:class:`~guardrail.Escalation`) stopped the agent (the ``stopped`` event first).
            Exception: whatever the agent raised, unchanged (the event is written first).
        """
        if is_async(agent):
            raise InvalidInputError(f"{agent_name(agent)} is an async agent; use `await guard.astep(...)`")
        self._begin(episode, reward)
        steps = run_step(self._config, observation, episode=episode, agent=agent_name(agent))
        return drive(steps, lambda prompt: self._caller.call(agent, prompt), self.sleep or time.sleep)

    async def astep(
        self,
        agent: SyncAgent | AsyncAgent,
        observation: Any,
        *,
        episode: str = "default",
        reward: float | None = None,
    ) -> StepResult:
        """Guard one step of an agent that may be async (a sync agent is run in a worker thread).

        Behaves as :meth:`step` in every other way. The guard's own work on an output longer than
        ``guardrail._step.LOOP_TEXT_LIMIT`` characters runs in a worker thread, so the event loop never spends more
        than the bounded cost of a short output on one step.
        """
        self._begin(episode, reward)
        steps = run_step(self._config, observation, episode=episode, agent=agent_name(agent))
        return await adrive(steps, lambda prompt: self._caller.acall(agent, prompt), self.sleep or asyncio.sleep)

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
        if is_async(agent):
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
        history, telemetry, policies, budget and agent threads (steps through it count in the same episodes and
        write to the same sinks); otherwise it is this guard. The guard itself is never changed.
        """
        use_parser = parser is not None and self.parser is None
        use_prompter = prompter is not None and isinstance(self.prompter, TextPrompter)
        if not (use_parser or use_prompter):
            return self
        return self.replace(parser=parser if use_parser else None, prompter=prompter if use_prompter else None)

    def replace(
        self, *, parser: Callable[[Any, ActionSpace], Decision] | None = None, prompter: Prompter | None = None
    ) -> Guard:
        """A copy of this guard reading with ``parser`` and prompting with ``prompter`` (None keeps this guard's).

        The copy shares this guard's history, telemetry, policies, budget and agent threads; this guard is unchanged.
        """
        copied = copy.copy(self)
        if parser is not None:
            copied.parser = parser
        copied.prompter = of_type("prompter", prompter, Prompter) or self.prompter
        copied._config = copied._step_config()
        return copied

    def record_reward(self, episode: str, reward: float, *, step: int | None = None) -> None:
        """Record the reward of the episode's oldest unrewarded step (or of ``step``).

        Raises:
            InvalidInputError: the reward is not a finite number, or no step is waiting for one.
        """
        check_episode(episode)
        value = check_reward(reward)
        index = self.history.record_reward(episode, len(self.actions), value, step=step)
        self.telemetry.emit(RewardEvent(run_id=self.run_id, episode=episode, step=index, reward=value))

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
        check_episode(episode)
        record_outcome(self.history, episode, len(self.actions), result=result, error=error, step=step)

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
        check_episode(episode)
        if self._config.keeps_calls:
            cast(CallHistoryStore, self.history).new_user_message(episode, len(self.actions))

    async def anew_user_message(self, episode: str) -> None:
        """Async twin of :meth:`new_user_message`."""
        await asyncio.to_thread(self.new_user_message, episode)

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
            self._caller.close()

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        policies = ", ".join(policy_name(p) for p in self.policies)
        return f"Guard(actions={list(self.actions.names)!r}, policies=[{policies}])"
