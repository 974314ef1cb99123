"""Benchmark environments: bandits, contextual bandit, tic-tac-toe, AIW questions."""

from __future__ import annotations

import numpy as np
import pytest

from guardrail.exceptions import ConfigurationError
from guardrail_bench.envs import (
    COLOUR_NAMES,
    MOVE_NAMES,
    BanditBatch,
    BanditSpec,
    BanditView,
    ContextualBandit,
    ContextualSpec,
    MultiArmedBandit,
    TicTacToe,
    aiw_questions,
    minimax_move,
    split_seed,
)

# ----------------------------------------------------------------------------------------------- bandits


def test_same_seed_gives_the_same_bandit_and_another_seed_another() -> None:
    """A bandit is a pure function of its seed."""
    spec = BanditSpec(k=10)
    assert np.array_equal(MultiArmedBandit(spec, seed=3).means, MultiArmedBandit(spec, seed=3).means)
    assert not np.array_equal(MultiArmedBandit(spec, seed=3).means, MultiArmedBandit(spec, seed=4).means)


def test_batch_is_reproducible_and_its_rows_are_bandits() -> None:
    """``BanditBatch`` with one seed draws the same 64 bandits; ``bandit(i)`` is row ``i``."""
    first, second = BanditBatch(BanditSpec(), 64, seed=7), BanditBatch(BanditSpec(), 64, seed=7)
    assert first.means.shape == (64, 10)
    assert np.array_equal(first.means, second.means)
    assert np.array_equal(first.bandit(5).means, first.means[5])
    assert first.bandit(5).best_arm == first.best_arms[5]


def test_pulls_are_reproducible_given_the_generator() -> None:
    """Rewards depend only on the Generator passed in."""
    bandit = MultiArmedBandit(BanditSpec(), seed=0)
    draws = [bandit.pull(2, np.random.default_rng(11)) for _ in range(2)]
    assert draws[0] == draws[1]
    batch = BanditBatch(BanditSpec(), 4, seed=0)
    actions = np.array([0, 1, 2, 3])
    assert np.array_equal(batch.pull(actions, np.random.default_rng(1)), batch.pull(actions, np.random.default_rng(1)))


def test_gaussian_means_are_uniform_on_the_unit_interval_and_rewards_have_sigma() -> None:
    """Paper setting: mu ~ U(0, 1), r ~ N(mu, sigma)."""
    batch = BanditBatch(BanditSpec(k=10, sigma=3.0), 500, seed=0)
    assert batch.means.min() >= 0.0
    assert batch.means.max() <= 1.0
    bandit = batch.bandit(0)
    rng = np.random.default_rng(0)
    rewards = np.array([bandit.pull(0, rng) for _ in range(4000)])
    assert rewards.std() == pytest.approx(3.0, rel=0.05)
    assert rewards.mean() == pytest.approx(bandit.means[0], abs=0.2)


def test_bernoulli_arms_have_the_configured_gap() -> None:
    """BanditBench Bernoulli: one arm at 0.5 + gap/2, the others at 0.5 - gap/2; rewards are 0 or 1."""
    bandit = MultiArmedBandit(BanditSpec(k=5, reward="bernoulli", gap=0.5), seed=2)
    assert sorted(bandit.means.tolist()) == [0.25, 0.25, 0.25, 0.25, 0.75]
    rng = np.random.default_rng(0)
    assert {bandit.pull(a, rng) for a in range(5) for _ in range(20)} <= {0.0, 1.0}


def test_regret_is_the_gap_to_the_best_mean() -> None:
    """``regret(arm) = max(mu) - mu[arm]``; 0 for the best arm."""
    bandit = MultiArmedBandit.from_means([0.2, 0.9, 0.5])
    assert bandit.best_arm == 1
    assert bandit.regret(1) == 0.0
    assert bandit.regret(0) == pytest.approx(0.7)


def test_arm_names_are_colours_or_numbers() -> None:
    """At least 20 distinct colour names; ``numbered`` names are arm_1..arm_k."""
    assert len(set(COLOUR_NAMES)) >= 20
    assert BanditSpec(k=5).arm_names == ("red", "green", "blue", "yellow", "purple")
    assert BanditSpec(k=3, naming="numbered").arm_names == ("arm_1", "arm_2", "arm_3")
    assert len(BanditSpec(k=20).arm_names) == 20


@pytest.mark.parametrize(
    "kwargs",
    [{"k": 0}, {"horizon": 0}, {"sigma": 0.0}, {"gap": 1.5}, {"k": 21}, {"reward": "poisson"}, {"naming": "x"}],
)
def test_bad_bandit_spec_is_a_configuration_error(kwargs: dict[str, object]) -> None:
    """Misconfiguration fails at construction, with ConfigurationError."""
    with pytest.raises(ConfigurationError):
        BanditSpec(**kwargs)  # type: ignore[arg-type]


def test_pulling_a_missing_arm_is_a_configuration_error() -> None:
    """Arm indices are checked."""
    with pytest.raises(ConfigurationError):
        MultiArmedBandit(BanditSpec(k=3)).pull(3, np.random.default_rng(0))


def test_bandit_view_from_history_has_counts_means_and_nan_for_untried() -> None:
    """The view's statistics are those of the given steps."""
    view = BanditView.from_history(["red", "green", "blue"], [0, 2, 0], [1.0, 0.5, 0.0])
    assert view.t == 3
    assert view.counts.tolist() == [2, 0, 1]
    assert view.means[0] == 0.5
    assert np.isnan(view.means[1])
    assert view.untried() == (1,)
    assert view.optimal_set() == frozenset({1})
    assert view.greedy_set() == frozenset({0, 2})


