"""Cost per fixed step: which steps the guard changed and what the extra calls bought."""

from __future__ import annotations

from guardrail import Guard, OverrideToRationale, ReAsk
from guardrail.testing import ScriptedAgent
from guardrail_bench.costs import FixCost, changed_by_guard, per_unit
from guardrail_bench.envs import BanditSpec
from guardrail_bench.output import bandit_markdown
from guardrail_bench.prompts import foreign_bandit_prompt
from guardrail_bench.suites import parse_agent, run_bandit_suite

COLOURS = ["red", "green", "blue"]
GAP = "blue is best, so I press blue.\nACTION=red"


def test_a_step_is_changed_by_a_correction_but_not_by_the_fallback() -> None:
    """An override that moves the action counts; the fallback's random arm does not; extra calls are tallied."""
    guard = Guard(COLOURS, policies=[ReAsk(max_attempts=2, adaptive=None), OverrideToRationale()], fallback="random")
    fixed = guard.step(ScriptedAgent([GAP, GAP]), "obs")
    fallen = guard.step(ScriptedAgent(["ACTION=purple", "ACTION=purple"]), "obs")
    kept = guard.step(ScriptedAgent(["red it is.\nACTION=red"]), "obs")
    assert [changed_by_guard(r) for r in (fixed, fallen, kept)] == [True, False, False]
    cost = FixCost.of([fixed, fallen, kept])
    assert (cost.steps, cost.changed_steps, cost.extra_calls, cost.tokens) == (3, 1, 2, None)
    assert cost.extra_calls_per_changed_step == 2.0


def test_per_unit_is_none_when_nothing_was_bought() -> None:
    """Cost per unit of nothing (or of a loss) is None, not a division by zero or a negative price."""
    assert per_unit(3.0, 0) is None
    assert per_unit(3.0, -1.0) is None
    assert per_unit(3.0, None) is None
    assert per_unit(3.0, 1.5) == 2.0


def test_bandit_tables_print_the_cost_per_fix_columns() -> None:
    """Every bandit table has changed steps, extra calls per changed step and per unit of regret removed."""
    results = run_bandit_suite(
        agents=[parse_agent("knowing-doing"), parse_agent("ucb")],
        presets=["none", "reask-override"],
        spec=BanditSpec(k=4, horizon=10),
        n_bandits=2,
        seed=0,
    )
    table = bandit_markdown(results)
    for column in ("changed steps", "extra calls / changed step", "extra calls / regret removed"):
        assert column in table
    guarded = next(r.summary for r in results if r.preset == "reask-override")
    assert guarded.changed_steps > 0
    assert guarded.as_dict()["extra_calls_per_changed_step"] == guarded.extra_calls / guarded.changed_steps


def test_foreign_prompt_has_no_examples_and_spaced_names() -> None:
    """The foreign prompt names every spaced arm, asks for an <action> tag, and carries no worked example."""
    names = BanditSpec(k=5, naming="spaced").arm_names
    assert all(" " in name for name in names)
    prompt = foreign_bandit_prompt(names, [(names[0], 0.5), (names[3], -1.0)], few_shot=True)
    assert all(name in prompt for name in names)
    assert "<action>BUTTON</action>" in prompt
    assert "Example" not in prompt
    assert "ACTION=" not in prompt
    assert prompt.endswith("Think:")
