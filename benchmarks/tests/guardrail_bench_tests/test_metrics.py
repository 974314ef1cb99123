"""Benchmark metrics: the paper's definitions on hand-made histories."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.exceptions import ConfigurationError
from guardrail.history import EpisodeHistory
from guardrail_bench.metrics import (
    PAPER_KNOWING_DOING_TABLE,
    classify_action,
    classify_episode,
    coverage,
    cumulative_regret,
    empirical_means,
    episode_step_sets,
    frequency_fractions,
    frequent_set,
    greedy_set,
    invalid_action_rate,
    k_min_frac,
    knowing_doing_table,
    mean_ci,
    optimal_set,
    suffix_failure_frequency,
    ucb_values,
)

NAN = math.nan


def test_coverage_is_the_fraction_of_arms_tried_so_far() -> None:
    """C_t counts distinct arms in steps 0..t (inclusive) over k."""
    assert coverage([0, 0, 1, 2, 1], 4).tolist() == [0.25, 0.25, 0.5, 0.75, 0.75]


def test_coverage_of_a_batch_is_row_wise_and_ignores_invalid_steps() -> None:
    """Shape (n, T) in, (n, T) out; a negative (invalid) action tries nothing."""
    out = coverage([[0, 1], [-1, 1]], 2)
    assert out.tolist() == [[0.5, 1.0], [0.0, 0.5]]


def test_cumulative_regret_sums_the_gaps_to_the_best_arm() -> None:
    """Regret per step is max(mu) - mu[a]; cumulated along the episode."""
    means = [0.1, 0.5, 0.9]
    assert cumulative_regret([0, 2, 1], means) == pytest.approx([0.8, 0.8, 1.2])
    batch = cumulative_regret([[0, 2], [2, 2]], [means, means])
    assert batch == pytest.approx(np.array([[0.8, 0.8], [0.0, 0.0]]))


def test_greedy_set_is_the_best_tried_mean_with_ties() -> None:
    """Untried arms (NaN mean) are excluded; equal best means give a set; nothing tried gives the empty set."""
    assert greedy_set([2, 1, 0], [0.3, 0.7, NAN]) == frozenset({1})
    assert greedy_set([1, 1, 0], [0.7, 0.7, NAN]) == frozenset({0, 1})
    assert greedy_set([0, 0, 0], [NAN, NAN, NAN]) == frozenset()


def test_optimal_set_is_every_untried_arm_while_any_is_untried() -> None:
    """Untried arms have infinite UCB, so they all tie as the optimal set."""
    assert optimal_set([3, 0, 0, 1], [5.0, NAN, NAN, 0.0]) == frozenset({1, 2})
    assert optimal_set([0, 0], [NAN, NAN]) == frozenset({0, 1})


def test_optimal_set_when_all_are_tried_is_the_ucb_argmax() -> None:
    """mean + sqrt(ln t / n): a rarely tried arm with a lower mean can win on its bonus."""
    counts, means = [8, 1], [0.6, 0.2]
    t = 9
    expected = [0.6 + math.sqrt(math.log(t) / 8), 0.2 + math.sqrt(math.log(t) / 1)]
    assert ucb_values(counts, means) == pytest.approx(expected)
    assert optimal_set(counts, means) == frozenset({1})
    assert greedy_set(counts, means) == frozenset({0})
    assert optimal_set(counts, means, c=0.0) == frozenset({0})


def test_ucb_values_agree_with_the_history_module() -> None:
    """The bench's UCB index is the guard's (``HistoryView.ucb``), so both call the same arm optimal."""
    history = EpisodeHistory(3)
    for action, reward in [(0, 1.0), (1, 0.2), (0, 0.4), (2, -0.5), (1, 0.9)]:
        history.add_step(action)
        history.add_reward(reward)
    view = history.view()
    counts = np.asarray(view.counts)
    ours = ucb_values(counts, empirical_means(counts, view.reward_sums))
    assert ours == pytest.approx(view.ucb())


def test_frequent_set_is_the_most_common_action_with_ties() -> None:
    """Ties give every most-frequent action; an empty history gives the empty set."""
    assert frequent_set([1, 1, 2]) == frozenset({1})
    assert frequent_set([1, 2, 2, 1]) == frozenset({1, 2})
    assert frequent_set([]) == frozenset()


def test_classification_counts_a_coinciding_greedy_and_optimal_action_as_greedy() -> None:
    """Priority greedy > optimal > other."""
    assert classify_action(0, greedy=frozenset({0}), optimal=frozenset({0})) == "greedy"
    assert classify_action(1, greedy=frozenset({0}), optimal=frozenset({1})) == "optimal"
    assert classify_action(2, greedy=frozenset({0}), optimal=frozenset({1})) == "other"


def test_classify_episode_on_a_hand_made_history() -> None:
    """Step 0 is optimal (nothing tried, every arm untried); then greedy / untried (optimal) / other."""
    # arms: 0, 1, 2.  Step 0: any arm is optimal.  Step 1: greedy {0}, optimal {1, 2}: action 0 -> greedy.
    # Step 2: action 2 (untried) -> optimal.  Step 3: means 0: 0.75, 2: 0.0; optimal {1}; action 2 -> other.
    actions = [0, 0, 2, 2]
    rewards = [1.0, 0.5, 0.0, 0.0]
    assert classify_episode(actions, rewards, 3) == ("optimal", "greedy", "optimal", "other")
    sets = episode_step_sets(actions, rewards, 3)
    assert sets[0].greedy == frozenset()
    assert sets[0].optimal == frozenset({0, 1, 2})
    assert sets[3].frequent == frozenset({0})
    assert sets[3].optimal == frozenset({1})


def test_classify_episode_with_tied_means_counts_either_as_greedy() -> None:
    """Two tried arms with equal means are both greedy."""
    assert classify_episode([0, 1, 1], [0.5, 0.5, 0.0], 3)[2] == "greedy"


def test_knowing_doing_table_is_percent_of_all_steps() -> None:
    """Cells count (rationale correct?, category) pairs and sum to 100."""
    table = knowing_doing_table(
        [True, True, True, False],
        ["greedy", "greedy", "optimal", "other"],
    )
    assert table.cells == ((50.0, 25.0, 0.0), (0.0, 0.0, 25.0))
    assert table.rationale_correct == 75.0
    assert table.row_fractions()[0] == pytest.approx((2 / 3, 1 / 3, 0.0))
    assert table.n_steps == 4


def test_knowing_doing_table_rejects_unpaired_inputs_and_unknown_categories() -> None:
    """Lengths must match; categories are the three of the paper."""
    with pytest.raises(ConfigurationError):
        knowing_doing_table([True], [])
    with pytest.raises(ConfigurationError):
        knowing_doing_table([True], ["frequent"])  # type: ignore[list-item]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from(["greedy", "optimal", "other"])), min_size=1, max_size=80))
def test_knowing_doing_table_always_sums_to_100(steps: list[tuple[bool, str]]) -> None:
    """Whatever the steps, the six cells sum to 100."""
    table = knowing_doing_table([s[0] for s in steps], [s[1] for s in steps])  # type: ignore[misc]
    assert sum(sum(row) for row in table.cells) == pytest.approx(100.0)


def test_paper_table_difference_and_format() -> None:
    """The paper's own table is 0 points from itself; the text table shows every cell."""
    table = knowing_doing_table([True] * 2, ["greedy", "other"])
    assert table.max_abs_difference(table) == 0.0
    # cells ((50, 0, 50), (0, 0, 0)): the largest gap to the paper is "correct, other", 50 - 10.6.
    assert table.max_abs_difference() == pytest.approx(39.4)
    text = table.format()
    assert "rationale correct" in text
    assert f"{PAPER_KNOWING_DOING_TABLE[0][0]:4.1f}" in text


