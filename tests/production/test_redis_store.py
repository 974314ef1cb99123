"""RedisHistoryStore against a real redis-server (marked ``real``), and its failure modes without one."""

from __future__ import annotations

import multiprocessing as mp
import random
import socket
import sys
import time
from dataclasses import asdict

import pytest

from guardrail import Guard, InMemoryHistoryStore, MemorySink
from guardrail.exceptions import ConfigurationError, HistoryStoreError, InvalidInputError, MissingDependencyError
from guardrail.history import HistoryStore
from guardrail.stores import HistoryStoreWarning, RedisHistoryStore
from tests.production import _redis_worker
from tests.production.conftest import agent_for

ACTIONS = ["red", "green", "blue", "yellow", "purple"]
K = len(ACTIONS)


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


# -- without a server -------------------------------------------------------------------------------------
def test_store_satisfies_history_store_protocol() -> None:
    """A RedisHistoryStore is a HistoryStore (the Guard accepts it unchanged); building one does not connect."""
    store = RedisHistoryStore(_closed_port_url())
    assert isinstance(store, HistoryStore)
    Guard(ACTIONS, history=store).close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"url": "redis://x", "client": object()},
        {"url": "redis://x", "on_error": "ignore"},
        {"url": "redis://x", "ttl": 0},
        {"url": "redis://x", "window": 0},
        {"url": "redis://x", "socket_timeout": 0},
    ],
)
def test_bad_arguments_are_configuration_errors(kwargs: dict[str, object]) -> None:
    """Invalid constructor arguments fail at construction with ConfigurationError."""
    with pytest.raises(ConfigurationError):
        RedisHistoryStore(**kwargs)  # type: ignore[arg-type]


def test_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without redis-py, building the store raises MissingDependencyError naming the 'redis' extra."""
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingDependencyError, match=r"guardrail-core\[redis\]") as caught:
        RedisHistoryStore("redis://127.0.0.1:1/0")
    assert caught.value.package == "redis"
    assert caught.value.extra == "redis"


def test_redis_down_raise_mode_names_the_operation() -> None:
    """on_error="raise": a step against an unreachable Redis raises HistoryStoreError naming the operation;
    the failed step's event is not half-written and events already written stay."""
    sink = MemorySink()
    store = RedisHistoryStore(_closed_port_url(), socket_timeout=0.5)
    guard = Guard(ACTIONS, history=store, telemetry=sink)
    with pytest.raises(HistoryStoreError, match=r"RedisHistoryStore\.view failed for episode 'e'"):
        guard.step(agent_for("red"), "choose", episode="e")
    with pytest.raises(HistoryStoreError, match=r"record_step"):
        store.record_step("e", K, 0)
    with pytest.raises(HistoryStoreError, match=r"record_reward"):
        store.record_reward("e", K, 1.0)
    with pytest.raises(HistoryStoreError, match=r"reset"):
        store.reset("e")
    assert sink.events == []
    assert store.fallbacks == 0


def test_redis_down_local_mode_warns_counts_and_continues() -> None:
    """on_error="local": the first failure of an episode warns once and is counted; the episode then runs on
    in-process history, exactly like InMemoryHistoryStore."""
    store = RedisHistoryStore(_closed_port_url(), on_error="local", socket_timeout=0.5)
    guard = Guard(ACTIONS, history=store, seed=0)
    with pytest.warns(HistoryStoreWarning, match=r"view failed for episode 'e'.*in-process history"):
        first = guard.step(agent_for("blue"), "choose", episode="e")
    assert first.step == 0
    guard.record_reward("e", 2.5)
    second = guard.step(agent_for("blue"), "choose", episode="e")  # no second warning: the episode is local
    assert second.step == 1
    assert store.fallbacks == 1
    assert store.local_episodes == frozenset({"e"})
    view = guard.view("e")
    assert view.t == 2
    assert view.counts[ACTIONS.index("blue")] == 2
    assert view.reward_sums[ACTIONS.index("blue")] == 2.5


# -- against a real server --------------------------------------------------------------------------------
@pytest.mark.real
def test_matches_in_memory_store_exactly(redis_url: str, redis_prefix: str) -> None:
    """Under a random mix of steps and rewards (explicit steps too), every view and every returned index
    equals InMemoryHistoryStore's, means bit for bit."""
    store = RedisHistoryStore(redis_url, prefix=redis_prefix)
    memory = InMemoryHistoryStore()
    rng = random.Random(7)
    for _ in range(1500):
        roll = rng.random()
        if roll < 0.55:
            action, interventions, extra = rng.randrange(K), rng.randrange(3), rng.randrange(2)
            explored = rng.random() < 0.1
            got = store.record_step(
                "e", K, action, interventions=interventions, extra_agent_calls=extra, explored=explored
            )
            want = memory.record_step(
                "e", K, action, interventions=interventions, extra_agent_calls=extra, explored=explored
            )
            assert got == want
        else:
            reward = rng.gauss(0.5, 2.0)
            pending = memory.view("e", K).t - memory.view("e", K).rewarded_steps
            step = None
            if roll > 0.9 and pending:
                step = rng.randrange(memory.view("e", K).t)
            outcomes: list[int | str] = []
            for target in (memory, store):
                try:
                    outcomes.append(target.record_reward("e", K, reward, step=step))
                except InvalidInputError as error:
                    outcomes.append(str(error))
            assert outcomes[0] == outcomes[1]
        assert store.view("e", K) == memory.view("e", K)
    store.reset("e")
    assert store.view("e", K).t == 0
    store.close()


