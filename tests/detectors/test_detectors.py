"""Detectors on constructed histories, with the edges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrail import ConfigurationError, Decision, FrequencyBias, Greediness, InvalidAction, KnowingDoingGap
from guardrail.testing import make_step_state

COLOURS = ["red", "green", "blue"]


def act(action: str | None, rationale_action: str | None = None, confidence: float = 0.9, raw: str | None = None):
    return Decision(
        action=action,
        rationale_action=rationale_action,
        rationale_confidence=confidence if rationale_action else 0.0,
        raw_action=raw,
    )


# -- knowing-doing and invalid ---------------------------------------------------------------------------


def test_knowing_doing_fires_only_when_both_known_and_different() -> None:
    """A gap needs a known action, a known rationale action, and a difference."""
    detector = KnowingDoingGap()
    fired = detector.detect(make_step_state(COLOURS, act("red", "blue")))
    assert [(f.kind, f.actions) for f in fired] == [("knowing_doing_gap", ("red", "blue"))]
    assert detector.detect(make_step_state(COLOURS, act("blue", "blue"))) == ()
    assert detector.detect(make_step_state(COLOURS, act("red", None))) == ()
    assert detector.detect(make_step_state(COLOURS, act(None, "blue"))) == ()


def test_knowing_doing_ignores_unsure_readings() -> None:
    """Readings below min_confidence are not gaps."""
    assert KnowingDoingGap(min_confidence=0.95).detect(make_step_state(COLOURS, act("red", "blue", 0.9))) == ()
    with pytest.raises(ConfigurationError):
        KnowingDoingGap(min_confidence=2.0)


def test_invalid_action_names_what_was_wrong() -> None:
    """Invalid: no action at all, or an illegal one named in the detail."""
    missing = InvalidAction().detect(make_step_state(COLOURS, act(None)))
    illegal = InvalidAction().detect(make_step_state(COLOURS, act(None, raw="purple")))
    assert "no action" in missing[0].detail
    assert "'purple' is not a legal action" in illegal[0].detail
    assert InvalidAction().detect(make_step_state(COLOURS, act("red"))) == ()


# -- frequency bias ----------------------------------------------------------------------------------------


def test_frequency_bias_with_rewards_needs_a_better_alternative() -> None:
    """Most frequent action chosen while another has a higher mean: fires, with share and estimated cost."""
    history = [("red", 0.1), ("red", 0.2), ("red", 0.0), ("blue", 0.9)]
    fired = FrequencyBias().detect(make_step_state(COLOURS, act("red"), history=history))
    assert len(fired) == 1
    assert fired[0].data["share"] == pytest.approx(0.75)
    assert fired[0].data["estimated_cost"] == pytest.approx(0.9 - 0.1)
    assert fired[0].actions == ("red", "blue")
    # the frequent action is also the best: not a bias
    best = [("red", 1.0), ("red", 1.0), ("red", 1.0), ("blue", 0.0)]
    assert FrequencyBias().detect(make_step_state(COLOURS, act("red"), history=best)) == ()
    # choosing the non-frequent action is not frequency bias
    assert FrequencyBias().detect(make_step_state(COLOURS, act("blue"), history=history)) == ()


def test_frequency_bias_with_negative_rewards() -> None:
    """Negative rewards compare like any others."""
    history = [("red", -3.0), ("red", -2.0), ("red", -4.0), ("green", -0.5)]
    fired = FrequencyBias().detect(make_step_state(COLOURS, act("red"), history=history))
    assert fired[0].data["estimated_cost"] == pytest.approx(-0.5 - -3.0)


def test_frequency_bias_ties_for_most_frequent() -> None:
    """With two actions tied for most frequent, choosing either counts as frequent."""
    history = [("red", 0.0), ("green", 0.0), ("red", 0.0), ("green", 0.0), ("blue", 1.0)]
    for choice in ("red", "green"):
        assert FrequencyBias().detect(make_step_state(COLOURS, act(choice), history=history))


def test_frequency_bias_without_rewards_fires_on_repetition() -> None:
    """A tool agent repeating one action max_repeats times in a row is flagged; variety is not."""
    looping = [("red", None)] * 3
    fired = FrequencyBias(max_repeats=4).detect(make_step_state(COLOURS, act("red"), history=looping))
    assert fired[0].data["run_length"] == 4
    assert fired[0].data["mode"] == "repetition"
    varied = [("red", None), ("green", None), ("blue", None), ("red", None)]
    assert FrequencyBias(max_repeats=4).detect(make_step_state(COLOURS, act("green"), history=varied)) == ()


def test_frequency_bias_window_share() -> None:
    """One action taking over the recent window fires even if interrupted now and then."""
    history = ([("red", None)] * 3 + [("green", None)]) * 4
    fired = FrequencyBias(max_repeats=10, max_share=0.7).detect(make_step_state(COLOURS, act("red"), history=history))
    assert fired
    assert fired[0].data["window_share"] > 0.7


def test_frequency_bias_waits_for_min_steps() -> None:
    """With fewer than min_steps steps of history it does not judge."""
    assert FrequencyBias(min_steps=3).detect(make_step_state(COLOURS, act("red"), history=[("red", 0.0)])) == ()


def test_one_action_space_is_never_biased_or_greedy() -> None:
    """With one action there is no alternative, so neither detector fires."""
    history = [("only", 1.0)] * 10
    state = make_step_state(["only"], act("only"), history=history)
    assert FrequencyBias().detect(state) == ()
    assert Greediness().detect(state) == ()


# -- greediness ---------------------------------------------------------------------------------------------


def test_greediness_exploiting_with_untried_actions() -> None:
    """Taking the best-mean tried action while actions remain untried fires 'untried_remaining'."""
    history = [("red", 0.5), ("green", 0.2)]
    fired = Greediness().detect(make_step_state(COLOURS, act("red"), history=history))
    assert fired[0].data["reason"] == "untried_remaining"
    assert fired[0].data["untried"] == 1
    assert "blue" in fired[0].actions
    # trying the untried action is fine
    assert Greediness().detect(make_step_state(COLOURS, act("blue"), history=history)) == ()


def test_greediness_schedule_allows_early_exploitation() -> None:
    """Before explore_by steps, exploiting is tolerated."""
    history = [("red", 0.5), ("green", 0.2)]
    assert Greediness(explore_by=5).detect(make_step_state(COLOURS, act("red"), history=history)) == ()


def test_greediness_all_tried_uses_the_ucb_gap() -> None:
    """With every action tried, a chosen UCB index far below the best fires 'ucb_gap'; a close one does not."""
    history = [("red", 1.0)] * 30 + [("green", 0.9), ("blue", 0.0)]
    fired = Greediness(ucb_margin=0.5).detect(make_step_state(COLOURS, act("red"), history=history))
    assert fired[0].data["reason"] == "ucb_gap"
    assert fired[0].data["ucb_gap"] > 0.5
    assert Greediness(ucb_margin=10).detect(make_step_state(COLOURS, act("red"), history=history)) == ()


def test_greediness_ties_on_the_best_mean() -> None:
    """Two tried actions tied on the best mean are both 'greedy'."""
    history = [("red", 0.5), ("green", 0.5)]
    for choice in ("red", "green"):
        assert Greediness().detect(make_step_state(COLOURS, act(choice), history=history))


def test_greediness_coverage_target() -> None:
    """Exploiting at coverage below the target after coverage_by steps fires 'coverage_below_target'."""
    space = [f"arm_{i}" for i in range(10)]
    history = [("arm_0", 1.0)] * 5 + [("arm_1", 0.0)] * 5
    detector = Greediness(explore_by=100, coverage_target=0.5, coverage_by=8)
    fired = detector.detect(make_step_state(space, act("arm_0"), history=history))
    assert fired[0].data["reason"] == "coverage_below_target"
    assert 0 < fired[0].score <= 1


def test_greediness_needs_rewards() -> None:
    """Without rewards nothing can be called greedy."""
    assert Greediness().detect(make_step_state(COLOURS, act("red"), history=[("red", None)])) == ()


# -- invariants -----------------------------------------------------------------------------------------------

histories = st.lists(
    st.tuples(st.sampled_from(COLOURS), st.one_of(st.none(), st.floats(-5, 5, allow_nan=False))), max_size=30
)


@given(histories, st.sampled_from(COLOURS), st.sampled_from([None, *COLOURS]))
def test_scores_are_in_unit_interval(history, choice, rationale) -> None:  # type: ignore[no-untyped-def]
    """Every detector's scores stay in [0, 1] on arbitrary histories."""
    state = make_step_state(COLOURS, act(choice, rationale), history=history)
    for detector in (KnowingDoingGap(), InvalidAction(), FrequencyBias(), Greediness()):
        for finding in detector.detect(state):
            assert 0.0 <= finding.score <= 1.0


