"""Redis that tells the truth, against a real redis-server (marked ``real``): a restart without persistence is
detected and the history re-seeded; a write that timed out never shifts the next index; local episodes return to
Redis by a stated rule."""

from __future__ import annotations

import time
import uuid
import warnings

import pytest

from guardrail import Guard, MemorySink
from guardrail.exceptions import HistoryStoreError
from guardrail.stores import HistoryStoreWarning, RedisHistoryStore
from tests.production.conftest import RestartableRedis, agent_for

ACTIONS = ["red", "green", "blue", "yellow", "purple"]
K = len(ACTIONS)

pytestmark = pytest.mark.real


def _prefix() -> str:
    return f"guardrail-truth:{uuid.uuid4().hex}:"


def test_kill_minus_nine_without_persistence_is_detected_warned_counted_and_reseeded(server: RestartableRedis) -> None:
    """Redis killed with -9 (no persistence) and restarted loses every key. The next step of an episode this
    replica knew is detected (a HistoryStoreWarning, store.resets and the epoch marker's change counted), the
    episode is re-seeded from this replica's last state, and the step gets the next index, not 0: no duplicate
    (run, episode, step) in telemetry, counts and reward sums exact."""
    store = RedisHistoryStore(server.url, prefix=_prefix(), socket_timeout=0.5)
    sink = MemorySink()
    guard = Guard(ACTIONS, history=store, telemetry=sink)
    for action in ("red", "green", "red"):
        guard.step(agent_for(action), "choose", episode="e")
        guard.record_reward("e", 1.5)
    before = guard.view("e")
    server.kill()
    server.start()
    with pytest.warns(HistoryStoreWarning, match="re-seeded at step 3"):
        result = guard.step(agent_for("blue"), "choose", episode="e")
    assert result.step == 3
    assert store.resets == 1
    assert store.epoch_changes == 1
    after = guard.view("e")
    assert after.t == 4
    assert after.counts == (2, 1, 1, 0, 0)
    assert after.reward_sums == before.reward_sums
    assert after.rewarded_steps == 3
    steps = [(e.run_id, e.episode, e.step) for e in sink.steps]
    assert len(steps) == len(set(steps)) == 4
    store.close()


def test_a_reset_by_another_replica_is_not_taken_for_a_loss(server: RestartableRedis) -> None:
    """store.reset() on one replica leaves a tombstone: another replica that knew the episode starts it afresh at
    step 0 without re-seeding it or warning."""
    prefix = _prefix()
    first = RedisHistoryStore(server.url, prefix=prefix)
    second = RedisHistoryStore(server.url, prefix=prefix)
    first.record_step("e", K, 0)
    assert second.view("e", K).t == 1
    first.reset("e")
    assert second.record_step("e", K, 1) == 0
    assert second.resets == 0
    first.close()
    second.close()


def test_a_record_step_in_flight_when_redis_froze_never_shifts_the_next_index(server: RestartableRedis) -> None:
    """A record_step sent just before Redis froze (SIGSTOP) times out and the caller is told it failed; Redis
    applies it when it thaws. The next write settles it (undone, counted in store.voided), so the next step
    gets the index the caller expects and the counts hold only the steps the caller was told of."""
    store = RedisHistoryStore(server.url, prefix=_prefix(), socket_timeout=0.3)
    for action in (0, 1, 0):
        store.record_step("e", K, action)
    server.freeze()
    try:
        with pytest.raises(HistoryStoreError, match="record_step"):
            store.record_step("e", K, 3)
    finally:
        server.thaw()
    time.sleep(0.3)  # let the server apply what it had read before it froze (not a timing assertion)
    assert store.record_step("e", K, 2) == 3
    view = store.view("e", K)
    assert view.t == 4
    assert view.counts == (2, 1, 1, 0, 0)
    assert view.recent[-1] == 2
    assert store.voided == 1
    assert store.unresolved == 0
    store.close()


def test_a_reward_in_flight_when_redis_froze_is_never_counted_twice(server: RestartableRedis) -> None:
    """A record_reward that times out while Redis is frozen (the caller is told it failed) and is applied when
    Redis thaws is settled by the next operation: the caller's retry then counts the reward once, on the same
    step, and the sums are exact."""
    store = RedisHistoryStore(server.url, prefix=_prefix(), socket_timeout=0.3)
    store.record_step("e", K, 0)
    store.record_step("e", K, 1)
    store.record_reward("e", K, 0.1)
    server.freeze()
    try:
        with pytest.raises(HistoryStoreError, match="record_reward"):
            store.record_reward("e", K, 0.2)
    finally:
        server.thaw()
    time.sleep(0.3)  # let the server apply what it had read before it froze (not a timing assertion)
    assert store.record_reward("e", K, 0.2) == 1  # the retry
    view = store.view("e", K)
    assert view.reward_counts == (1, 1, 0, 0, 0)
    assert view.reward_sums == (0.1, 0.2, 0.0, 0.0, 0.0)
    assert view.total_reward == 0.1 + 0.2
    assert view.rewarded_steps == 2
    assert store.voided == 1
    with pytest.raises(Exception, match="waiting for a reward"):
        store.record_reward("e", K, 1.0)
    store.close()


def test_writes_carry_step_ids_so_a_replayed_write_is_applied_once(server: RestartableRedis) -> None:
    """The record_step script is idempotent by step id: sending the same write twice returns the same index and
    counts it once."""
    store = RedisHistoryStore(server.url, prefix=_prefix())
    store.record_step("e", K, 0)
    args = [str(K), store._ttl_ms, "1", "1", "", "1", str(store.window), "0", "0", "0", "fixed-id"]
    first = store._record_step(keys=store.keys("e"), args=args)
    again = store._record_step(keys=store.keys("e"), args=args)
    assert int(first[1]) == int(again[1]) == 1
    assert store.view("e", K).t == 2
    store.close()


