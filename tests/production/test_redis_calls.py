"""Calls on the Redis store, against a real redis-server (marked ``real``): the same calls, outcomes and user
messages as the in-memory store, loops caught across replicas, calls re-seeded after a restart, carried through
a local fallback, and never recorded twice by a write that was in flight."""

from __future__ import annotations

import random
import time
import uuid
import warnings
from typing import Any

import pytest

from guardrail import Guard, InMemoryHistoryStore, Loops
from guardrail.detectors import LOOP
from guardrail.exceptions import HistoryStoreError, InvalidInputError
from guardrail.history import MAX_CALL_WINDOW, outcome_digest
from guardrail.stores import HistoryStoreWarning, RedisHistoryStore
from tests.production.conftest import RestartableRedis

pytestmark = pytest.mark.real

TOOLS = ["search", "read", "status", "final_answer"]
K = len(TOOLS)
# Argument variants that canonicalise alike (key order, whitespace, 1 vs 1.0) and some that do not.
ARGUMENTS: list[dict[str, Any] | None] = [
    None,
    {},
    {"query": "refund policy"},
    {"query": "  refund   policy "},
    {"page": 1, "query": "refund policy"},
    {"query": "refund policy", "page": 1.0},
    {"query": "refund policy", "page": 2},
    {"url": "/orders/81f2c1d4-6a1e-4c6e-9c1e-1f2a3b4c5d6e"},
    {"nested": {"b": [1, "two"], "a": "x y"}},
    {"query": "caf\u00e9 \ud800 lone surrogate"},
]
RESULTS = [
    "No results for 'refund policy'",
    "No results for 'returns'",
    "status: pending at 2026-12-02T02:10:00Z",
    "status: pending at 2026-12-02T02:11:30Z",
    "status: done",
    "",
]
ERRORS = ["TimeoutError: request 8812 timed out after 30s", "HTTP 503 Service Unavailable (id 4411)", "ValueError"]


def _prefix() -> str:
    return f"guardrail-calls:{uuid.uuid4().hex}:"


def _apply(store: Any, rng: random.Random, op: str, last_step: int) -> object:
    """One operation on a store; its return value, or the InvalidInputError's message."""
    try:
        if op == "step_call":
            tool, arguments = rng.randrange(K), rng.choice(ARGUMENTS)
            return store.record_step_call("e", K, tool, TOOLS[tool], arguments, interventions=rng.randrange(2))
        if op == "step_then_call":
            tool, arguments = rng.randrange(K), rng.choice(ARGUMENTS)
            index = store.record_step("e", K, tool)
            store.record_call("e", K, index, TOOLS[tool], arguments)
            return index
        if op == "step":
            return store.record_step("e", K, rng.randrange(K))
        if op == "outcome":
            step = None if rng.random() < 0.8 else rng.randrange(max(1, last_step + 2))
            if rng.random() < 0.3:
                return store.record_outcome("e", K, result=None, error=rng.choice(ERRORS), step=step)
            return store.record_outcome("e", K, result=rng.choice(RESULTS), error=None, step=step)
        if op == "user":
            return store.new_user_message("e", K)
        return store.record_reward("e", K, rng.choice([0.0, 1.0, 0.5]))
    except InvalidInputError as error:
        return f"InvalidInputError: {error}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_redis_shows_exactly_the_calls_the_in_memory_store_shows(server: RestartableRedis, seed: int) -> None:
    """A seeded random sequence of steps with calls (in one write, or a step then its call), steps without a
    call, outcomes (results and errors, for the latest call or an explicit step, some waiting for none), user
    messages and rewards: after every operation the Redis view equals the in-memory view, calls included
    (canonical arguments, outcome digests, errors, the 64-call window sliding, the reset at a user message), and
    every return value and refusal is the same."""
    rng = random.Random(seed)
    store = RedisHistoryStore(server.url, prefix=_prefix())
    memory = InMemoryHistoryStore()
    ops = ["step_call"] * 5 + ["step_then_call"] + ["step"] + ["outcome"] * 4 + ["user"] + ["reward"]
    longest = 0
    for turn in range(400):
        op = rng.choice(ops)
        if op == "user" and turn < 200:
            op = "step_call"  # no user message in the first half: the window fills and slides
        last_step = memory.view("e", K).t - 1
        state = rng.getstate()
        want = _apply(memory, rng, op, last_step)
        rng.setstate(state)  # the same choices for the Redis store
        got = _apply(store, rng, op, last_step)
        assert got == want, op
        view = store.view("e", K)
        assert view == memory.view("e", K), op
        longest = max(longest, len(view.calls))
    assert longest == MAX_CALL_WINDOW  # the window was reached and held
    store.reset("e")
    assert store.view("e", K).calls == ()
    store.close()