def test_frequency_fractions_count_only_steps_where_frequent_is_not_greedy() -> None:
    """Arm 0 is played often but pays badly, so from step 3 on it is frequent and not greedy."""
    # step: 0     1     2     3     4     5
    actions = [0, 0, 1, 0, 1, 2]
    rewards = [0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    fractions = frequency_fractions(actions, rewards, 3)
    # Counted steps: 3 (freq {0}, greedy {1}: action 0 frequent), 4 (freq {0}, greedy {1}: action 1 greedy),
    # 5 (freq {0}, greedy {1}: action 2 other). Steps 0-2 have frequent == greedy or no history.
    assert fractions.n_steps == 3
    assert (fractions.frequent, fractions.greedy, fractions.other) == pytest.approx((1 / 3, 1 / 3, 1 / 3))


def test_frequency_fractions_without_counted_steps_are_nan() -> None:
    """An agent whose frequent action is always greedy gives no such steps."""
    fractions = frequency_fractions([0, 0, 0], [1.0, 1.0, 1.0], 2)
    assert fractions.n_steps == 0
    assert math.isnan(fractions.frequent)


def test_mean_ci_is_the_normal_approximation() -> None:
    """Half-width 1.96 * sd / sqrt(n) with the sample sd; constant data has half-width 0."""
    result = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert result.mean == 2.5
    assert result.half_width == pytest.approx(1.96 * np.std([1, 2, 3, 4], ddof=1) / 2)
    assert result.low < result.mean < result.high
    assert mean_ci([0.2] * 5).half_width == 0.0
    assert math.isnan(mean_ci([1.0]).half_width)
    with pytest.raises(ConfigurationError):
        mean_ci([])


def test_suffix_failure_frequency_on_hand_made_episodes() -> None:
    """Episode 0 plays its best arm only at step 1; episode 1 never does."""
    actions = [[0, 1, 0], [0, 0, 0]]
    best = [1, 2]
    assert suffix_failure_frequency(actions, best).tolist() == [0.5, 0.5, 1.0]


def test_k_min_frac_is_one_for_round_robin_and_zero_with_an_untried_arm() -> None:
    """k * min_a N_a(t) / t."""
    assert k_min_frac([[0, 1, 0, 1]], 2).tolist() == [0.0, 1.0, 2 / 3, 1.0]
    assert k_min_frac([[0, 0, 0]], 2).tolist() == [0.0, 0.0, 0.0]


def test_invalid_action_rate_counts_none_and_negative_actions() -> None:
    """None or a negative index marks an invalid step."""
    assert invalid_action_rate([0, None, 2, -1]) == 0.5
    assert invalid_action_rate([]) == 0.0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.floats(-3, 3, allow_nan=False)), min_size=1, max_size=30),
    st.permutations(range(4)),
)
def test_classification_is_invariant_under_relabelling_the_arms(
    steps: list[tuple[int, float]], permutation: list[int]
) -> None:
    """Renaming arms changes no category (the definitions never look at an arm's index)."""
    actions = [a for a, _ in steps]
    rewards = [r for _, r in steps]
    relabelled = [permutation[a] for a in actions]
    assert classify_episode(actions, rewards, 4) == classify_episode(relabelled, rewards, 4)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=40))
def test_coverage_never_decreases_and_stays_in_range(actions: list[int]) -> None:
    """C_t is non-decreasing, at least 1/k after a step and at most 1."""
    out = coverage(actions, 5)
    assert np.all(np.diff(out) >= 0)
    assert out.min() >= 0.2
    assert out.max() <= 1.0
