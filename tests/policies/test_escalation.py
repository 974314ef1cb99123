"""Escalation: a loop is nudged, then blocked, then stopped; each rung is counted in telemetry."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from guardrail import ConfigurationError, Escalation, Guard, Loops, LoopStopped, MemorySink

TOOLS = ["search", "read", "final_answer"]
LOOPING = {"action": "search", "arguments": {"q": "x"}, "rationale": "I will search for x again."}


def _looping_guard(sink: MemorySink, **rungs: Any) -> Guard:
    guard = Guard(TOOLS, detectors=[Loops()], policies=[Escalation(**rungs)], telemetry=sink)
    for _ in range(3):  # three identical calls, same result: the loop is established
        guard.step(lambda _p: LOOPING, "obs", episode="e")
        guard.record_outcome("e", result="No results")
    return guard


def test_a_nudge_reasks_naming_the_loop_and_an_agent_that_listens_moves_on() -> None:
    sink = MemorySink()
    guard = _looping_guard(sink)
    answers = iter([LOOPING, {"action": "read", "arguments": {"path": "/faq"}}])
    prompts: list[Any] = []

    def agent(prompt: Any) -> Any:
        prompts.append(prompt)
        return next(answers)

    result = guard.step(agent, "obs", episode="e")
    assert result.action == "read"
    (nudge,) = result.corrections
    assert nudge.kind == "reask"
    assert (nudge.reason or "").startswith("nudge:")
    assert "search" in prompts[1]
    assert "identical" in prompts[1]


def test_an_agent_that_ignores_the_nudge_is_blocked_then_stopped(run: Callable[..., Any]) -> None:
    """Sync or async, the stopped step's event holds what the step did before the stop, and nothing is recorded."""
    sink = MemorySink()
    guard = _looping_guard(sink)
    with pytest.raises(LoopStopped) as stopped:
        run(guard, lambda _p: LOOPING, "obs", episode="e")
    assert stopped.value.finding.data["pattern"] == "identical"
    assert "repeating" in stopped.value.message
    event = sink.events[-1]
    assert event.status == "stopped"
    reasons = [c.reason or "" for c in event.corrections]
    assert [r.split(":")[0] for r in reasons] == ["nudge", "block"]
    assert event.agent_calls == 3  # the first answer, the nudge's and the block's
    assert [f.attempt for f in event.findings if f.kind == "loop"] == [1, 2, 3]
    assert event.final_action is None
    assert guard.view("e").t == 3  # the stopped step was not executed
    assert len(guard.view("e").calls) == 3


def test_a_block_replaces_the_call_by_the_rationales_different_action() -> None:
    sink = MemorySink()
    guard = _looping_guard(sink, nudges=0)
    answer = {"action": "search", "arguments": {"q": "x"}, "rationale": "I should read the file instead."}
    result = guard.step(lambda _p: answer, "obs", episode="e")
    assert result.action == "read"
    (block,) = result.corrections
    assert block.kind == "override"
    assert (block.reason or "").startswith("block:")


def test_without_stop_the_block_rung_repeats_and_nothing_is_raised() -> None:
    sink = MemorySink()
    guard = _looping_guard(sink, nudges=0, blocks=1, stop=False)
    answers = iter([LOOPING, LOOPING, {"action": "final_answer"}])
    result = guard.step(lambda _p: next(answers), "obs", episode="e")
    assert result.action == "final_answer"
    assert [(c.reason or "").split(":")[0] for c in result.corrections] == ["block", "block"]


def test_a_loop_the_proposed_call_does_not_carry_on_is_left_alone() -> None:
    guard = _looping_guard(MemorySink())
    result = guard.step(lambda _p: {"action": "final_answer"}, "obs", episode="e")
    assert result.action == "final_answer"
    assert not result.corrections
    assert any(f.kind == "loop" for f in result.findings)


def test_an_async_agent_is_stopped_the_same_way() -> None:
    sink = MemorySink()
    guard = _looping_guard(sink)

    async def agent(_p: Any) -> Any:
        return LOOPING

    with pytest.raises(LoopStopped):
        asyncio.run(guard.astep(agent, "obs", episode="e"))
    assert sink.events[-1].status == "stopped"
    assert sink.events[-1].agent_calls == 3


def test_rungs_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="nudges"):
        Escalation(nudges=-1)
    with pytest.raises(ConfigurationError, match="blocks >= 1"):
        Escalation(blocks=0, stop=False)