def test_loops_flags_an_identical_call_repeated_across_two_replicas(server: RestartableRedis) -> None:
    """Two Guards on two stores sharing one Redis (two replicas) take turns serving one conversation: the third
    identical call with the same result, made by either, is a loop on the next step, whichever replica takes it;
    a user message sent through one replica resets the counters for both."""
    prefix = _prefix()
    replicas = [
        Guard(TOOLS, detectors=[Loops()], history=RedisHistoryStore(server.url, prefix=prefix)) for _ in range(2)
    ]
    search = {"action": "search", "arguments": {"query": "refund policy"}}
    flagged = []
    for turn in range(4):
        guard = replicas[turn % 2]
        result = guard.step(lambda _p: search, "How do refunds work?", episode="chat")
        guard.record_outcome("chat", result="No results")
        flagged.append([f.data["steps"] for f in result.findings if f.kind == LOOP])
    assert flagged == [[], [], [], [[0, 1, 2]]]
    replicas[0].new_user_message("chat")
    assert replicas[1].view("chat").calls == ()
    result = replicas[1].step(lambda _p: search, "And exchanges?", episode="chat")
    assert [f for f in result.findings if f.kind == LOOP] == []
    for guard in replicas:
        guard.close()


def test_a_restart_without_persistence_reseeds_the_calls(server: RestartableRedis) -> None:
    """Redis killed with -9 and restarted empty: the next step re-seeds the episode from this replica's last
    state, calls and outcomes included, so the loop its earlier calls made is still caught."""
    store = RedisHistoryStore(server.url, prefix=_prefix(), socket_timeout=0.5)
    guard = Guard(TOOLS, detectors=[Loops()], history=store)
    search = {"action": "search", "arguments": {"query": "refund policy"}}
    for _ in range(3):
        guard.step(lambda _p: search, "obs", episode="e")
        guard.record_outcome("e", result="No results")
    before = guard.view("e").calls
    server.kill()
    server.start()
    with pytest.warns(HistoryStoreWarning, match="re-seeded at step 3"):
        result = guard.step(lambda _p: search, "obs", episode="e")
    assert result.step == 3
    assert [f.data["pattern"] for f in result.findings if f.kind == LOOP] == ["identical"]
    assert guard.view("e").calls[:3] == before
    assert store.resets == 1
    store.close()


def test_a_step_and_call_in_flight_when_redis_froze_is_never_recorded_twice(server: RestartableRedis) -> None:
    """A step with its call sent just before Redis froze (SIGSTOP) times out and the caller is told it failed;
    Redis may apply it when it thaws. The next write settles it (its call goes with its step), so the retried
    step is recorded once, with one call."""
    store = RedisHistoryStore(server.url, prefix=_prefix(), socket_timeout=0.3)
    store.record_step_call("e", K, 0, "search", {"query": "a"})
    store.record_outcome("e", K, result="r", error=None)
    server.freeze()
    try:
        with pytest.raises(HistoryStoreError, match="record_step_call"):
            store.record_step_call("e", K, 1, "read", {"url": "/a"})
    finally:
        server.thaw()
    time.sleep(0.3)  # let the server apply what it had read before it froze (not a timing assertion)
    assert store.record_step_call("e", K, 1, "read", {"url": "/a"}) == 1  # the caller's retry
    view = store.view("e", K)
    assert view.t == 2
    assert [(c.step, c.name) for c in view.calls] == [(0, "search"), (1, "read")]
    assert store.voided == 1
    store.close()