def test_a_lost_write_that_was_applied_is_undone_exactly_while_nothing_came_after_it(server: RestartableRedis) -> None:
    """The settling rule, made deterministic: a step and a reward that Redis applied but whose replies were lost
    are undone by the next operation (the step while it is the latest, unrewarded one; the reward while no
    reward of its action came after it), restoring counts, sums bit for bit, the pending order and the index."""
    store = RedisHistoryStore(server.url, prefix=_prefix())
    for action in (0, 1, 2):
        store.record_step("e", K, action)
    store.record_reward("e", K, 0.1)  # step 0
    before = store.view("e", K)
    keys = store.keys("e")
    common = [str(K), store._ttl_ms, "1", "3", ""]
    store._record_reward(keys=keys, args=[*common, "0.7", "", "lost-reward"])  # rewards step 1; reply lost
    store._lost("e", "lost-reward")
    assert store.view("e", K) == before
    assert store.record_reward("e", K, 0.5) == 1  # step 1 is still the oldest waiting for a reward
    store._record_step(keys=keys, args=[*common, "4", str(store.window), "1", "2", "1", "lost-step"])
    store._lost("e", "lost-step")
    after = store.view("e", K)
    assert after.t == 3
    assert after.counts == (1, 1, 1, 0, 0)
    assert after.interventions == 0
    assert after.last_exploration_step is None
    assert store.record_step("e", K, 3) == 3
    assert store.voided == 2
    assert store.unresolved == 0
    store.close()


def test_local_mode_writes_the_episode_back_when_redis_returns(server: RestartableRedis) -> None:
    """on_error="local": steps taken while Redis was frozen are written back to Redis once it answers (nobody
    else wrote the episode meanwhile): nothing the replica recorded is lost and Redis matches it exactly."""
    store = RedisHistoryStore(server.url, prefix=_prefix(), socket_timeout=0.3, on_error="local", rejoin_interval=0.0)
    guard = Guard(ACTIONS, history=store)
    guard.step(agent_for("red"), "choose", episode="e")
    guard.record_reward("e", 2.0)
    server.freeze()
    try:
        with pytest.warns(HistoryStoreWarning, match="in-process history"):
            guard.step(agent_for("green"), "choose", episode="e")
        guard.record_reward("e", 3.0)
    finally:
        server.thaw()
    local = store.local_episodes
    assert local == frozenset({"e"})
    result = guard.step(agent_for("blue"), "choose", episode="e")  # Redis answers again: reconciled first
    assert result.step == 2
    assert store.reconciled == 1
    assert store.local_episodes == frozenset()
    remote = guard.view("e")
    assert remote.t == 3
    assert remote.counts == (1, 1, 1, 0, 0)
    assert remote.reward_sums == (2.0, 3.0, 0.0, 0.0, 0.0)
    store.close()


def test_local_mode_conflict_keeps_redis_and_says_so(server: RestartableRedis) -> None:
    """If another replica wrote the episode while this one held it locally, rejoin keeps Redis (the rule:
    Redis wins when it moved on), drops the local steps, warns and counts the conflict. The write that was in
    flight when Redis froze is cancelled if it never landed; if it landed before the other replica's steps it
    cannot be undone and is counted in ``unresolved``."""
    prefix = _prefix()
    mine = RedisHistoryStore(server.url, prefix=prefix, socket_timeout=0.3, on_error="local", rejoin_interval=None)
    mine.record_step("e", K, 0)
    mine.view("e", K)
    server.freeze()
    try:
        with pytest.warns(HistoryStoreWarning):
            mine.record_step("e", K, 1)
    finally:
        server.thaw()
    time.sleep(0.3)  # the frozen write may land (it is then undone or counted): not a timing assertion
    other = RedisHistoryStore(server.url, prefix=prefix)
    other.record_step("e", K, 4)
    other.record_step("e", K, 4)
    with warnings.catch_warnings(record=True) as caught:  # also "could not be undone", if the frozen write landed
        warnings.simplefilter("always")
        assert mine.rejoin("e")
    messages = [str(w.message) for w in caught if issubclass(w.category, HistoryStoreWarning)]
    assert any("Redis is kept" in m for m in messages)
    assert mine.conflicts == 1
    view = mine.view("e", K)
    assert view.counts[4] == 2
    assert view.counts[1] == mine.unresolved  # the frozen write: cancelled (0), or landed before others wrote (1)
    mine.close()
    other.close()


def test_threads_stepping_a_local_episode_while_it_returns_to_redis_lose_no_step(server: RestartableRedis) -> None:
    """Eight threads step one episode while Redis is frozen (local) and after it thaws (the episode goes back to
    Redis while they step): every step gets a distinct index, and Redis ends with all of them."""
    import threading

    store = RedisHistoryStore(server.url, prefix=_prefix(), socket_timeout=0.3, on_error="local", rejoin_interval=0.0)
    store.record_step("e", K, 0)
    server.freeze()
    thawed = threading.Event()
    indices: list[int] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        for step in range(30):
            if worker == 0 and step == 10:
                server.thaw()
                thawed.set()
            index = store.record_step("e", K, step % K)
            with lock:
                indices.append(index)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HistoryStoreWarning)
        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert thawed.is_set()
        store.record_step("e", K, 0)  # by now back in Redis
    assert store.local_episodes == frozenset()
    assert sorted(indices) == list(range(1, 241))
    assert store.view("e", K).t == 242
    store.close()