@pytest.mark.real
def test_wrong_action_count_is_invalid_input(redis_url: str, redis_prefix: str) -> None:
    """An episode recorded with k actions refuses a guard with another k, as the in-memory store does."""
    store = RedisHistoryStore(redis_url, prefix=redis_prefix)
    store.record_step("e", K, 1)
    with pytest.raises(InvalidInputError, match="has 5 actions"):
        store.view("e", 3)
    with pytest.raises(InvalidInputError, match="has 5 actions"):
        store.record_step("e", 3, 1)
    with pytest.raises(InvalidInputError, match="waiting for a reward"):
        store.record_reward("other", K, 1.0)
    store.close()


@pytest.mark.real
def test_ttl_is_set_and_refreshed_on_write(redis_url: str, redis_prefix: str) -> None:
    """Every write sets the TTL on all of an episode's keys (the reset tombstone exists only after a reset, the
    calls list once a call is recorded); ttl=None leaves them persistent."""
    store = RedisHistoryStore(redis_url, prefix=redis_prefix, ttl=100.0)
    store.record_step("e", K, 0)
    store.record_step_call("e", K, 0, "red", None)
    for key in store.keys("e"):
        if not key.endswith(":reset"):
            assert 0 < store.client.pttl(key) <= 100_000
    store.client.persist(store.keys("e")[0])
    store.record_reward("e", K, 1.0)
    assert store.client.pttl(store.keys("e")[0]) > 0
    forever = RedisHistoryStore(redis_url, prefix=redis_prefix + "forever:", ttl=None)
    forever.record_step("e", K, 0)
    assert forever.client.pttl(forever.keys("e")[0]) == -1
    forever.reset("e")
    store.close()
    forever.close()


@pytest.mark.real
def test_idle_episode_expires(redis_url: str, redis_prefix: str) -> None:
    """An episode not written for longer than its TTL is gone (the server expires it)."""
    store = RedisHistoryStore(redis_url, prefix=redis_prefix, ttl=0.05)
    store.record_step("e", K, 2)
    time.sleep(0.2)  # let the server's clock pass the TTL (a wait, not a timing assertion)
    assert store.view("e", K).t == 0
    store.close()


@pytest.mark.real
def test_key_prefix_separates_stores(redis_url: str, redis_prefix: str) -> None:
    """Two prefixes on one server are two independent namespaces; keys carry the episode as a hash tag."""
    first = RedisHistoryStore(redis_url, prefix=redis_prefix + "a:")
    second = RedisHistoryStore(redis_url, prefix=redis_prefix + "b:")
    first.record_step("e", K, 0)
    assert second.view("e", K).t == 0
    assert first.keys("e")[0] == f"{redis_prefix}a:{{e}}"
    first.close()
    second.close()


