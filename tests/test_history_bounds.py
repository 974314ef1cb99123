"""Bounded memory: calls for unknown episodes create nothing; the in-memory store evicts by count and idle time."""

from __future__ import annotations

import contextlib
import gc
import os
import sys

import pytest

from guardrail import Guard
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail.history import HistoryView, InMemoryHistoryStore


def test_a_view_of_an_unknown_episode_is_empty_and_creates_nothing() -> None:
    """view() of an episode never stepped returns the empty view and leaves the store empty."""
    store = InMemoryHistoryStore()
    assert store.view("nobody", 3) == HistoryView.empty(3)
    assert list(store.episodes()) == []


def test_a_reward_for_an_unknown_episode_is_an_error_and_creates_nothing() -> None:
    """record_reward() for an episode never stepped is an InvalidInputError and leaves the store empty."""
    store = InMemoryHistoryStore()
    with pytest.raises(InvalidInputError, match="waiting for a reward"):
        store.record_reward("nobody", 3, 1.0)
    assert list(store.episodes()) == []


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/statm")
def test_a_hundred_thousand_rejected_calls_keep_resident_memory_flat() -> None:
    """100,000 rejected calls (rewards and views for unknown episodes, each a new id) leave no episode behind and
    resident memory within a few MB (the defect kept 221 MB)."""
    guard = Guard(["red", "blue", "green"])
    store = guard.history
    assert isinstance(store, InMemoryHistoryStore)

    def reject(start: int, count: int) -> None:
        for index in range(start, start + count):
            episode = f"unknown-episode-{index:08d}"
            with contextlib.suppress(InvalidInputError):
                guard.record_reward(episode, 1.0)
            guard.view(episode)

    reject(0, 2_000)  # warm-up: allocator pools, caches
    gc.collect()
    before = _rss_bytes()
    reject(2_000, 100_000)
    gc.collect()
    grown = _rss_bytes() - before
    assert list(store.episodes()) == []
    assert grown < 8 * 1024 * 1024, f"resident memory grew {grown / 1e6:.1f} MB"


def test_max_episodes_evicts_the_least_recently_used_and_counts_it() -> None:
    """With max_episodes=2 a third episode evicts the one used least recently; evictions counts it."""
    store = InMemoryHistoryStore(max_episodes=2)
    store.record_step("a", 2, 0)
    store.record_step("b", 2, 1)
    store.view("a", 2)  # a is now more recent than b
    store.record_step("c", 2, 0)
    assert sorted(store.episodes()) == ["a", "c"]
    assert store.evictions == 1
    assert store.view("b", 2).t == 0  # an evicted episode starts afresh
    assert store.view("a", 2).t == 1


def test_idle_ttl_evicts_episodes_not_used_for_that_long_and_counts_them() -> None:
    """With idle_ttl=10 an episode unused for more than 10 s (injected clock) is forgotten at the next use of the
    store; an episode used within the TTL is kept."""
    now = [0.0]
    store = InMemoryHistoryStore(idle_ttl=10.0, clock=lambda: now[0])
    store.record_step("old", 2, 0)
    now[0] = 5.0
    store.record_step("recent", 2, 1)
    now[0] = 12.0
    store.record_step("new", 2, 0)
    assert sorted(store.episodes()) == ["new", "recent"]
    assert store.evictions == 1
    now[0] = 30.0
    store.view("new", 2)
    assert list(store.episodes()) == ["new"]
    assert store.evictions == 2


def test_bounded_store_keeps_counts_exact_for_live_episodes() -> None:
    """Eviction never touches an episode in use: 50 live episodes under max_episodes=50 keep every step."""
    store = InMemoryHistoryStore(max_episodes=50)
    for step in range(20):
        for episode in range(50):
            assert store.record_step(f"e{episode}", 3, step % 3) == step
    assert store.evictions == 0


@pytest.mark.parametrize("kwargs", [{"max_episodes": 0}, {"max_episodes": True}, {"idle_ttl": 0}, {"idle_ttl": -1.0}])
def test_bad_bounds_are_configuration_errors(kwargs: dict[str, object]) -> None:
    """max_episodes < 1 and a non-positive idle_ttl fail at construction."""
    with pytest.raises(ConfigurationError):
        InMemoryHistoryStore(**kwargs)  # type: ignore[arg-type]
