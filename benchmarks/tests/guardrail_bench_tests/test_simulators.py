"""Simulated LLM agents: output format, ground truth, and calibration to the paper's figures."""

from __future__ import annotations

import re

import numpy as np
import pytest

from guardrail.exceptions import ConfigurationError
from guardrail_bench.envs import INVALID_ACTION_REWARD, BanditSpec, BanditView
from guardrail_bench.metrics import classify_episode
from guardrail_bench.simulators import (
    RATIONALE_TEMPLATES,
    FrequencyBiasProfile,
    GreedyProfile,
    KnowingDoingProfile,
    SimulatedAgent,
    parse_action_line,
    run_simulated,
    ucb_listing,
)

SPEC = BanditSpec(k=10, horizon=50, sigma=1.0)
NAMES = SPEC.arm_names


def _template_patterns() -> list[re.Pattern[str]]:
    patterns = []
    for template in RATIONALE_TEMPLATES.values():
        escaped = re.escape(template).replace(re.escape("{ucb_listing}"), r"(?P<listing>.+?)")
        escaped = escaped.replace(re.escape("{x}"), r"(?P<x>\w+)", 1).replace(re.escape("{x}"), r"(?P=x)")
        patterns.append(re.compile(escaped))
    return patterns


def _mid_episode_view(seed: int = 0, steps: int = 12) -> BanditView:
    rng = np.random.default_rng(seed)
    actions = [int(a) for a in rng.integers(0, 6, size=steps)]
    rewards = [float(r) for r in rng.normal(0.5, 1.0, size=steps)]
    return BanditView.from_history(NAMES, actions, rewards)


def test_knowing_doing_profile_matches_the_papers_table_within_3_points() -> None:
    """Measured over 64 bandits x 50 steps (10 arms, sigma 1), every cell is within 3 points of
    58.1 21.6 10.6 / 7.2 0.6 2.0 (the shipped calibration; see scripts/calibrate_simulators.py)."""
    result = run_simulated(KnowingDoingProfile(), SPEC, 64, seed=0)
    table = result.knowing_doing_table()
    assert table.max_abs_difference() <= 3.0, table.format()
    assert sum(sum(row) for row in table.cells) == pytest.approx(100.0)


def test_measured_categories_are_the_metrics_modules() -> None:
    """The runner's per-step categories equal classify_episode on the executed actions and rewards."""
    result = run_simulated(KnowingDoingProfile(), SPEC, 4, seed=2)
    for episode in range(4):
        expected = classify_episode(result.run.actions[episode], result.run.rewards[episode], SPEC.k)
        assert tuple(result.categories[episode].tolist()) == expected


def test_every_answer_is_a_template_rationale_then_an_action_line() -> None:
    """Rationales use the documented phrasings and name their recommended arm; the last line is ACTION=<arm>."""
    patterns = _template_patterns()
    agent = KnowingDoingProfile()
    rng = np.random.default_rng(0)
    for seed in range(40):
        view = _mid_episode_view(seed)
        turn = agent.respond_with_truth(view, rng)
        rationale, action_line = turn.text.rsplit("\n", 1)
        assert action_line == f"ACTION={turn.action}"
        matches = [p.fullmatch(rationale) for p in patterns]
        found = [m for m in matches if m is not None]
        assert found, rationale
        assert found[0].group("x") == turn.rationale_action


def test_truth_matches_the_view() -> None:
    """``rationale_correct`` says whether the rationale's arm is a UCB argmax; category is the measured one."""
    agent = KnowingDoingProfile()
    rng = np.random.default_rng(1)
    for seed in range(40):
        view = _mid_episode_view(seed)
        turn = agent.respond_with_truth(view, rng)
        assert turn.rationale_correct == (NAMES.index(turn.rationale_action) in view.optimal_set())
        assert turn.action is not None
        assert turn.category in ("greedy", "optimal", "other")


def test_a_correct_rationale_with_several_untried_arms_names_an_untried_arm() -> None:
    """Any untried arm is a UCB argmax, and the profile recommends one of them when correct."""
    agent = KnowingDoingProfile(rationale_correct_rate=1.0)
    view = BanditView.from_history(NAMES, [0, 1, 0], [0.5, 0.1, 0.7])
    rng = np.random.default_rng(0)
    for _ in range(30):
        turn = agent.respond_with_truth(view, rng)
        assert NAMES.index(turn.rationale_action) in view.untried()
        assert turn.rationale_correct


def test_a_wrong_rationale_ranks_its_own_arm_first_in_its_listing() -> None:
    """A wrong rationale is a self-consistent miscalculation: its UCB listing puts its arm on top."""
    view = _mid_episode_view(3)
    favour = next(a for a in range(view.k) if view.counts[a] > 0 and a not in view.optimal_set())
    listing = ucb_listing(view, favour=favour)
    values = {m.group(1): float(m.group(2)) for m in re.finditer(r"(\w+): [^;]*?UCB=(-?\d+\.\d+|inf)", listing)}
    assert len(values) == view.k
    assert max(values, key=lambda name: values[name]) == NAMES[favour]
    assert "inf" not in listing


