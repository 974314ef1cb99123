"""One Guard, many episodes, many threads and asyncio tasks: per-episode state and telemetry stay exact."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from guardrail import Guard, InMemoryHistoryStore, JsonlSink, MemorySink, StepEvent
from guardrail.telemetry.events import RewardEvent
from tests.production.conftest import agent_for, answer

ACTIONS = ["red", "green", "blue", "yellow", "purple", "orange", "grey"]
K = len(ACTIONS)


def _plan(thread: int, steps: int) -> list[int]:
    """A deterministic per-thread sequence of actions (indices)."""
    return [(thread * 31 + i * i) % K for i in range(steps)]


def _run_threads(tmp_path: Path, threads: int, steps: int) -> None:
    memory = MemorySink()
    path = tmp_path / "events.jsonl"
    guard = Guard(ACTIONS, telemetry=[memory, JsonlSink(path)], seed=0)
    agents = [agent_for(name) for name in ACTIONS]
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            start.wait()
            for i, action in enumerate(_plan(thread, steps)):
                own = f"thread-{thread}"
                guard.step(agents[action], "choose", episode=own)
                guard.record_reward(own, float(action) + 0.25 * (i % 4))
                if i % 2 == 0:  # every thread also hammers one shared episode
                    guard.step(agents[action], "choose", episode="shared")
                    guard.record_reward("shared", 1.0)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    guard.close()
    assert errors == []

    shared_steps = (steps + 1) // 2
    for thread in range(threads):
        plan = _plan(thread, steps)
        view = guard.view(f"thread-{thread}")
        assert view.t == steps
        assert view.counts == tuple(Counter(plan)[a] for a in range(K))
        sums = [0.0] * K
        for i, action in enumerate(plan):
            sums[action] += float(action) + 0.25 * (i % 4)
        assert view.reward_sums == tuple(sums)
        assert view.rewarded_steps == steps
    shared = guard.view("shared")
    expected_shared: Counter[int] = Counter()
    for thread in range(threads):
        expected_shared.update(_plan(thread, steps)[0::2])
    assert shared.t == threads * shared_steps
    assert shared.counts == tuple(expected_shared[a] for a in range(K))
    assert shared.rewarded_steps == shared.t
    assert shared.total_reward == float(shared.t)

    total_steps = threads * (steps + shared_steps)
    step_events = memory.steps
    assert len(step_events) == total_steps
    assert sum(isinstance(e, RewardEvent) for e in memory.events) == total_steps
    by_episode: dict[str, list[int]] = {}
    for event in step_events:
        assert event.status == "ok"
        by_episode.setdefault(event.episode, []).append(event.step)
    for episode, indices in by_episode.items():
        assert sorted(indices) == list(range(len(indices))), episode
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 * total_steps
    records = [json.loads(line) for line in lines]  # every line is one whole event: no interleaving
    assert sum(r["type"] == "step" for r in records) == total_steps
    assert len({r["event_id"] for r in records}) == len(records)


def test_threads_share_one_guard_small(tmp_path: Path) -> None:
    """16 threads x 200 steps through one Guard: every episode's counts, sums and step indices are exact and
    every event reaches both the memory sink and the JSONL file as one whole line."""
    _run_threads(tmp_path, threads=16, steps=200)


@pytest.mark.slow
def test_threads_share_one_guard_64x1000(tmp_path: Path) -> None:
    """64 threads x 1,000 steps through one Guard: the same exactness at the issue's scale."""
    _run_threads(tmp_path, threads=64, steps=1000)


async def _run_asyncio(tmp_path: Path, episodes: int, steps: int) -> None:
    memory = MemorySink()
    path = tmp_path / "events.jsonl"
    guard = Guard(ACTIONS, telemetry=[memory, JsonlSink(path)], seed=0)

    def agent_of(action: str) -> Callable[[object], Awaitable[str]]:
        async def agent(prompt: object) -> str:
            await asyncio.sleep(0)  # yield, so thousands of steps are in flight at once
            return answer(action)

        return agent

    async def episode(number: int) -> None:
        name = f"episode-{number}"
        for i in range(steps):
            action = ACTIONS[(number + i) % K]
            result = await guard.astep(agent_of(action), "choose", episode=name)
            assert result.action == action
            guard.record_reward(name, float(i))
            await asyncio.sleep(0)

    await asyncio.gather(*(episode(n) for n in range(episodes)))
    guard.close()
    for number in range(episodes):
        view = guard.view(f"episode-{number}")
        assert view.t == steps
        assert view.counts == tuple(Counter((number + i) % K for i in range(steps))[a] for a in range(K))
        assert view.total_reward == float(sum(range(steps)))
    step_events = [e for e in memory.events if isinstance(e, StepEvent)]
    assert len(step_events) == episodes * steps
    assert len(memory.events) == 2 * episodes * steps
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2 * episodes * steps


async def test_thousand_concurrent_asyncio_episodes(tmp_path: Path) -> None:
    """1,000 asyncio episodes in flight at once on one Guard (async agents): every episode's counts and
    rewards are exact, every step and reward event is written."""
    await _run_asyncio(tmp_path, episodes=1000, steps=5)


@pytest.mark.slow
async def test_thousand_concurrent_asyncio_episodes_long(tmp_path: Path) -> None:
    """1,000 asyncio episodes x 50 steps each: the same exactness over a longer run."""
    await _run_asyncio(tmp_path, episodes=1000, steps=50)


def test_reset_racing_record_step_never_raises() -> None:
    """InMemoryHistoryStore.reset() racing record_step()/view() on the same episode never raises (it used to
    raise KeyError when a reset fell between looking up the episode and looking up its lock)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose the window
    try:
        store = InMemoryHistoryStore()
        stop = threading.Event()
        errors: list[BaseException] = []

        def stepper() -> None:
            try:
                while not stop.is_set():
                    store.record_step("e", 3, 0)
            except BaseException as error:
                errors.append(error)

        workers = [threading.Thread(target=stepper) for _ in range(4)]
        for worker in workers:
            worker.start()
        for _ in range(200_000):
            store.reset("e")
        stop.set()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(previous)
    assert errors == []
