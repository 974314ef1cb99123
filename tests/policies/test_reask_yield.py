"""Re-ask yield: the guard tallies what re-asks fixed, and ReAsk skips futile re-asks with a probe."""

from __future__ import annotations

import pytest

from guardrail import ConfigurationError, Guard, MemorySink, OverrideToRationale, ReAsk, SkipWhenFutile
from guardrail.state import ReAskYield, ReAskYields
from guardrail.testing import FunctionAgent, ScriptedAgent, make_step_state

COLOURS = ["red", "green", "blue"]
INVALID = "I will press something.\nACTION=purple"
GOOD = "blue is best.\nACTION=blue"


def _yields(recent: tuple[bool, ...], skipped: int = 0) -> ReAskYields:
    tally = ReAskYield(reasks=len(recent), fixed=sum(recent), recent=recent, skipped=skipped)
    return ReAskYields(agent=tally, episode=tally)


def test_the_guard_tallies_reask_outcomes_per_agent_and_per_episode() -> None:
    """A re-ask whose answer is legal and consistent counts as fixed; one still invalid does not."""
    guard = Guard(COLOURS, policies=[ReAsk(max_attempts=2, adaptive=None)], fallback="random", seed=0)
    agent = ScriptedAgent([INVALID, GOOD, INVALID, INVALID], name="bot")
    guard.step(agent, "obs", episode="a")
    guard.step(agent, "obs", episode="b")
    by_agent = guard.reask_yield("bot", "a").agent
    assert (by_agent.reasks, by_agent.fixed, by_agent.recent) == (2, 1, (True, False))
    assert guard.reask_yield("bot", "a").episode.recent == (True,)
    assert guard.reask_yield("bot", "b").episode.recent == (False,)
    assert guard.reask_yield("other", "c") == ReAskYields()


def test_futile_reasks_are_skipped_with_their_reason_and_the_next_policy_acts() -> None:
    """After min_reasks failed re-asks the re-ask is skipped (no call), logged unapplied with its reason."""
    sink = MemorySink()
    rule = SkipWhenFutile(min_reasks=2, probe_every=100)
    guard = Guard(COLOURS, policies=[ReAsk(adaptive=rule), OverrideToRationale()], fallback="random", telemetry=sink)
    agent = FunctionAgent(lambda prompt: INVALID)
    calls = [guard.step(agent, "obs").agent_calls for _ in range(4)]
    assert calls == [2, 2, 1, 1]
    skipped = sink.steps[-1].corrections[0]
    assert (skipped.policy, skipped.kind, skipped.applied) == ("ReAsk", "reask", False)
    assert skipped.reason.startswith("skipped: 0/2 recent re-asks")
    assert sink.steps[-1].corrections[-1].kind == "fallback"
    assert guard.reask_yield(agent.name).agent.skipped == 2


def test_a_probe_reasks_periodically_and_a_fixed_probe_resumes_reasking() -> None:
    """With probe_every=3, one in three would-be skips re-asks; when the probe fixes its step, re-asks resume."""
    outputs = iter([INVALID] * 4 + [INVALID, INVALID] + [INVALID, GOOD] + [INVALID, GOOD])
    agent = FunctionAgent(lambda prompt: next(outputs))
    guard = Guard(COLOURS, policies=[ReAsk(adaptive=SkipWhenFutile(min_reasks=2, probe_every=3))], fallback="random")
    calls = [guard.step(agent, "obs").agent_calls for _ in range(6)]
    # two failed re-asks, two skips, the probe (fixes it), then a re-ask again at once
    assert calls == [2, 2, 1, 1, 2, 2]


def test_a_healthy_agent_is_always_reasked() -> None:
    """Re-asks that fix their step keep the yield high: the adaptive mode never skips."""
    outputs = iter([INVALID, GOOD] * 20)
    agent = FunctionAgent(lambda prompt: next(outputs))
    guard = Guard(COLOURS, policies=[ReAsk()], fallback="random")
    assert all(guard.step(agent, "obs").agent_calls == 2 for _ in range(20))


def test_skip_rule_reads_the_window_and_the_latest_outcome() -> None:
    """Skip only with enough re-asks seen, the share below min_yield, and the latest re-ask failed."""
    rule = SkipWhenFutile(min_yield=0.3, window=4, min_reasks=3)

    def reason(recent: tuple[bool, ...], skipped: int = 0) -> str | None:
        return rule.reason_to_skip(make_step_state(COLOURS, reask_yield=_yields(recent, skipped)))

    assert reason((False, False)) is None  # too few
    assert reason((False, False, False)) is not None
    assert reason((True, True, False, False, False, False)) is not None  # only the last 4 count
    assert reason((False, False, True)) is None  # the latest fixed its step
    assert reason((False, True, False, False)) is not None  # 1 of 4 fixed: 25% < 30%
    assert reason((True, False, True, False)) is None  # 2 of 4 fixed: 50%
    assert reason((False, False, False, False), skipped=rule.probe_every - 1) is None  # the probe


def test_episode_scope_judges_each_episode_on_its_own() -> None:
    """With scope="episode", a new episode starts re-asking again whatever the agent did elsewhere."""
    agent = FunctionAgent(lambda prompt: INVALID)
    rule = SkipWhenFutile(min_reasks=2, scope="episode")
    guard = Guard(COLOURS, policies=[ReAsk(adaptive=rule)], fallback="random")
    assert [guard.step(agent, "obs", episode="a").agent_calls for _ in range(3)] == [2, 2, 1]
    assert guard.step(agent, "obs", episode="b").agent_calls == 2


@pytest.mark.parametrize(
    "kwargs",
    [{"min_yield": 1.5}, {"window": 0}, {"window": 101}, {"min_reasks": 0}, {"min_reasks": 11}, {"probe_every": 0}],
)
def test_skip_rule_rejects_bad_settings(kwargs: dict[str, float]) -> None:
    """Out-of-range settings are a ConfigurationError at construction."""
    with pytest.raises(ConfigurationError):
        SkipWhenFutile(**kwargs)  # type: ignore[arg-type]