def test_a_correct_listing_shows_untried_arms_as_infinite() -> None:
    """The true listing: counts, means, UCB values, ``untried, UCB=inf``."""
    view = BanditView.from_history(("red", "blue", "green"), [0, 0], [0.5, 0.3])
    assert ucb_listing(view) == "red: n=2, mean=0.40, UCB=0.99; blue: untried, UCB=inf; green: untried, UCB=inf."


def test_responses_are_reproducible_from_the_generator() -> None:
    """Same view, same seed: same text."""
    view = _mid_episode_view(0)
    agent = KnowingDoingProfile()
    assert agent.respond(view, np.random.default_rng(9)) == agent.respond(view, np.random.default_rng(9))


def test_reask_answers_from_the_same_distribution() -> None:
    """Feedback does not change what the profile draws: the gap reappears at its natural rate."""
    view = _mid_episode_view(0)
    agent = KnowingDoingProfile()
    plain = agent.respond(view, np.random.default_rng(4))
    reasked = agent.respond(view, np.random.default_rng(4), reask_feedback="Your rationale recommends red.")
    assert plain == reasked


def test_frequency_bias_profile_copies_its_most_frequent_action() -> None:
    """With copy probability 0.9 the frequent action is taken on >= 88% of steps where it is not greedy."""
    result = run_simulated(FrequencyBiasProfile(), SPEC, 32, seed=0)
    assert result.frequency_fractions().frequent >= 0.88
    assert FrequencyBiasProfile(copy_probability=0.96).copy_probability == 0.96


def test_frequency_bias_copy_probability_zero_is_the_knowing_doing_profile() -> None:
    """Without copying it rarely plays the frequent non-greedy action."""
    result = run_simulated(FrequencyBiasProfile(copy_probability=0.0), SPEC, 16, seed=0)
    assert result.frequency_fractions().frequent < 0.3


def test_greedy_profile_stalls_at_two_arms() -> None:
    """Tries two arms, then exploits: coverage 20% at T on 10 arms, and no knowing-doing gap."""
    result = run_simulated(GreedyProfile(), SPEC, 16, seed=0, keep_texts=True)
    assert np.all(result.run.coverage[:, -1] == 0.2)
    for episode in result.texts:
        for text in episode:
            rationale, action_line = text.rsplit("\n", 1)
            assert action_line.removeprefix("ACTION=") in rationale


def test_invalid_rate_one_makes_every_answer_invalid_and_costs_minus_five() -> None:
    """Each answer has an illegal or missing ACTION line; the runner executes a random arm at reward -5."""
    agent = KnowingDoingProfile(invalid_rate=1.0)
    rng = np.random.default_rng(0)
    texts = [agent.respond(_mid_episode_view(s), rng) for s in range(30)]
    assert all(parse_action_line(text, NAMES) is None for text in texts)
    assert any("ACTION=" in text for text in texts)
    assert any("ACTION=" not in text for text in texts)
    result = run_simulated(agent, BanditSpec(k=5, horizon=10), 2, seed=0)
    assert result.invalid_rate == 1.0
    assert np.all(result.run.rewards == INVALID_ACTION_REWARD)


def test_parse_action_line_reads_the_last_exact_name() -> None:
    """The last ``ACTION=`` wins; near-miss names are invalid."""
    assert parse_action_line("ACTION=red\nthink more\nACTION=Blue", ["red", "blue"]) == 1
    assert parse_action_line("ACTION=blue-ish", ["red", "blue"]) is None
    assert parse_action_line("no action", ["red"]) is None


def test_profiles_satisfy_the_simulated_agent_protocol() -> None:
    """All three profiles are SimulatedAgents."""
    for agent in (KnowingDoingProfile(), FrequencyBiasProfile(), GreedyProfile()):
        assert isinstance(agent, SimulatedAgent)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rationale_correct_rate": 1.2},
        {"given_correct": (0.5, 0.5, 0.5)},
        {"given_wrong": (1.0, -0.1, 0.1)},
        {"invalid_rate": -0.1},
    ],
)
def test_bad_profile_settings_are_configuration_errors(kwargs: dict[str, object]) -> None:
    """Probabilities are checked at construction."""
    with pytest.raises(ConfigurationError):
        KnowingDoingProfile(**kwargs)  # type: ignore[arg-type]


def test_frequency_bias_profile_at_095_matches_the_papers_2b_share_within_3_points() -> None:
    """Copy probability 0.95 reproduces the paper's 96% frequent-action share (2B) within 3 points, 64 bandits."""
    result = run_simulated(FrequencyBiasProfile(copy_probability=0.95), SPEC, 64, seed=0)
    assert abs(result.frequency_fractions().frequent - 0.96) <= 0.03
