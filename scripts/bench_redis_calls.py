"""What keeping calls costs a guarded step on Redis: the median time of one Guard.step (+ record_outcome) with
Loops, on InMemoryHistoryStore and on RedisHistoryStore, with the call window empty and full (64 calls).

    python scripts/bench_redis_calls.py redis://127.0.0.1:6379/0

Prints figures only (no assertion); the agent is a function, so the time is the guard's and the store's.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid

from guardrail import Guard, InMemoryHistoryStore, Loops
from guardrail.history import HistoryStore
from guardrail.stores import RedisHistoryStore

TOOLS = ["search_docs", "read_page", "final_answer"]


def _median_step_us(store: HistoryStore, full: bool, steps: int = 300) -> float:
    """Median of one step and its record_outcome; ``full``: 64 calls in the window, else a user message before
    each step keeps it at one call."""
    guard = Guard(TOOLS, detectors=[Loops(identical=None, ping_pong=None, no_progress=None)], history=store)
    episode = uuid.uuid4().hex
    warm_calls = 64 if full else 0
    for page in range(warm_calls):  # distinct pages: a full window and no loop
        guard.step(lambda _p, n=page: {"action": "read_page", "arguments": {"page": n}}, "obs", episode=episode)
        guard.record_outcome(episode, result=f"page {page}")
    times = []
    for page in range(warm_calls, warm_calls + steps):
        if not full:
            guard.new_user_message(episode)  # not timed: keeps the window at one call
        start = time.perf_counter()
        guard.step(lambda _p, n=page: {"action": "read_page", "arguments": {"page": n}}, "obs", episode=episode)
        guard.record_outcome(episode, result=f"page {page}")
        times.append(time.perf_counter() - start)
    guard.close()
    return statistics.median(times) * 1e6


def main(url: str) -> None:
    redis = RedisHistoryStore(url, prefix=f"bench-calls:{uuid.uuid4().hex}:")
    print("store     calls in window   median step + record_outcome (us)")
    for name, store in (("memory", InMemoryHistoryStore()), ("redis", redis)):
        for full in (False, True):
            print(f"{name:<9} {'64' if full else '1':<17} {_median_step_us(store, full):10.0f}")
    redis.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0")
