"""The bandit runner: guarded episodes, baseline episodes on the same bandits, and the summary figures."""

from __future__ import annotations

import numpy as np
import pytest

from guardrail import Guard, Observe, OverrideToRationale, TryAllFirst, UCBExplore
from guardrail.exceptions import ConfigurationError
from guardrail_bench.baselines import UCB1
from guardrail_bench.envs import BanditSpec, MultiArmedBandit
from guardrail_bench.runner import (
    BanditPrompter,
    SimulatedBanditAgent,
    bandit_seeds,
    run_bandits,
    run_policy_bandits,
    summarize_traces,
)
from guardrail_bench.simulators import KnowingDoingProfile

SPEC = BanditSpec(k=5, horizon=12)


def _guard(policies: list[object]) -> Guard:
    return Guard(actions=SPEC.arm_names, policies=policies, fallback="random", seed=0, prompter=BanditPrompter())  # type: ignore[arg-type]


def _run(policies: list[object], profile: object | None = None, n: int = 4) -> tuple[object, list[object]]:
    chosen = profile or KnowingDoingProfile()
    return run_bandits(
        name="t",
        make_guard=lambda: _guard(policies),
        make_agent=lambda i, rng: SimulatedBanditAgent(chosen, rng),  # type: ignore[arg-type]
        spec=SPEC,
        n_bandits=n,
        seed=3,
    )


def test_same_seed_reproduces_every_figure() -> None:
    """Two runs with the same seed give identical summaries."""
    first, _ = _run([OverrideToRationale()])
    second, _ = _run([OverrideToRationale()])
    a, b = first.as_dict(), second.as_dict()  # type: ignore[attr-defined]
    a.pop("wall_seconds")
    b.pop("wall_seconds")
    assert a == b


def test_summary_has_the_paper_figures() -> None:
    """Regret with CI, coverage, the 2x3 table (percent of steps), curves with bands, costs."""
    summary, _traces = _run([Observe()])
    data = summary.as_dict()  # type: ignore[attr-defined]
    for key in (
        "regret_mean",
        "regret_ci95",
        "coverage_final",
        "kd_agreement",
        "interventions_per_step",
        "agent_calls_per_step",
        "invalid_rate",
        "executed_invalid_rate",
        "knowing_doing_table",
        "wall_seconds",
    ):
        assert key in data
    cells = [v for row in data["knowing_doing_table"].values() for v in row.values()]
    assert sum(cells) == pytest.approx(100.0, abs=0.1)
    assert len(data["regret_curve"]) == len(data["regret_band"]) == SPEC.horizon
    assert data["agent_calls_per_step"] == 1.0
    assert data["interventions_per_step"] == 0.0


def test_invalid_answers_fall_back_unguarded_and_not_with_the_best_combination() -> None:
    """A profile with invalid ACTION lines executes fallbacks unguarded (reward -5) and none with try-all + UCB."""
    noisy = KnowingDoingProfile(invalid_rate=0.3)
    unguarded, traces = _run([Observe()], noisy)
    assert unguarded.first_invalid_rate > 0.1  # type: ignore[attr-defined]
    assert unguarded.executed_invalid_rate == unguarded.first_invalid_rate  # type: ignore[attr-defined]
    fallen = traces[0].executed_invalid  # type: ignore[attr-defined]
    assert np.all(traces[0].rewards[fallen] == -5.0)  # type: ignore[attr-defined]
    guarded, _ = _run([TryAllFirst(), UCBExplore(c=0.0, margin=0.2)], noisy)
    assert guarded.first_invalid_rate > 0.1  # type: ignore[attr-defined]
    assert guarded.executed_invalid_rate == 0.0  # type: ignore[attr-defined]
    assert guarded.interventions_per_step > 0  # type: ignore[attr-defined]


def test_baselines_face_the_same_bandits_as_agents() -> None:
    """UCB via run_policy_bandits sees the bandits run_bandits builds for the same seed (same best-arm regret 0)."""
    _agent_summary, agent_traces = _run([Observe()])
    ucb_summary, ucb_traces = run_policy_bandits(name="ucb", policy=UCB1(), spec=SPEC, n_bandits=4, seed=3)
    assert ucb_summary.agent_calls_per_step == 0.0
    assert not ucb_summary.guarded
    assert ucb_summary.coverage_final == 1.0
    for i, (a, u) in enumerate(zip(agent_traces, ucb_traces, strict=True)):
        bandit = MultiArmedBandit(SPEC, seed=bandit_seeds(3, i)[0])
        for trace in (a, u):
            expected = bandit.means.max() - bandit.means[trace.actions]  # type: ignore[attr-defined]
            assert np.allclose(trace.regret, expected)  # type: ignore[attr-defined]


def test_summarize_needs_episodes() -> None:
    """An empty run is a configuration error."""
    with pytest.raises(ConfigurationError):
        summarize_traces("x", [])
