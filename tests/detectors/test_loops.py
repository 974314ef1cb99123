"""Loops: reward-free loop detection over an episode's calls and outcomes, through the real Guard."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from guardrail import ConfigurationError, Guard, InvalidInputError, Loops
from guardrail.detectors import LOOP
from guardrail.history import InMemoryHistoryStore, canonical_arguments, outcome_digest

TOOLS = ["search", "read", "status", "final_answer"]


def _guard(**loops: Any) -> Guard:
    return Guard(TOOLS, detectors=[Loops(**loops)])


def _step(guard: Guard, tool: str, args: dict[str, Any] | None = None, *, episode: str = "e") -> list[Any]:
    result = guard.step(lambda _p: {"action": tool, "arguments": args or {}}, "obs", episode=episode)
    return [f for f in result.findings if f.kind == LOOP]


def _run(guard: Guard, calls: list[tuple[str, dict[str, Any], str | None, str | None]]) -> list[list[Any]]:
    """Step each call, then record its outcome; the findings of each step, then of a final answer."""
    seen = []
    for tool, args, result, error in calls:
        seen.append(_step(guard, tool, args))
        guard.record_outcome("e", result=result, error=error)
    seen.append(_step(guard, "final_answer"))
    return seen


def test_the_third_identical_call_with_the_same_result_is_reported_on_the_next_step() -> None:
    """Key order, whitespace and 1 vs 1.0 do not make a call different."""
    seen = _run(
        _guard(),
        [
            ("search", {"q": "refund policy", "n": 1}, "No results", None),
            ("search", {"n": 1.0, "q": " refund  policy "}, "No results", None),
            ("search", {"q": "refund policy", "n": 1}, "No results", None),
        ],
    )
    assert [bool(s) for s in seen] == [False, False, False, True]
    finding = seen[3][0]
    assert finding.data["pattern"] == "identical"
    assert finding.data["steps"] == [0, 1, 2]
    assert "search" in finding.detail
    assert "identical" in finding.detail


def test_polling_whose_result_changes_is_not_a_loop() -> None:
    calls = [("status", {"job": 7}, f"running {p}%", None) for p in (10, 40, 70, 90)]
    assert not any(_run(_guard(), [*calls, ("status", {"job": 7}, "done", None)]))


def test_paging_whose_arguments_change_is_not_a_loop() -> None:
    calls = [("search", {"q": "tickets", "page": p}, f"items {p}", None) for p in range(1, 8)]
    assert not any(_run(_guard(), calls))


def test_two_transient_failures_then_success_is_not_a_loop_but_three_same_errors_are() -> None:
    fail = ("read", {"path": "/a"}, None, "Error 503: unavailable (request req_81f2a9)")
    fail_again = ("read", {"path": "/a"}, None, "Error 503: unavailable (request req_00c3d1)")
    assert not any(_run(_guard(), [fail, fail_again, ("read", {"path": "/a"}, "contents", None)]))
    seen = _run(_guard(), [fail, fail_again, fail])
    assert seen[3][0].data["pattern"] == "same_error"
    assert seen[3][0].data["error"].startswith("Error 503")


def test_ping_pong_between_two_calls_is_a_loop() -> None:
    seen = _run(
        _guard(identical=None),
        [("search", {"q": "x"}, "A", None) if i % 2 == 0 else ("read", {"path": "/b"}, "B", None) for i in range(6)],
    )
    assert [bool(s) for s in seen].index(True) == 6
    assert seen[6][0].data["pattern"] == "ping_pong"


def test_an_alternation_caught_by_its_repeats_is_named_a_ping_pong() -> None:
    """With the defaults the third A of A-B-A-B-A meets `identical` first; the finding still names the ping-pong."""
    seen = _run(
        _guard(),
        [("search", {"q": "x"}, "A", None) if i % 2 == 0 else ("read", {"path": "/b"}, "B", None) for i in range(5)],
    )
    assert [bool(s) for s in seen].index(True) == 5
    assert seen[5][0].data["pattern"] == "ping_pong"


def test_different_calls_that_keep_getting_the_same_observation_are_no_progress() -> None:
    calls = [("search", {"q": f"variant {i}"}, "No results found.", None) for i in range(4)]
    seen = _run(_guard(), calls)
    assert [bool(s) for s in seen] == [False, False, False, False, True]
    assert seen[4][0].data["pattern"] == "no_progress"


def test_an_echoed_argument_does_not_make_an_observation_new() -> None:
    calls = [("search", {"q": f"term {w}"}, f"No results for 'term {w}'", None) for w in "abcd"]
    assert _run(_guard(), calls)[4][0].data["pattern"] == "no_progress"


def test_a_new_user_message_resets_the_counters() -> None:
    guard = _guard()
    for _ in range(2):
        assert not _step(guard, "search", {"q": "x"})
        guard.record_outcome("e", result="same")
    guard.new_user_message("e")
    for _ in range(2):
        assert not _step(guard, "search", {"q": "x"})
        guard.record_outcome("e", result="same")
    assert not _step(guard, "final_answer")


def test_the_finding_says_whether_the_proposed_call_carries_the_loop_on() -> None:
    guard = _guard()
    for _ in range(3):
        _step(guard, "search", {"q": "x"})
        guard.record_outcome("e", result="same")
    assert _step(guard, "search", {"q": "x"})[0].data["continues"] is True
    guard.record_outcome("e", result="same")
    assert _step(guard, "read", {"path": "/other"})[0].data["continues"] is False


def _identical_loop_continues(
    history: list[tuple[str, dict[str, Any], str | None, str | None]], proposed: str, args: dict[str, Any]
) -> bool:
    """Play ``history`` (tool, arguments, result, error), then propose a call: whether the identical loop the
    history makes is carried on by it."""
    guard = _guard()
    for tool, arguments, result, error in history:
        _step(guard, tool, arguments)
        guard.record_outcome("e", result=result, error=error)
    (finding,) = _step(guard, proposed, args)
    assert finding.data["pattern"] == "identical"
    return bool(finding.data["continues"])


def test_the_other_call_of_a_cycle_carries_the_loop_on_but_a_new_call_does_not() -> None:
    """read, search (fails), read, search, read: the reads are the loop, and proposing the search again carries
    it on, as the read would; a call not made since the loop began does not."""
    history = [
        ("read", {"path": "/schema"}, "schema", None),
        ("search", {"q": "q"}, None, "503 timed out"),
        ("read", {"path": "/schema"}, "schema", None),
        ("search", {"q": "q"}, "42", None),
        ("read", {"path": "/schema"}, "schema", None),
    ]
    assert _identical_loop_continues(history, "search", {"q": "q"}) is True
    assert _identical_loop_continues(history, "final_answer", {}) is False


def test_a_call_made_once_since_the_loop_began_is_a_new_attempt_not_the_loop() -> None:
    """read x3, search (fails), read: retrying the search once is not the loop of reads; the read is."""
    history = [("read", {"path": "/schema"}, "schema", None)] * 3 + [
        ("search", {"q": "q"}, None, "503 timed out"),
        ("read", {"path": "/schema"}, "schema", None),
    ]
    assert _identical_loop_continues(history, "search", {"q": "q"}) is False
    assert _identical_loop_continues(history, "read", {"path": "/schema"}) is True


def test_identical_calls_count_only_within_the_window() -> None:
    guard = _guard(window=4)
    calls: list[tuple[str, dict[str, Any], str | None, str | None]] = []
    for i in range(3):
        calls.append(("search", {"q": "x"}, "same", None))
        calls += [("read", {"path": f"/{i}/{j}"}, f"file {i} {j}", None) for j in range(3)]
    assert not any(_run(guard, calls))


def test_thresholds_are_validated() -> None:
    for bad in (
        {"identical": 1},
        {"ping_pong": 5},
        {"window": 0},
        {"window": 65},
        {"same_error": True},
        {"identical": 30, "window": 20},
    ):
        with pytest.raises(ConfigurationError):
            Loops(**bad)
    with pytest.raises(ConfigurationError, match="at least one pattern"):
        Loops(identical=None, same_error=None, ping_pong=None, no_progress=None)


def test_record_outcome_rejects_bad_input_and_keeps_what_was_recorded() -> None:
    guard = _guard()
    with pytest.raises(InvalidInputError, match="waiting for an outcome"):
        guard.record_outcome("e", result="nothing was called")
    _step(guard, "search", {"q": "x"})
    with pytest.raises(InvalidInputError, match="not both"):
        guard.record_outcome("e", result="r", error="e")
    guard.record_outcome("e", result="r")
    with pytest.raises(InvalidInputError, match="waiting for an outcome"):
        guard.record_outcome("e", result="twice")
    (call,) = guard.view("e").calls
    assert call.outcome == outcome_digest("r", arguments={"q": "x"})


class _Bare:
    """A custom history store that keeps steps and rewards but no calls (no record_call)."""

    def __init__(self) -> None:
        self.inner = InMemoryHistoryStore()

    def view(self, episode: str, k: int) -> Any:
        return self.inner.view(episode, k)

    def record_step(self, episode: str, k: int, action: int, **kw: Any) -> int:
        return self.inner.record_step(episode, k, action, **kw)

    def record_reward(self, episode: str, k: int, reward: float, *, step: int | None = None) -> int:
        return self.inner.record_reward(episode, k, reward, step=step)

    def reset(self, episode: str) -> None:
        self.inner.reset(episode)


def test_record_outcome_needs_a_store_that_keeps_calls() -> None:
    """A Guard with no call-reading detector accepts a bare store; recording an outcome there says why it cannot."""
    guard = Guard(TOOLS, history=_Bare())
    _step(guard, "search")
    guard.new_user_message("e")  # no counters to reset: nothing happens
    with pytest.raises(ConfigurationError, match="keeps no calls"):
        guard.record_outcome("e", result="r")


def test_loops_with_a_store_that_keeps_no_calls_is_refused_at_construction_naming_both() -> None:
    """It would see no call and never fire: a ConfigurationError naming the store and the detector, not a no-op."""
    with pytest.raises(ConfigurationError, match=r"detector Loops reads the episode's calls.*store _Bare keeps none"):
        Guard(TOOLS, history=_Bare(), detectors=[Loops()])


def test_any_detector_that_says_it_needs_calls_is_refused_with_a_store_that_keeps_none() -> None:
    class ReadsCalls:
        needs_calls = True

        def detect(self, state: Any) -> list[Any]:
            return []

    with pytest.raises(ConfigurationError, match="detector ReadsCalls"):
        Guard(TOOLS, history=_Bare(), detectors=[ReadsCalls()])
    Guard(TOOLS, history=_Bare(), detectors=[])  # no detector reads calls: the bare store is fine


def test_loops_is_accepted_with_both_stores_that_keep_calls() -> None:
    """The in-memory store and the Redis store keep calls (building a Redis store does not connect)."""
    from guardrail.stores import RedisHistoryStore

    Guard(TOOLS, history=InMemoryHistoryStore(), detectors=[Loops()])
    store = RedisHistoryStore("redis://127.0.0.1:1/0")
    Guard(TOOLS, history=store, detectors=[Loops()]).close()


def test_a_history_that_is_not_a_store_is_still_a_configuration_error() -> None:
    """The refusal of a non-store comes first, whatever the detectors."""
    with pytest.raises(ConfigurationError, match="history must be a HistoryStore"):
        Guard(TOOLS, history=object(), detectors=[Loops()])  # type: ignore[arg-type]


class _CallsApart(_Bare):
    """A custom store that keeps calls with record_call but cannot write a step and its call at once."""

    def record_call(self, episode: str, k: int, step: int, name: str, arguments: Any) -> None:
        self.inner.record_call(episode, k, step, name, arguments)

    def record_outcome(self, episode: str, k: int, **kw: Any) -> int:
        return self.inner.record_outcome(episode, k, **kw)

    def new_user_message(self, episode: str, k: int) -> None:
        self.inner.new_user_message(episode, k)


def test_a_store_without_record_step_call_gets_the_step_then_its_call_and_loops_still_fire() -> None:
    """The Guard writes a step and its call at once only where the store can; elsewhere record_step then
    record_call, and the loop is caught all the same."""
    guard = Guard(TOOLS, history=_CallsApart(), detectors=[Loops()])
    seen = []
    for _ in range(4):
        seen.append(_step(guard, "search", {"q": "x"}))
        guard.record_outcome("e", result="nothing")
    assert [len(f) for f in seen] == [0, 0, 0, 1]
    assert [c.step for c in guard.view("e").calls] == [0, 1, 2, 3]


def test_async_twins_record_outcomes_and_user_messages() -> None:
    async def main() -> list[bool]:
        guard = _guard()
        flags = []

        async def agent(_p: Any) -> dict[str, Any]:
            return {"action": "search", "arguments": {"q": "x"}}

        for i in range(4):
            if i == 2:
                await guard.anew_user_message("e")
            result = await guard.astep(agent, "obs", episode="e")
            flags.append(any(f.kind == LOOP for f in result.findings))
            await guard.arecord_outcome("e", result="same")
        return flags

    assert asyncio.run(main()) == [False, False, False, False]


def test_canonical_arguments_ignore_layout_but_not_values() -> None:
    assert canonical_arguments({"b": 1.0, "a": " x  y "}) == canonical_arguments({"a": "x y", "b": 1})
    assert canonical_arguments({"page": 1}) != canonical_arguments({"page": 2})
    assert canonical_arguments(None) == canonical_arguments({})


def test_error_digests_ignore_ids_and_timestamps_but_keep_status_codes() -> None:
    a = outcome_digest("Error 503 at 2026-01-01T10:00:00Z (req_8f2a)", error=True)
    b = outcome_digest("Error 503 at 2026-01-02T11:30:00Z (req_19c0)", error=True)
    c = outcome_digest("Error 404 at 2026-01-02T11:30:00Z (req_19c0)", error=True)
    assert a == b != c
    assert outcome_digest("running 10%") != outcome_digest("running 40%")


def test_a_base64_id_in_an_error_is_one_id() -> None:
    """AWS-style errors differ only in RequestId and a base64 HostId (with + and =): one error."""
    a = outcome_digest("Access Denied (RequestId: 8F2A1C3B9D7E6F50, HostId: q1Zk3+Y0bWd8hN2v0Qe1x=)", error=True)
    b = outcome_digest("Access Denied (RequestId: 3C77E0A1B2D49F81, HostId: Hn4Y2x8cV1bN6mQ0wE3rT7=)", error=True)
    assert a == b
