"""Policies on constructed histories, and their composition under budgets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from guardrail import (
    Budget,
    ConfigurationError,
    ContextSummary,
    Decision,
    EpsilonGreedy,
    Greediness,
    Guard,
    MemorySink,
    Override,
    OverrideToRationale,
    ReAsk,
    ReAskRequest,
    SelfConsistency,
    TryAllFirst,
    UCBExplore,
)
from guardrail.history import EpisodeHistory, InMemoryHistoryStore
from guardrail.testing import FunctionAgent, ScriptedAgent, make_step_state

COLOURS = ["red", "green", "blue"]


def act(action: str | None, rationale_action: str | None = None) -> Decision:
    return Decision(
        action=action, rationale_action=rationale_action, rationale_confidence=0.9 if rationale_action else 0
    )


def test_try_all_first_prefers_the_rationales_untried_action() -> None:
    """While actions are untried, a tried choice is overridden; to the rationale's action if it is untried."""
    history = [("red", 0.5)]
    correction = TryAllFirst().correct(make_step_state(COLOURS, act("red", "blue"), history=history))
    assert isinstance(correction, Override)
    assert (correction.action, correction.explore) == ("blue", True)
    assert "2 of 3" in correction.reason


def test_try_all_first_is_seeded_and_stops_when_all_tried() -> None:
    """Without a usable rationale the untried pick is seeded; with all actions tried it does nothing."""
    history = [("red", 0.5)]
    picks = {
        TryAllFirst().correct(make_step_state(COLOURS, act("red"), history=history, seed=s)).action for s in range(20)
    }  # type: ignore[union-attr]
    assert picks == {"green", "blue"}
    same = [TryAllFirst().correct(make_step_state(COLOURS, act("red"), history=history, seed=3)) for _ in range(2)]
    assert same[0] == same[1]
    all_tried = [("red", 0.5), ("green", 0.1), ("blue", 0.2)]
    assert TryAllFirst().correct(make_step_state(COLOURS, act("red"), history=all_tried)) is None
    assert TryAllFirst().correct(make_step_state(COLOURS, act("green"), history=history)) is None


def test_try_all_first_on_a_one_action_space() -> None:
    """With one action, once it is tried there is nothing to explore."""
    assert TryAllFirst().correct(make_step_state(["only"], act("only"), history=[("only", 1.0)])) is None


def test_epsilon_greedy_rate_and_reproducibility() -> None:
    """About epsilon of steps are overridden; the same seed gives the same overrides."""
    policy = EpsilonGreedy(epsilon=0.3, seed=5)

    def run() -> list[str | None]:
        out = []
        for step in range(2000):
            state = make_step_state(COLOURS, act("red"), step=step, episode="e")
            correction = policy.correct(state)
            out.append(correction.action if correction else None)
        return out

    first, second = run(), run()
    assert first == second
    changed = sum(1 for a in first if a is not None) / len(first)
    assert changed == pytest.approx(0.3 * 2 / 3, abs=0.04)  # a draw equal to the chosen action changes nothing


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan])
def test_epsilon_out_of_range_is_refused(bad: float) -> None:
    """epsilon must be a probability."""
    with pytest.raises(ConfigurationError, match="epsilon"):
        EpsilonGreedy(epsilon=bad)


def test_ucb_explore_overrides_only_beyond_the_margin() -> None:
    """UCBExplore moves to the UCB argmax when the chosen index is more than margin below it."""
    history = [("red", 1.0)] * 30 + [("green", 0.9), ("blue", 0.0)]
    far = UCBExplore(margin=0.5).correct(make_step_state(COLOURS, act("red"), history=history))
    assert far is not None
    assert far.action == "green"
    assert UCBExplore(margin=100).correct(make_step_state(COLOURS, act("red"), history=history)) is None
    assert UCBExplore().correct(make_step_state(COLOURS, act("green"), history=history)) is None


def test_ucb_explore_untried_and_no_rewards() -> None:
    """Untried actions have infinite UCB (chosen first); without rewards UCBExplore does nothing."""
    untried = UCBExplore().correct(make_step_state(COLOURS, act("red"), history=[("red", 0.3)]))
    assert untried is not None
    assert untried.action in ("green", "blue")
    assert "inf" in untried.reason
    assert UCBExplore().correct(make_step_state(COLOURS, act("red"), history=[("red", None)])) is None


def test_self_consistency_requests_samples() -> None:
    """SelfConsistency asks for samples-1 more answers and refuses fewer than 2 samples."""
    correction = SelfConsistency(samples=16).correct(make_step_state(COLOURS, act("red", "blue")))
    assert correction is not None
    assert correction.n == 15
    with pytest.raises(ConfigurationError):
        SelfConsistency(samples=1)


def test_context_summary_adds_counts_and_means_to_the_prompt() -> None:
    """ContextSummary puts per-action counts and mean rewards in the agent's next prompt."""
    guard = Guard(COLOURS, policies=[ContextSummary()])
    agent = ScriptedAgent(["ACTION=red", "ACTION=blue"])
    guard.step(agent, "first")
    guard.record_reward("default", 0.25)
    guard.step(agent, "second")
    assert agent.prompts[0] == "first"  # nothing to summarise yet
    assert agent.prompts[1].startswith("second")
    assert "- red: chosen 1 times, mean reward 0.25" in agent.prompts[1]
    assert "- green: never chosen" in agent.prompts[1]