@pytest.mark.real
def test_threads_share_one_episode_atomically(redis_url: str, redis_prefix: str) -> None:
    """Eight threads stepping one Redis episode concurrently: every index is handed out once, counts exact."""
    import threading

    store = RedisHistoryStore(redis_url, prefix=redis_prefix)
    indices: list[int] = []
    lock = threading.Lock()

    def work(action: int) -> None:
        mine = [store.record_step("e", K, action) for _ in range(200)]
        with lock:
            indices.extend(mine)

    threads = [threading.Thread(target=work, args=(i % K,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(indices) == list(range(1600))
    view = store.view("e", K)
    assert view.t == 1600
    assert view.counts == (400, 400, 400, 200, 200)
    store.close()


def _ask(conn: mp.connection.Connection, *command: object) -> object:
    conn.send(command)
    reply = conn.recv()
    if isinstance(reply, BaseException):
        raise reply
    return reply


@pytest.mark.real
def test_two_guards_in_two_processes_share_one_episode(redis_url: str, redis_prefix: str) -> None:
    """Two Guards in two processes, interleaving steps and rewards on one episode, see one history: counts,
    reward counts, sums, means and calls exactly those of a single in-memory history fed the same sequence; then both
    step concurrently and no step is lost or numbered twice."""
    context = mp.get_context("spawn")
    pipes = [context.Pipe() for _ in range(2)]
    workers = [
        context.Process(target=_redis_worker.serve, args=(redis_url, redis_prefix, ACTIONS, child), daemon=True)
        for _, child in pipes
    ]
    for worker in workers:
        worker.start()
    try:
        expected = InMemoryHistoryStore()
        rng = random.Random(3)
        for _ in range(300):
            conn = pipes[rng.randrange(2)][0]
            if rng.random() < 0.6 or expected.view("shared", K).t == expected.view("shared", K).rewarded_steps:
                action = rng.randrange(K)
                index = _ask(conn, "step", "shared", ACTIONS[action])
                assert index == expected.record_step_call("shared", K, action, ACTIONS[action], None)
            else:
                reward = rng.uniform(-1.0, 3.0)
                _ask(conn, "reward", "shared", reward)
                expected.record_reward("shared", K, reward)
        views = [_ask(parent, "view", "shared") for parent, _ in pipes]
        want = asdict(expected.view("shared", K))
        assert views[0] == want
        assert views[1] == want

        # both at once: 200 steps each, no coordination
        for index, (parent, _) in enumerate(pipes):
            parent.send(("steps", "race", [ACTIONS[index]] * 200))
        replies = [parent.recv() for parent, _ in pipes]
        assert sorted(replies[0] + replies[1]) == list(range(400))
        race = _ask(pipes[0][0], "view", "race")
        assert isinstance(race, dict)
        assert race["t"] == 400
        assert race["counts"] == (200, 200, 0, 0, 0)
    finally:
        for parent, _ in pipes:
            parent.send(("stop",))
        for worker in workers:
            worker.join(timeout=30)
    assert all(worker.exitcode == 0 for worker in workers)


@pytest.mark.real
def test_redis_frozen_raise_mode_keeps_what_was_recorded(pausable_redis: object, redis_prefix: str) -> None:
    """on_error="raise": while Redis does not answer, the step fails with HistoryStoreError; once it answers
    again every step recorded before is still there and the episode carries on."""
    from tests.production.conftest import PausableRedis

    assert isinstance(pausable_redis, PausableRedis)
    store = RedisHistoryStore(pausable_redis.url, prefix=redis_prefix, socket_timeout=0.2)
    sink = MemorySink()
    guard = Guard(ACTIONS, history=store, telemetry=sink)
    for action in ("red", "green", "red"):
        guard.step(agent_for(action), "choose", episode="e")
        guard.record_reward("e", 1.0)
    pausable_redis.freeze()
    try:
        with pytest.raises(HistoryStoreError, match="view"):
            guard.step(agent_for("blue"), "choose", episode="e")
    finally:
        pausable_redis.thaw()
    view = guard.view("e")
    assert view.t == 3
    assert view.counts == (2, 1, 0, 0, 0)
    assert view.rewarded_steps == 3
    assert guard.step(agent_for("blue"), "choose", episode="e").step == 3
    assert [e.step for e in sink.steps] == [0, 1, 2, 3]
    store.close()


@pytest.mark.real
def test_redis_frozen_local_mode_continues_from_last_state(pausable_redis: object, redis_prefix: str) -> None:
    """on_error="local": when Redis stops answering mid-episode the store warns, counts the fallback and
    continues the episode in process from the last state it read, pending reward included; on rejoin, as no other
    replica wrote the episode meanwhile, the local state is written back to Redis, which then holds exactly it."""
    from tests.production.conftest import PausableRedis

    assert isinstance(pausable_redis, PausableRedis)
    store = RedisHistoryStore(pausable_redis.url, prefix=redis_prefix, socket_timeout=0.2, on_error="local")
    guard = Guard(ACTIONS, history=store)
    guard.step(agent_for("red"), "choose", episode="e")
    guard.record_reward("e", 2.0)
    guard.step(agent_for("green"), "choose", episode="e")  # its reward comes after the outage starts
    pausable_redis.freeze()
    try:
        with pytest.warns(HistoryStoreWarning, match="record_reward failed"):
            guard.record_reward("e", 4.0)
        result = guard.step(agent_for("green"), "choose", episode="e")
    finally:
        pausable_redis.thaw()
    assert result.step == 2
    assert store.fallbacks == 1
    local = guard.view("e")
    assert local.t == 3
    assert local.counts == (1, 2, 0, 0, 0)
    assert local.reward_sums == (2.0, 4.0, 0.0, 0.0, 0.0)
    assert local.recent == (0, 1, 1)
    assert local.run_length == 2
    assert store.rejoin("e")  # nobody else wrote the episode: the local state is written back to Redis
    assert store.reconciled == 1
    remote = guard.view("e")
    assert remote == local  # the timed-out reward counts once, whether or not it reached Redis before
    store.close()
