"""Faults: the agent raises or hangs, a sink fails or is slow. Each test also checks nothing recorded is lost.

(Redis being down is tested in test_redis_store.py, for each ``on_error`` mode.)
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from guardrail import Guard, MemorySink
from guardrail.exceptions import AgentTimeoutError
from guardrail.telemetry.background import BackgroundSink
from guardrail.telemetry.events import StepEvent
from guardrail.telemetry.sinks import SinkWarning
from tests.production.conftest import agent_for, answer

ACTIONS = ["red", "green", "blue"]


def _warm(guard: Guard, episode: str = "e") -> None:
    """Two recorded steps and one reward, so a later fault has something to lose."""
    guard.step(agent_for("red"), "choose", episode=episode)
    guard.record_reward(episode, 1.0)
    guard.step(agent_for("green"), "choose", episode=episode)


def _assert_warm_history_intact(guard: Guard, episode: str = "e") -> None:
    view = guard.view(episode)
    assert view.t == 2
    assert view.counts == (1, 1, 0)
    assert view.rewarded_steps == 1


class Boom(Exception):
    """The agent's own error."""


def test_agent_error_is_recorded_and_propagates_unchanged() -> None:
    """An agent that raises: the step event is written with status agent_error, the very same exception
    object propagates, and the episode's history is unchanged."""
    sink = MemorySink()
    guard = Guard(ACTIONS, telemetry=sink)
    _warm(guard)
    error = Boom("model server unavailable")

    def agent(prompt: object) -> str:
        raise error

    with pytest.raises(Boom) as caught:
        guard.step(agent, "choose", episode="e")
    assert caught.value is error
    last = sink.steps[-1]
    assert last.status == "agent_error"
    assert last.error == "Boom: model server unavailable"
    assert [e.status for e in sink.steps] == ["ok", "ok", "agent_error"]
    _assert_warm_history_intact(guard)


def test_sync_agent_timeout_raises_agent_timeout_error() -> None:
    """Guard(agent_timeout=0.05) with a sync agent that would take 1 s: AgentTimeoutError carrying the timeout,
    an agent_error event, the history unchanged."""
    sink = MemorySink()
    guard = Guard(ACTIONS, telemetry=sink, agent_timeout=0.05)
    _warm(guard)
    release = threading.Event()

    def slow(prompt: object) -> str:
        release.wait(1.0)  # "sleeps 1 s", but the test lets it go as soon as it has timed out
        return answer("blue")

    try:
        with pytest.raises(AgentTimeoutError) as caught:
            guard.step(slow, "choose", episode="e")
    finally:
        release.set()
    assert caught.value.timeout == 0.05
    assert sink.steps[-1].status == "agent_error"
    assert "AgentTimeoutError" in (sink.steps[-1].error or "")
    _assert_warm_history_intact(guard)
    guard.close()


async def test_async_agent_timeout_raises_agent_timeout_error() -> None:
    """Guard(agent_timeout=0.05) with an async agent that sleeps 1 s: AgentTimeoutError, an agent_error event,
    the history unchanged."""
    sink = MemorySink()
    guard = Guard(ACTIONS, telemetry=sink, agent_timeout=0.05)
    _warm(guard)

    async def slow(prompt: object) -> str:
        await asyncio.sleep(1.0)
        return answer("blue")

    with pytest.raises(AgentTimeoutError):
        await guard.astep(slow, "choose", episode="e")
    assert sink.steps[-1].status == "agent_error"
    _assert_warm_history_intact(guard)


class Flaky:
    """Fails ``failures`` times, then answers consistently."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, prompt: object) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"attempt {self.calls} failed")
        return answer("blue")


def test_agent_retry_recovers_and_records_the_failed_attempts() -> None:
    """agent_retry=3 retries an agent that fails twice: the step succeeds, and its event records both errors
    and all three calls; the history gains exactly one step."""
    sink = MemorySink()
    guard = Guard(ACTIONS, telemetry=sink, agent_retry=3, sleep=lambda seconds: None)
    _warm(guard)
    agent = Flaky(failures=2)
    result = guard.step(agent, "choose", episode="e")
    assert result.action == "blue"
    assert agent.calls == 3
    event = sink.steps[-1]
    assert event.status == "ok"
    assert event.agent_errors == ("ConnectionError: attempt 1 failed", "ConnectionError: attempt 2 failed")
    assert event.agent_calls == 3
    view = guard.view("e")
    assert view.t == 3
    assert view.counts == (1, 1, 1)


def test_agent_retry_exhausted_reraises_the_last_error() -> None:
    """agent_retry=3 and an agent that always fails: the last error propagates after three attempts, the
    event is agent_error with three recorded errors, the history is unchanged."""
    sink = MemorySink()
    guard = Guard(ACTIONS, telemetry=sink, agent_retry=3, sleep=lambda seconds: None)
    _warm(guard)
    agent = Flaky(failures=10)
    with pytest.raises(ConnectionError, match="attempt 3 failed"):
        guard.step(agent, "choose", episode="e")
    event = sink.steps[-1]
    assert event.status == "agent_error"
    assert len(event.agent_errors) == 3
    _assert_warm_history_intact(guard)


class FailingSink:
    """A sink that always raises."""

    def __init__(self) -> None:
        self.calls = 0

    def emit(self, event: object) -> None:
        self.calls += 1
        raise OSError("disk full")

    def __repr__(self) -> str:
        return "FailingSink()"


def test_failing_sink_never_breaks_the_step() -> None:
    """A sink that raises on every event: each step still succeeds with a SinkWarning, the failure is counted,
    and the other sinks receive every event."""
    memory = MemorySink()
    guard = Guard(ACTIONS, telemetry=[FailingSink(), memory])
    with pytest.warns(SinkWarning, match="disk full"):
        _warm(guard)
    assert guard.telemetry.failures["FailingSink()"] == 3
    assert len(memory.events) == 3
    _assert_warm_history_intact(guard)


class GatedSink(MemorySink):
    """A memory sink whose emit blocks until ``gate`` is set: a stalled collector."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def emit(self, event: object) -> None:
        self.gate.wait()
        super().emit(event)  # type: ignore[arg-type]