def test_an_outcome_lost_in_flight_is_settled_so_the_retry_attaches_it_once_to_the_same_call(
    server: RestartableRedis,
) -> None:
    """An outcome write that Redis applied but whose reply was lost (made deterministic: the script is run and its
    id marked lost) is put back by the next operation, so the caller's retry attaches the outcome to the same
    call once, and the earlier call still waiting does not get it."""
    store = RedisHistoryStore(server.url, prefix=_prefix())
    store.record_step_call("e", K, 0, "search", {"query": "a"})
    store.record_step_call("e", K, 1, "read", {"url": "/a"})
    snapshot = store._remember("e", K, store._view(keys=store.keys("e"), args=[str(K), store._ttl_ms, "1", "2", ""]))
    from guardrail.history import with_outcome
    from guardrail.stores.redis import _entry

    done = _entry(with_outcome(snapshot.view.calls[1], snapshot.texts[1], "page text", None), ())
    args = [str(K), store._ttl_ms, "1", "2", "", "1", snapshot.entries[1], done, "lost-outcome"]
    store._record_outcome(keys=store.keys("e"), args=args)  # applied; the caller never heard back
    store._lost("e", "lost-outcome")
    assert store.record_outcome("e", K, result="page text", error=None) == 1  # the retry: the same call
    first, second = store.view("e", K).calls
    assert first.outcome is None
    assert second.outcome == outcome_digest("page text", arguments={"url": "/a"})
    assert store.voided == 1
    again = store._record_outcome(keys=store.keys("e"), args=args)  # the lost write arriving late does nothing
    assert int(again[0]) == -7
    assert store.view("e", K).calls == (first, second)
    store.close()


def test_a_replayed_outcome_id_is_applied_once(server: RestartableRedis) -> None:
    """The outcome script is idempotent by id: the same write sent twice attaches once and returns the same step."""
    store = RedisHistoryStore(server.url, prefix=_prefix())
    store.record_step_call("e", K, 0, "search", {"query": "a"})
    snapshot = store._remember("e", K, store._view(keys=store.keys("e"), args=[str(K), store._ttl_ms, "1", "1", ""]))
    from guardrail.history import with_outcome
    from guardrail.stores.redis import _entry

    done = _entry(with_outcome(snapshot.view.calls[0], snapshot.texts[0], "r", None), ())
    args = [str(K), store._ttl_ms, "1", "1", "", "0", snapshot.entries[0], done, "fixed-id"]
    assert int(store._record_outcome(keys=store.keys("e"), args=args)[1]) == 0
    assert int(store._record_outcome(keys=store.keys("e"), args=args)[1]) == 0
    with pytest.raises(InvalidInputError, match="waiting for an outcome"):
        store.record_outcome("e", K, result="r", error=None)
    store.close()


def test_local_mode_keeps_calls_while_redis_is_down_and_writes_them_back(server: RestartableRedis) -> None:
    """on_error="local": while Redis is frozen the episode's calls continue in process from the last state read
    (so a loop begun in Redis is still caught), and when Redis answers again the local calls are written back
    (nobody else wrote the episode): Redis then shows exactly the calls the replica held."""
    store = RedisHistoryStore(server.url, prefix=_prefix(), socket_timeout=0.3, on_error="local", rejoin_interval=None)
    guard = Guard(TOOLS, detectors=[Loops()], history=store)
    search = {"action": "search", "arguments": {"query": "refund policy"}}
    for _ in range(2):
        guard.step(lambda _p: search, "obs", episode="e")
        guard.record_outcome("e", result="No results")
    server.freeze()
    try:
        with pytest.warns(HistoryStoreWarning, match="in-process history"):
            guard.step(lambda _p: search, "obs", episode="e")
        guard.record_outcome("e", result="No results")
        result = guard.step(lambda _p: {"action": "final_answer"}, "obs", episode="e")
    finally:
        server.thaw()
    assert [f.data["steps"] for f in result.findings if f.kind == LOOP] == [[0, 1, 2]]
    local = guard.view("e")
    with warnings.catch_warnings():
        warnings.simplefilter("error", HistoryStoreWarning)  # no conflict, no unresolved write
        assert store.rejoin("e")
    assert store.reconciled == 1
    assert store.local_episodes == frozenset()
    assert guard.view("e") == local
    assert len(local.calls) == 4
    store.close()


def test_calls_expire_with_the_episode_and_reset_forgets_them(server: RestartableRedis) -> None:
    """The calls list carries the episode's TTL (refreshed by each write) and store.reset deletes it."""
    store = RedisHistoryStore(server.url, prefix=_prefix(), ttl=60)
    store.record_step_call("e", K, 0, "search", {"query": "a"})
    calls_key = store.keys("e")[6]
    assert 0 < store.client.pttl(calls_key) <= 60_000
    store.reset("e")
    assert store.client.exists(calls_key) == 0
    assert store.view("e", K).calls == ()
    store.close()
