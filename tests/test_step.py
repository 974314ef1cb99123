"""One step, run both ways: every behaviour here holds for ``Guard.step`` and ``Guard.astep`` alike."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
import tenacity

from guardrail import (
    AgentTimeoutError,
    Budget,
    Guard,
    InvalidInputError,
    MemorySink,
    OverrideToRationale,
    ReAsk,
    ReAskRequest,
    SelfConsistency,
    StepResult,
)
from guardrail.state import StepState
from guardrail.testing import ScriptedAgent

GAP = "Blue has the highest UCB, so I should choose blue.\nACTION=red"
GAP_GREEN = "Blue has the highest UCB, so I should choose blue.\nACTION=green"
GOOD = "Blue has the highest UCB, so I should choose blue.\nACTION=blue"
COLOURS = ["red", "green", "blue"]

Run = Callable[..., StepResult]


def make_guard(**kwargs: Any) -> tuple[Guard, MemorySink]:
    sink = MemorySink()
    kwargs.setdefault("telemetry", sink)
    kwargs.setdefault("seed", 7)
    return Guard(COLOURS, **kwargs), sink


class Flaky:
    """Raises ``failures`` times, then answers."""

    def __init__(self, failures: int, output: str = GOOD) -> None:
        self.failures = failures
        self.output = output
        self.calls = 0

    def __call__(self, prompt: object) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"transient {self.calls}")
        return self.output


def test_a_reask_is_credited_with_its_answer_not_with_the_override_after_it(run: Run) -> None:
    """ReAsk then OverrideToRationale on an agent that contradicts itself twice: the re-ask's record says it got
    green (what its answer chose), the override's says it made blue; neither takes the other's credit."""
    guard, sink = make_guard(policies=[ReAsk(max_attempts=2, adaptive=None), OverrideToRationale()])
    result = run(guard, ScriptedAgent([GAP, GAP_GREEN]))
    assert result.action == "blue"
    reask, override = result.corrections
    assert (reask.kind, reask.from_action, reask.to_action, reask.attempts) == ("reask", "red", "green", 1)
    assert (override.kind, override.from_action, override.to_action, override.attempts) == (
        "override",
        "green",
        "blue",
        2,
    )
    assert sink.steps[0].corrections[1].to_action == "blue"


def test_a_reask_whose_answer_fixes_the_step_is_credited_with_that_answer(run: Run) -> None:
    """A re-ask answered with the rationale's action is the one correction, credited with it."""
    guard, _ = make_guard(policies=[ReAsk(adaptive=None), OverrideToRationale()])
    result = run(guard, ScriptedAgent([GAP, GOOD]))
    assert [(c.kind, c.to_action, c.applied) for c in result.corrections] == [("reask", "blue", True)]