def test_slow_sink_behind_background_sink_never_blocks_the_agent() -> None:
    """A stalled sink behind BackgroundSink(max_queue=10): 200 steps all complete while the sink is still
    blocked; what overflowed is counted in ``dropped`` and warned about; once the sink moves, every queued event
    is written on close (written + dropped == emitted), and the history is complete."""
    slow = GatedSink()
    background = BackgroundSink(slow, max_queue=10, put_timeout=0.0)
    guard = Guard(ACTIONS, telemetry=background)

    def run_steps() -> None:
        for i in range(200):
            guard.step(agent_for(ACTIONS[i % 3]), "choose", episode="e")

    with pytest.warns(SinkWarning, match="dropped"):
        run_steps()
    assert not slow.events  # nothing could be written yet: the steps did not wait for the sink
    assert background.dropped >= 200 - 11
    slow.gate.set()
    with pytest.warns(SinkWarning, match="dropped"):  # close() reports drops not yet warned about
        guard.close()
    assert background.written + background.dropped == 200
    assert len(slow.events) == background.written >= 10
    assert guard.view("e").t == 200


def test_background_sink_counts_and_warns_wrapped_sink_failures() -> None:
    """BackgroundSink around a failing sink: the worker survives every failure, counts them, and the caller
    is warned (SinkWarning) by close() at the latest."""
    failing = FailingSink()
    background = BackgroundSink(failing, max_queue=100)
    events = [StepEvent(run_id="r", episode="e", step=i) for i in range(5)]
    for event in events:
        background.emit(event)
    with pytest.warns(SinkWarning, match=r"failed on \d+ event"):
        background.close()
    assert background.failures == 5
    assert failing.calls == 5
    assert background.dropped == 0


def test_background_sink_close_flushes_every_event() -> None:
    """Events queued before close() are all written, in order, and the wrapped sink is closed after."""
    target = MemorySink()
    background = BackgroundSink(target, max_queue=10_000)
    events = [StepEvent(run_id="r", episode="e", step=i) for i in range(2000)]
    for event in events:
        background.emit(event)
    background.close()
    assert target.events == events
    assert background.written == 2000
    assert background.dropped == 0


def test_background_sink_close_timeout_drops_and_warns() -> None:
    """close(timeout) on a sink that never moves gives up after the timeout: the stranded events are counted
    as dropped and warned about, and close() returns."""
    stuck = GatedSink()
    background = BackgroundSink(stuck, max_queue=100)
    for i in range(20):
        background.emit(StepEvent(run_id="r", episode="e", step=i))
    try:
        with pytest.warns(SinkWarning, match="did not drain"):
            background.close(timeout=0.05)
    finally:
        stuck.gate.set()
    assert background.dropped >= 19
    assert background.dropped + background.written <= 20


def test_background_sink_drop_oldest_keeps_the_newest() -> None:
    """on_full="drop_oldest": with the sink stalled, the queue ends up holding the newest events."""
    stuck = GatedSink()
    background = BackgroundSink(stuck, max_queue=5, on_full="drop_oldest")
    events = [StepEvent(run_id="r", episode="e", step=i) for i in range(50)]

    def emit_all_then_close() -> None:
        for event in events:
            background.emit(event)
        stuck.gate.set()
        background.close()

    with pytest.warns(SinkWarning, match="dropped"):
        emit_all_then_close()
    steps = [e.step for e in stuck.steps]
    assert steps[-5:] == [45, 46, 47, 48, 49]
    assert background.written + background.dropped == 50


def test_background_sink_rejects_bad_arguments() -> None:
    """Bad settings are ConfigurationErrors at construction."""
    from guardrail.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError):
        BackgroundSink(MemorySink(), max_queue=0)
    with pytest.raises(ConfigurationError):
        BackgroundSink(MemorySink(), on_full="block")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        BackgroundSink(object())  # type: ignore[arg-type]
