"""Baseline bandit policies and the vectorised runner."""

from __future__ import annotations

import numpy as np
import pytest

from guardrail.exceptions import ConfigurationError
from guardrail_bench.baselines import (
    BASELINES,
    UCB1,
    BanditPolicy,
    EpsilonGreedy,
    Greedy,
    LinUCB,
    UniformRandom,
    random_argmax,
    run_baseline,
    run_contextual_baseline,
)
from guardrail_bench.envs import BanditSpec, BanditView, ContextualSpec
from guardrail_bench.metrics import mean_ci, optimal_set

SPEC = BanditSpec(k=10, horizon=50, sigma=1.0)


def test_ucb_beats_random_on_regret_over_64_bandits() -> None:
    """On the paper's setting, UCB's cumulative regret at T is clearly below uniform random's.

    Both face the same 64 bandits (same seed), so the comparison is paired.
    """
    ucb, rand = run_baseline("ucb", SPEC, 64, seed=0), run_baseline("random", SPEC, 64, seed=0)
    assert np.array_equal(ucb.means, rand.means)
    difference = mean_ci(rand.regret[:, -1] - ucb.regret[:, -1])
    assert difference.low > 0


def test_run_baseline_shapes_and_reproducibility() -> None:
    """Arrays are (n, T); the same seed replays exactly; regret is cumulative (non-decreasing)."""
    first = run_baseline("epsilon_greedy", SPEC, 8, seed=3)
    second = run_baseline("epsilon_greedy", SPEC, 8, seed=3)
    for name in ("actions", "rewards", "regret", "coverage"):
        assert getattr(first, name).shape == (8, 50)
        assert np.array_equal(getattr(first, name), getattr(second, name))
    assert np.all(np.diff(first.regret, axis=1) >= -1e-12)
    assert first.n_episodes == 8
    assert first.horizon == 50


def test_ucb_tries_every_arm_in_the_first_k_steps() -> None:
    """Untried arms come first, so coverage reaches 1 at step k-1."""
    run = run_baseline("ucb", SPEC, 16, seed=1)
    assert np.all(run.coverage[:, SPEC.k - 1] == 1.0)


def test_ucb_ties_are_broken_at_random_not_by_index() -> None:
    """With several untried arms, the seeded rng spreads the first choice over all of them."""
    view = BanditView.from_history(("a", "b", "c", "d"), [], [])
    rng = np.random.default_rng(0)
    picks = {UCB1().select(view, rng) for _ in range(60)}
    assert picks == {0, 1, 2, 3}


def test_ucb_select_always_picks_an_optimal_action() -> None:
    """UCB1 with c=1 chooses from the metrics module's optimal set."""
    view = BanditView.from_history(("a", "b", "c"), [0, 1, 2, 0, 0], [1.0, 0.0, 0.2, 0.9, 1.1])
    assert UCB1().select(view, np.random.default_rng(0)) in optimal_set(view.counts, view.means)


def test_select_and_select_batch_agree() -> None:
    """``select`` is ``select_batch`` on one row (same rng stream)."""
    view = BanditView.from_history(("a", "b", "c"), [0, 1, 1], [0.2, 0.9, 0.1])
    for policy in BASELINES.values():
        one = policy.select(view, np.random.default_rng(5))
        batch = policy.select_batch(view.counts[None, :], view.means[None, :], np.random.default_rng(5))
        assert one == int(batch[0])


def test_greedy_stops_exploring_after_its_initial_arms() -> None:
    """Greedy(n_initial=2) covers exactly 2 of 10 arms."""
    run = run_baseline(Greedy(n_initial=2), SPEC, 16, seed=0)
    assert np.all(run.coverage[:, -1] == 0.2)


def test_epsilon_zero_is_greedy_and_epsilon_one_explores_uniformly() -> None:
    """epsilon = 0 never leaves the greedy arm; epsilon = 1 covers nearly every arm."""
    assert np.all(run_baseline(EpsilonGreedy(epsilon=0.0), SPEC, 8, seed=0).coverage[:, -1] == 0.1)
    assert run_baseline(EpsilonGreedy(epsilon=1.0), SPEC, 8, seed=0).coverage[:, -1].mean() > 0.9


def test_uniform_random_is_uniform() -> None:
    """Every arm about 1/k of the time."""
    run = run_baseline(UniformRandom(), BanditSpec(k=5, horizon=200), 20, seed=0)
    shares = np.bincount(run.actions.ravel(), minlength=5) / run.actions.size
    assert shares == pytest.approx([0.2] * 5, abs=0.03)


def test_random_argmax_breaks_ties_uniformly() -> None:
    """Only maxima are chosen, each about equally often."""
    rng = np.random.default_rng(0)
    picks = random_argmax(np.tile([1.0, 3.0, 3.0, 0.0], (4000, 1)), rng)
    assert set(picks.tolist()) == {1, 2}
    assert np.mean(picks == 1) == pytest.approx(0.5, abs=0.03)


def test_baselines_satisfy_the_policy_protocol() -> None:
    """Each named baseline is a BanditPolicy."""
    for policy in BASELINES.values():
        assert isinstance(policy, BanditPolicy)


@pytest.mark.parametrize(
    ("factory", "kwargs"),
    [(UCB1, {"c": -1.0}), (EpsilonGreedy, {"epsilon": 1.5}), (Greedy, {"n_initial": 0})],
)
def test_bad_baseline_settings_are_configuration_errors(factory: type, kwargs: dict[str, float]) -> None:
    """Settings are validated at construction."""
    with pytest.raises(ConfigurationError):
        factory(**kwargs)


def test_unknown_baseline_name_is_a_configuration_error() -> None:
    """The error names the known baselines."""
    with pytest.raises(ConfigurationError, match="ucb"):
        run_baseline("thompson", SPEC)


def test_linucb_beats_random_on_the_contextual_bandit() -> None:
    """LinUCB learns the linear rewards: lower cumulative regret than random, paired over 32 episodes."""
    spec = ContextualSpec(k=5, d=5, horizon=100, noise_sigma=0.3)
    lin = run_contextual_baseline("linucb", spec, 32, seed=0)
    rand = run_contextual_baseline("random", spec, 32, seed=0)
    assert mean_ci(rand.regret[:, -1] - lin.regret[:, -1]).low > 0


def test_linucb_scores_shrink_to_the_ridge_estimate_with_data() -> None:
    """After many pulls of one arm its index approaches x . theta (the exploration width vanishes)."""
    learner = LinUCB(2, 2, alpha=1.0)
    x = np.array([1.0, 0.5])
    for _ in range(2000):
        learner.update(0, x, 2.0)
    assert learner.scores(x)[0] == pytest.approx(2.0, abs=0.05)
    assert learner.select(x, np.random.default_rng(0)) == 0