def test_reask_feedback_names_the_format_problem() -> None:
    """For an illegal action the feedback lists the legal actions."""
    request = ReAsk().correct(make_step_state(COLOURS, Decision(action=None, raw_action="purple")))
    assert isinstance(request, ReAskRequest)
    assert "'purple'" in request.feedback
    assert "red, green, blue" in request.feedback


def test_reask_respects_a_tenacity_stop_strategy() -> None:
    """ReAsk(stop=...) combines with max_attempts: whichever stops first."""
    from tenacity import stop_after_attempt

    state = make_step_state(COLOURS, act("red", "blue"), attempt=2, max_attempts=5)
    assert ReAsk(max_attempts=5).correct(state) is not None
    assert ReAsk(max_attempts=5, stop=stop_after_attempt(2)).correct(state) is None


def test_policies_act_in_order_first_correction_wins() -> None:
    """[TryAllFirst, OverrideToRationale]: exploration takes precedence; reversed, the rationale does."""
    gap = "so I should choose blue.\nACTION=red"
    explore_first = Guard(COLOURS, policies=[TryAllFirst(), OverrideToRationale()], seed=1)
    explore_first.step(ScriptedAgent(["ACTION=red"]), "o")
    explore_first.record_reward("default", 1.0)
    result = explore_first.step(ScriptedAgent([gap]), "o")
    assert result.corrections[0].policy == "TryAllFirst"
    assert result.action == "blue"  # the untried action the rationale named
    rationale_first = Guard(COLOURS, policies=[OverrideToRationale(), TryAllFirst()], seed=1)
    assert rationale_first.step(ScriptedAgent([gap]), "o").corrections[0].policy == "OverrideToRationale"


def test_min_steps_between_explorations_is_enforced_and_logged() -> None:
    """Forced explorations are spaced by the budget; a blocked one is logged as not applied."""
    sink = MemorySink()
    guard = Guard(
        [f"a{i}" for i in range(6)],
        policies=[TryAllFirst()],
        budget=Budget(min_steps_between_explorations=2),
        telemetry=sink,
        seed=0,
    )
    agent = FunctionAgent(lambda prompt: "ACTION=a0")
    explored = []
    for _ in range(6):
        result = guard.step(agent, "o")
        guard.record_reward("default", 0.0)
        explored.append(any(c.kind == "explore" and c.applied for c in result.corrections))
    assert explored == [False, True, False, True, False, True]
    blocked = [c for e in sink.steps for c in e.corrections if not c.applied]
    assert blocked
    assert all(c.reason == "budget exhausted" for c in blocked)


def test_spent_budget_still_logs_the_finding() -> None:
    """With the intervention budget spent, greediness findings are still logged and marked."""
    sink = MemorySink()
    guard = Guard(
        COLOURS,
        detectors=[Greediness()],
        policies=[TryAllFirst(answers=frozenset({"greediness"}))],
        budget=Budget(max_interventions_per_episode=0),
        telemetry=sink,
    )
    guard.step(ScriptedAgent(["ACTION=red"]), "o")
    guard.record_reward("default", 1.0)
    guard.step(ScriptedAgent(["ACTION=red"]), "o")
    finding = sink.steps[-1].findings[0]
    assert finding.kind == "greediness"
    assert finding.budget_exhausted


def test_long_episodes_do_not_grow_per_step_state() -> None:
    """After 10^5 steps the per-step view holds O(k + window) numbers, and a guarded step still works."""
    store = InMemoryHistoryStore()
    k = 20
    rng = np.random.default_rng(0)
    for _ in range(100_000):
        store.record_step("long", k, int(rng.integers(k)))
        store.record_reward("long", k, float(rng.normal()))
    view = store.view("long", k)
    assert view.t == 100_000
    sizes = [len(view.counts), len(view.reward_counts), len(view.reward_sums), len(view.recent)]
    assert max(sizes) <= max(k, 20)
    assert view.coverage == 1.0
    guard = Guard([f"arm_{i}" for i in range(k)], history=store, detectors=[Greediness()], policies=[UCBExplore()])
    result = guard.step(ScriptedAgent(["ACTION=arm_3"]), "o", episode="long")
    assert result.step == 100_000


def test_incremental_statistics_match_a_recomputation() -> None:
    """Counts, means, UCB and coverage kept incrementally equal a from-scratch computation."""
    rng = np.random.default_rng(1)
    k = 5
    history = EpisodeHistory(k)
    actions, rewards = [], []
    for _ in range(500):
        a = int(rng.integers(k))
        r = float(rng.normal(a / k, 1))
        history.add_reward(r, history.add_step(a))
        actions.append(a)
        rewards.append(r)
    view = history.view()
    counts = np.bincount(actions, minlength=k)
    sums = np.bincount(actions, weights=rewards, minlength=k)
    assert view.counts == tuple(counts)
    np.testing.assert_allclose(view.means(), sums / counts)
    np.testing.assert_allclose(view.ucb(2.0), sums / counts + 2.0 * np.sqrt(np.log(500) / counts))