@given(histories, st.sampled_from(COLOURS), st.permutations(COLOURS))
def test_findings_are_invariant_under_relabelling(history, choice, perm) -> None:  # type: ignore[no-untyped-def]
    """Renaming the actions consistently renames the findings and changes nothing else."""
    rename = dict(zip(COLOURS, ["alpha", "beta", "gamma"], strict=True))
    space_a = COLOURS
    space_b = [rename[c] for c in perm]
    state_a = make_step_state(space_a, act(choice), history=history)
    state_b = make_step_state(space_b, act(rename[choice]), history=[(rename[a], r) for a, r in history])
    for detector in (FrequencyBias(), Greediness(ucb_margin=0.3)):
        found_a = detector.detect(state_a)
        found_b = detector.detect(state_b)
        assert [(f.kind, f.data.get("reason"), round(f.score, 9)) for f in found_a] == [
            (f.kind, f.data.get("reason"), round(f.score, 9)) for f in found_b
        ]
        assert [tuple(sorted(rename[a] for a in f.actions)) for f in found_a] == [
            tuple(sorted(f.actions)) for f in found_b
        ]


@given(
    st.lists(
        st.tuples(st.integers(1, 60), st.floats(-50, 50, allow_nan=False)),
        min_size=2,
        max_size=8,
    ),
    st.integers(0, 7),
    st.sampled_from([0.0, 0.05, 0.2, 1.0, 3.0]),
    st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    st.integers(0, 3),
)
def test_ucb_gap_fires_exactly_when_the_full_index_says_so(
    arms: list[tuple[int, float]], pick: int, margin: float, c: float, pending: int
) -> None:
    """The cheap bound that skips computing every UCB index never changes whether the ucb_gap test fires."""
    from guardrail.history import HistoryView

    k = len(arms)
    chosen = pick % k
    reward_counts = tuple(n if i >= pending else 0 for i, (n, _) in enumerate(arms))  # some arms not rewarded yet
    sums = tuple(n * mean if n else 0.0 for n, (_, mean) in zip(reward_counts, arms, strict=True))
    view = HistoryView(
        k=k,
        t=sum(n for n, _ in arms) + 1,
        counts=tuple(n + 1 for n, _ in arms),  # every arm tried
        reward_counts=reward_counts,
        reward_sums=sums,
        tried=k,
        rewarded_steps=sum(reward_counts),
    )
    names = [f"arm{i}" for i in range(k)]
    state = make_step_state(names, act(names[chosen]), history=view)
    index = view.ucb_list(c)
    best = max(index)
    gap = 0.0 if index[chosen] == best else best - index[chosen]
    exploiting = chosen in view.greedy_actions()
    fired = Greediness(ucb_margin=margin, c=c).detect(state)
    if not view.has_rewards:
        assert fired == ()
        return
    assert [f.data["reason"] for f in fired] == (["ucb_gap"] if gap > margin else []), (index, chosen, exploiting)
    if fired:
        assert fired[0].data["ucb_gap"] == gap
