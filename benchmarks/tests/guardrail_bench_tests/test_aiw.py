"""The AIW answer-vs-reasoning check, its guard wiring, and the hand-labelled outputs of the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrail import OverrideToRationale
from guardrail.actions import ActionSpace
from guardrail_bench.aiw import (
    AIW_ACTIONS,
    aiw_parser,
    check_answer,
    evaluate_labelled,
    final_answer,
    load_labelled,
    reasoning_conclusion,
    run_aiw,
)
from guardrail_bench.envs import aiw_questions

LABELLED = Path(__file__).parents[1] / "data" / "aiw_labelled.jsonl"


@pytest.mark.parametrize(
    ("text", "conclusion", "answer", "contradiction"),
    [
        (" Alice has 6 + 4 = 10 sisters.\n### Answer: 6", 10, 6, True),
        (" 2 + 5 = 7 girls\n### Answer: 7 girls", 7, 7, False),
        (" Alice's brother has 3 sisters.\n### Answer: Alice has 2 * 2 = 4.", 3, 4, True),
        (" 4 + 2 = 8 sisters and she has 2 + 2 = 4 sisters.\n### Answer: 4", 4, 4, False),
        (" I am not sure.\n### Answer: 3", None, 3, False),
        (" 3 + 3 = 6", 6, None, False),
    ],
)
def test_check_reads_the_conclusion_and_the_answer(
    text: str, conclusion: int | None, answer: int | None, contradiction: bool
) -> None:
    """The last computation's result (or a counted 'N sisters') against the answer line's number."""
    assert reasoning_conclusion(text) == conclusion
    assert final_answer(text) == answer
    assert check_answer(text).contradiction is contradiction


def test_parser_makes_the_gap_a_knowing_doing_finding() -> None:
    """The AIW parser puts the answer in ``action`` and the conclusion in ``rationale_action``."""
    decision = aiw_parser(" 6 + 4 = 10 sisters.\n### Answer: 6", ActionSpace.of(AIW_ACTIONS))
    assert (decision.action, decision.rationale_action) == ("6", "10")
    assert decision.agrees is False


def test_guarded_aiw_overrides_to_the_reasoning() -> None:
    """OverrideToRationale executes the reasoning's number when the answer contradicts it."""
    items = aiw_questions(3, seed=1)
    agent = lambda prompt: " 2 + 3 = 5 sisters.\n### Answer: 9"  # noqa: E731
    unguarded = run_aiw(name="u", agent=agent, items=items, policies=[])
    guarded = run_aiw(name="g", agent=agent, items=items, policies=[OverrideToRationale()])
    assert unguarded.contradiction_rate == guarded.contradiction_rate == 1.0
    assert guarded.interventions_per_question == 1.0
    assert unguarded.interventions_per_question == 0.0


def test_labelled_file_has_at_least_40_rows_and_the_check_is_scored() -> None:
    """benchmarks/tests/data/aiw_labelled.jsonl: >= 40 real-model outputs with hand labels; precision is computed."""
    rows = load_labelled(LABELLED)
    assert len(rows) >= 40
    assert all({"question", "output", "label"} <= row.keys() for row in rows)
    report = evaluate_labelled(rows)
    assert report.n == len(rows)
    assert report.precision is not None
    assert report.precision >= 0.8  # measured 10/11 on the 48 labelled outputs