def test_a_steps_records_are_frozen(run: Run) -> None:
    """The result, its records, its findings, its decisions and its event cannot be changed after the step."""
    guard, sink = make_guard(policies=[ReAsk(adaptive=None), OverrideToRationale()])
    result = run(guard, ScriptedAgent([GAP, GAP]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.action = "red"  # type: ignore[misc]
    for record in (result.corrections[0], result.event.findings[0], result.event, sink.steps[0]):
        with pytest.raises(pydantic.ValidationError, match="frozen"):
            record.attempts = 9  # type: ignore[union-attr]
    for value in (result.findings[0], result.decision):
        with pytest.raises(pydantic.ValidationError, match="frozen"):
            value.detail = "changed"  # type: ignore[union-attr]


def test_findings_are_kept_once_and_name_the_attempt_that_raised_them(run: Run) -> None:
    """Two contradicting answers give one gap per attempt, the same in the result and in the event."""
    guard, sink = make_guard(policies=[ReAsk(adaptive=None), OverrideToRationale()])
    result = run(guard, ScriptedAgent([GAP, GAP]))
    assert [f.kind for f in result.findings] == ["knowing_doing_gap", "knowing_doing_gap"]
    assert [(f.kind, f.attempt) for f in sink.steps[0].findings] == [("knowing_doing_gap", 1), ("knowing_doing_gap", 2)]


def test_a_reask_the_budget_stops_marks_only_the_findings_it_answers(run: Run) -> None:
    """With no extra call allowed the re-ask is logged unapplied and its finding marked budget-exhausted."""
    guard, sink = make_guard(
        policies=[ReAsk(adaptive=None), OverrideToRationale()], budget=Budget(max_extra_calls_per_step=0)
    )
    result = run(guard, ScriptedAgent([GAP]))
    assert [(c.kind, c.applied, c.reason) for c in result.corrections] == [
        ("reask", False, "budget exhausted"),
        ("override", True, result.corrections[1].reason),
    ]
    assert [f.budget_exhausted for f in sink.steps[0].findings] == [True]


def test_the_injected_sleep_waits_before_a_reask(run: Run) -> None:
    """ReAsk(wait=...) waits through the guard's sleep, in step and astep alike (no real waiting)."""
    slept: list[float] = []
    guard, _ = make_guard(
        policies=[ReAsk(adaptive=None, wait=tenacity.wait_fixed(2.5))], sleep=slept.append, fallback="random"
    )
    run(guard, ScriptedAgent([GAP, GOOD]))
    assert slept == [2.5]


def test_a_plain_function_policy_can_ask_again_with_a_wait(run: Run) -> None:
    """The engine reads the wait from the request, whatever made it: a function policy waits as ReAsk does."""
    slept: list[float] = []

    def ask_once_more(state: StepState) -> ReAskRequest | None:
        return ReAskRequest(feedback="again", wait=1.25) if state.attempt == 1 else None

    guard, _ = make_guard(policies=[ask_once_more], sleep=slept.append)
    result = run(guard, ScriptedAgent([GAP, GOOD]))
    assert (result.action, result.agent_calls, slept) == ("blue", 2, [1.25])


def test_a_failing_call_is_retried_after_the_injected_sleep_and_every_try_is_counted(run: Run) -> None:
    """agent_retry=3 with a fixed wait: two failures, two sleeps of that wait, then the answer; three calls."""
    slept: list[float] = []
    guard, sink = make_guard(agent_retry=3, agent_retry_wait=tenacity.wait_fixed(0.75), sleep=slept.append)
    agent = Flaky(failures=2)
    result = run(guard, agent)
    assert (result.action, agent.calls, slept) == ("blue", 3, [0.75, 0.75])
    assert sink.steps[0].agent_calls == 3
    assert sink.steps[0].agent_errors == ("ConnectionError: transient 1", "ConnectionError: transient 2")


def test_when_retries_run_out_the_last_error_is_raised_after_its_event(run: Run) -> None:
    """The agent's own error, unchanged, once the stop strategy says so; the event counts every try."""
    guard, sink = make_guard(agent_retry=2, sleep=lambda seconds: None)
    with pytest.raises(ConnectionError, match="transient 2"):
        run(guard, Flaky(failures=5))
    assert (sink.steps[0].status, sink.steps[0].agent_calls) == ("agent_error", 2)


def test_an_awaitable_from_a_sync_agent_is_refused_and_not_retried(run: Run) -> None:
    """A sync agent that returns an awaitable is a mistake both ways: InvalidInputError, one call, its event."""

    async def answer() -> str:
        return GOOD

    calls: list[object] = []

    def returns_a_coroutine(prompt: object) -> object:
        calls.append(prompt)
        return answer()

    guard, sink = make_guard(agent_retry=3, sleep=lambda seconds: None)
    with pytest.raises(InvalidInputError, match="async def"):
        run(guard, returns_a_coroutine)
    assert len(calls) == 1
    assert sink.steps[0].status == "agent_error"


def test_a_call_past_its_timeout_raises_agent_timeout_error(run: Run) -> None:
    """A sync agent slower than agent_timeout: AgentTimeoutError (measured from the agent's start), and an event."""
    import threading

    release = threading.Event()

    def hangs(prompt: object) -> str:
        release.wait(5.0)
        return GOOD

    guard, sink = make_guard(agent_timeout=0.05)
    try:
        with pytest.raises(AgentTimeoutError):
            run(guard, hangs)
    finally:
        release.set()
        guard.close()
    assert sink.steps[0].status == "agent_error"


def test_self_consistency_records_the_vote_once_with_its_tally(run: Run) -> None:
    """A vote over three answers is one correction: credited with the majority, its reason listing the votes."""
    guard, _ = make_guard(policies=[SelfConsistency(samples=3)])
    result = run(guard, ScriptedAgent([GAP, GOOD, GOOD]))
    (vote,) = result.corrections
    assert (vote.kind, vote.from_action, vote.to_action, vote.attempts) == ("vote", "red", "blue", 3)
    assert vote.reason.endswith("red, blue, blue")
    assert (result.action, result.agent_calls) == ("blue", 3)


def test_an_async_agent_is_refused_by_step_before_it_is_called() -> None:
    """step() of an async agent raises InvalidInputError naming astep, and the agent never runs."""
    calls: list[object] = []

    async def agent(prompt: object) -> str:
        calls.append(prompt)
        return GOOD

    guard, sink = make_guard()
    with pytest.raises(InvalidInputError, match="astep"):
        guard.step(agent, "o")
    assert (calls, sink.events) == ([], [])


def test_astep_awaits_an_injected_async_sleep() -> None:
    """An injected sleep that returns an awaitable is awaited by astep."""
    slept: list[float] = []

    async def asleep(seconds: float) -> None:
        slept.append(seconds)

    guard, _ = make_guard(policies=[ReAsk(adaptive=None, wait=tenacity.wait_fixed(3))], sleep=asleep)
    result = asyncio.run(guard.astep(ScriptedAgent([GAP, GOOD]), "o"))
    assert (result.action, slept) == ("blue", [3.0])
