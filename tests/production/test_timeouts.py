"""Timeouts that hold: a hung agent call never delays another, and the timeout measures the agent only.

The two acceptance runs of issue 15 are here (6 hung calls then 100 normal ones; 32 threads of 0.3 s agents
under a 1.5 s timeout). Their margins are wide (a 0.3 s agent against 1.5 s) so a loaded 2-core machine passes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from guardrail import ActionSpace, Decision, Guard, MemorySink, parse
from guardrail.exceptions import AgentCallsExhaustedError, AgentTimeoutError, ConfigurationError

from .conftest import answer

ACTIONS = ["red", "blue"]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of the test, so every hung agent thread returns."""
    event = threading.Event()
    yield event
    event.set()


def test_six_hung_calls_then_a_hundred_normal_calls_all_succeed(release: threading.Event) -> None:
    """Six calls that hang time out; the hundred calls after them each get a thread of their own and answer."""
    guard = Guard(ACTIONS, agent_timeout=0.2)

    def hung(prompt: object) -> str:
        release.wait(30)
        return answer("red")

    for _ in range(6):
        with pytest.raises(AgentTimeoutError):
            guard.step(hung, "choose", episode="hung")
    results = [guard.step(lambda p: answer("blue"), "choose", episode=f"ok-{i}") for i in range(100)]
    assert [r.action for r in results] == ["blue"] * 100
    guard.close()


def test_thirty_two_threads_of_slow_agents_under_a_generous_timeout_never_time_out() -> None:
    """32 threads each run a 0.3 s agent under a 1.5 s timeout at once: 0 timeouts (none waits for a worker)."""
    sink = MemorySink()
    guard = Guard(ACTIONS, agent_timeout=1.5, telemetry=sink)
    barrier = threading.Barrier(32)
    timeouts: list[BaseException] = []

    def slow(prompt: object) -> str:
        time.sleep(0.3)
        return answer("red")

    def work(index: int) -> None:
        barrier.wait()
        for round_ in range(2):
            try:
                guard.step(slow, "choose", episode=f"t{index}-{round_}")
            except AgentTimeoutError as error:
                timeouts.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    guard.close()
    assert timeouts == []
    assert len(sink.steps) == 64
    assert all(e.status == "ok" for e in sink.steps)


def test_abandoned_calls_are_bounded_with_a_clear_error_before_the_agent_is_called(release: threading.Event) -> None:
    """With max_abandoned_calls=2, two hung calls time out; the third is refused with AgentCallsExhaustedError
    without calling the agent; once a hung call returns, calls go through again."""
    guard = Guard(ACTIONS, agent_timeout=0.05, max_abandoned_calls=2)
    calls = {"hung": 0}
    returned = threading.Semaphore(0)

    def hung(prompt: object) -> str:
        calls["hung"] += 1
        release.wait(30)
        returned.release()
        return answer("red")

    for _ in range(2):
        with pytest.raises(AgentTimeoutError):
            guard.step(hung, "choose", episode="e")
    with pytest.raises(AgentCallsExhaustedError, match="2 timed-out agent call") as refused:
        guard.step(hung, "choose", episode="e")
    assert refused.value.abandoned == 2
    assert calls["hung"] == 2  # the refused call never reached the agent
    release.set()
    assert returned.acquire(timeout=5)
    assert returned.acquire(timeout=5)
    deadline = time.monotonic() + 5
    while True:  # the workers count their calls back in right after the agent returns
        try:
            result = guard.step(lambda p: answer("blue"), "choose", episode="e")
            break
        except AgentCallsExhaustedError:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert result.action == "blue"
    guard.close()


def test_max_abandoned_calls_must_be_positive() -> None:
    """max_abandoned_calls < 1 (or a bool) is a configuration error."""
    for bad in (0, -1, True):
        with pytest.raises(ConfigurationError, match="max_abandoned_calls"):
            Guard(ACTIONS, agent_timeout=1.0, max_abandoned_calls=bad)


async def test_astep_sync_agents_hung_calls_never_starve_later_ones(release: threading.Event) -> None:
    """In astep, sync agents run on the guard's own threads (not the loop's small default executor): six hung
    calls time out, then 100 concurrent normal calls all succeed."""
    guard = Guard(ACTIONS, agent_timeout=0.2)

    def hung(prompt: object) -> str:
        release.wait(30)
        return answer("red")

    for _ in range(6):
        with pytest.raises(AgentTimeoutError):
            await guard.astep(hung, "choose", episode="hung")
    results = await asyncio.gather(
        *(guard.astep(lambda p: answer("blue"), "choose", episode=f"ok-{i}") for i in range(100))
    )
    assert [r.action for r in results] == ["blue"] * 100
    guard.close()


async def test_astep_thirty_two_slow_sync_agents_under_a_generous_timeout_never_time_out() -> None:
    """32 concurrent asteps of a 0.3 s sync agent under a 1.5 s timeout: 0 timeouts."""
    guard = Guard(ACTIONS, agent_timeout=1.5)

    def slow(prompt: object) -> str:
        time.sleep(0.3)
        return answer("red")

    outcomes = await asyncio.gather(
        *(guard.astep(slow, "choose", episode=f"a{i}") for i in range(32)), return_exceptions=True
    )
    assert [type(o).__name__ for o in outcomes if isinstance(o, BaseException)] == []
    guard.close()


def test_latency_recorded_is_the_agents_own() -> None:
    """The event's agent latency is the agent's run time, not the time spent handing the call to a thread."""
    sink = MemorySink()
    guard = Guard(ACTIONS, agent_timeout=5.0, telemetry=sink)

    def slow(prompt: object) -> str:
        time.sleep(0.05)
        return answer("red")

    guard.step(slow, "choose")
    guard.close()
    assert 0.045 <= sink.steps[0].agent_latency_s < 5.0  # sleep and the clock may differ by a few ms


async def test_astep_reads_a_long_output_off_the_event_loop() -> None:
    """An output longer than LOOP_TEXT_LIMIT is parsed in a worker thread: the loop keeps ticking meanwhile, and
    the step's result is the same as for a short output."""
    from guardrail._step import LOOP_TEXT_LIMIT

    seen: list[str] = []

    def parser(raw: object, actions: ActionSpace) -> Decision:
        seen.append(threading.current_thread().name)
        return parse(raw, actions)

    guard = Guard(ACTIONS, parser=parser)
    long_output = "Thinking. " * (LOOP_TEXT_LIMIT // 10 + 1) + "\n" + answer("red")
    assert (await guard.astep(lambda p: long_output, "choose")).action == "red"
    assert (await guard.astep(lambda p: answer("red"), "choose")).action == "red"
    main = threading.current_thread().name
    assert seen[0] != main
    assert seen[1] == main
    guard.close()