def test_split_seed_gives_independent_reproducible_streams() -> None:
    """The three streams differ from each other and repeat for the same seed."""
    a = [g.random() for g in split_seed(5)]
    b = [g.random() for g in split_seed(5)]
    assert a == b
    assert len(set(a)) == 3


# ----------------------------------------------------------------------------------------------- contextual


def test_contextual_bandit_is_reproducible_and_linear() -> None:
    """Same seed, same users and items; the expected reward is ``x . theta_a``."""
    spec = ContextualSpec(k=6, d=5, horizon=10)
    env, again = ContextualBandit(spec, seed=1), ContextualBandit(spec, seed=1)
    text, x = env.context(3)
    assert again.context(3)[0] == text
    assert np.array_equal(again.context(3)[1], x)
    assert env.expected(2, x) == pytest.approx(float(x @ env.theta[2]))
    best = env.best_arm(x)
    assert env.regret(best, x) == 0.0
    assert all(env.regret(arm, x) >= 0.0 for arm in range(6))


def test_contextual_users_are_described_in_text_by_their_features() -> None:
    """The text names every genre of the feature vector, grouped under a verb that matches its value."""
    env = ContextualBandit(ContextualSpec(d=5, horizon=3), seed=0)
    text, x = env.context(0)
    assert text.startswith("User 1, age ")
    for genre in env.feature_names:
        assert genre in text
    assert ("loves " in text) == bool(x.max() >= 0.75)
    assert ("dislikes " in text) == bool(x.min() < 0.25)


def test_contextual_reward_is_noisy_around_the_expectation() -> None:
    """``reward`` draws ``expected + N(0, noise_sigma)`` from the given Generator."""
    env = ContextualBandit(ContextualSpec(noise_sigma=0.5), seed=0)
    _, x = env.context(0)
    rng = np.random.default_rng(0)
    draws = np.array([env.reward(0, x, rng) for _ in range(3000)])
    assert draws.mean() == pytest.approx(env.expected(0, x), abs=0.05)
    assert draws.std() == pytest.approx(0.5, rel=0.1)


def test_context_out_of_the_horizon_is_an_error() -> None:
    """Users exist for steps 0..horizon-1 only."""
    with pytest.raises(ConfigurationError):
        ContextualBandit(ContextualSpec(horizon=2), seed=0).context(2)


# ----------------------------------------------------------------------------------------------- tic-tac-toe


def test_tictactoe_moves_are_named_a1_to_c3_and_render_as_a_grid() -> None:
    """Letter = column, digit = row (a1 top-left); render shows the board with ``.`` for empty cells."""
    game = TicTacToe(opponent="random", seed=0)
    assert game.legal_moves() == MOVE_NAMES
    result = game.play("b2")
    assert game.board[4] == "X"
    assert result.opponent_move in MOVE_NAMES
    assert len(game.legal_moves()) == 7
    rendered = game.render().splitlines()
    assert rendered[0].split() == ["a", "b", "c"]
    assert rendered[2].split()[2] == "X"


def test_illegal_tictactoe_move_is_rejected() -> None:
    """An occupied or unknown cell raises, naming the legal moves."""
    game = TicTacToe(opponent="random", seed=0)
    game.play("a1")
    with pytest.raises(ConfigurationError, match="legal moves"):
        game.play("a1")
    with pytest.raises(ConfigurationError):
        game.play("d4")


def test_minimax_takes_an_immediate_win_and_blocks_a_loss() -> None:
    """A perfect player completes its own line first, else blocks the opponent's."""
    assert minimax_move(["X", "X", "", "O", "O", "", "", "", ""], "X") == "c1"
    assert minimax_move(["X", "X", "", "O", "", "", "", "", ""], "O") == "c1"


@pytest.mark.parametrize("agent_mark", ["X", "O"])
def test_minimax_never_loses_to_random(agent_mark: str) -> None:
    """Over 60 games against a random opponent, perfect play never loses (and mostly wins)."""
    game = TicTacToe(opponent="random", agent_mark=agent_mark, seed=3)  # type: ignore[arg-type]
    rewards = []
    for _ in range(60):
        game.reset()
        while not game.done:
            game.play(minimax_move(game.board, agent_mark))
        rewards.append(game.reward)
    assert min(rewards) >= 0.0
    assert sum(r == 1.0 for r in rewards) > 30


def test_minimax_against_minimax_is_a_draw() -> None:
    """Two perfect players draw."""
    game = TicTacToe(opponent="minimax", seed=0)
    while not game.done:
        game.play(minimax_move(game.board, "X"))
    assert game.draw
    assert game.reward == 0.0


def test_losing_to_minimax_gives_minus_one() -> None:
    """A careless agent loses to perfect play and gets -1."""
    game = TicTacToe(opponent="minimax", seed=0)
    while not game.done:
        game.play(game.legal_moves()[-1])
    assert game.winner == "O"
    assert game.reward == -1.0


# ----------------------------------------------------------------------------------------------- AIW


def test_aiw_questions_ask_the_papers_question_and_answer_m_plus_one() -> None:
    """Text in the paper's wording; answer = sisters + 1; reproducible by seed."""
    items = aiw_questions(20, seed=4)
    assert items == aiw_questions(20, seed=4)
    for item in items:
        assert item.text == (
            f"Alice has {item.n_brothers} brothers and she also has {item.m_sisters} sisters. "
            "How many sisters does Alice's brother have?"
        )
        assert item.answer == item.m_sisters + 1
    assert len({(i.n_brothers, i.m_sisters) for i in items}) > 5
