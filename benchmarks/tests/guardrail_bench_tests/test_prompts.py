"""The benchmark prompts: what the model is shown (fast; no model involved)."""

from __future__ import annotations

import re

import pytest

from guardrail_bench.prompts import (
    AIW_ANSWER_PREFIX,
    STOP_SEQUENCES,
    aiw_answer,
    aiw_prompt,
    bandit_prompt,
    format_history,
    tictactoe_prompt,
)

ARMS = ("red", "blue", "green", "yellow", "purple")
HISTORY = [("red", 0.5), ("blue", -1.234), ("red", 2.0)]


def _live_part(prompt: str) -> str:
    """The part after the few-shot examples: the situation the model must answer."""
    return prompt.rsplit("Now:", 1)[1]


def test_history_is_shown_as_the_papers_raw_step_lines() -> None:
    """Each past step is one ``Step=t Action=X Reward=r`` line, numbered from 1, rewards with 2 decimals."""
    live = _live_part(bandit_prompt(ARMS, HISTORY))
    assert "Step=1 Action=red Reward=0.50\nStep=2 Action=blue Reward=-1.23\nStep=3 Action=red Reward=2.00" in live


def test_format_history_numbers_from_the_given_start() -> None:
    """``format_history(start=...)`` shifts the step numbers (for a windowed history)."""
    assert format_history([("red", 1.0)], start=7) == "Step=7 Action=red Reward=1.00"


def test_bandit_prompt_names_every_arm_and_asks_for_action_eq() -> None:
    """The task lists all arms in order and asks the model to end with ``ACTION=<button>``."""
    prompt = bandit_prompt(ARMS, HISTORY)
    task = prompt.split("\n\n", 1)[0]
    assert "red, blue, green, yellow, purple" in task
    assert "5 buttons" in task
    assert "ACTION=" in task


def test_bandit_prompt_ends_with_an_open_think_line() -> None:
    """The prompt ends where the model's reasoning should start, so a base model continues it."""
    assert bandit_prompt(ARMS, HISTORY).endswith("\nThink:")


def test_few_shot_examples_use_only_the_tasks_own_arm_names() -> None:
    """Every ``ACTION=`` and ``Action=`` in the examples names a legal arm, so copying them stays legal."""
    prompt = bandit_prompt(ARMS, HISTORY)
    examples = prompt.rsplit("Now:", 1)[0]
    named = re.findall(r"ACTION=(\w+)", examples, re.IGNORECASE)
    assert named
    assert set(named) <= set(ARMS)


def test_few_shot_can_be_turned_off() -> None:
    """``few_shot=False`` leaves only the task and the live situation."""
    prompt = bandit_prompt(ARMS, HISTORY, few_shot=False)
    assert "Example:" not in prompt
    assert "Step=1 Action=red Reward=0.50" in prompt
    assert len(prompt) < len(bandit_prompt(ARMS, HISTORY))


@pytest.mark.parametrize("arms", [("left", "right"), ("a", "b", "c"), tuple(f"arm_{i}" for i in range(20))])
def test_few_shot_examples_are_well_formed_for_any_number_of_arms(arms: tuple[str, ...]) -> None:
    """With 2, 3 or 20 arms the examples still name only legal arms and end with an ACTION= line."""
    examples = bandit_prompt(arms, []).rsplit("Now:", 1)[0]
    blocks = [block for block in examples.split("\n\n") if block.startswith("Example:")]
    assert blocks
    for block in blocks:
        action = block.splitlines()[-1]
        assert action.startswith("ACTION=")
        assert action.removeprefix("ACTION=") in arms


def test_summary_is_appended_after_the_history_when_given() -> None:
    """A context summary appears after the last history line and before ``Think:``."""
    summary = "red: 2 presses, mean 1.25\nblue: 1 press, mean -1.23"
    live = _live_part(bandit_prompt(ARMS, HISTORY, summary=summary))
    assert live.index("Step=3 Action=red") < live.index("Summary:\n" + summary) < live.index("Think:")


def test_no_summary_section_without_a_summary() -> None:
    """Without ``summary`` (or with an empty one) there is no Summary section."""
    assert "Summary:" not in bandit_prompt(ARMS, HISTORY)
    assert "Summary:" not in bandit_prompt(ARMS, HISTORY, summary="")


def test_empty_history_is_stated_plainly() -> None:
    """At step 1 the prompt says no button was pressed yet instead of showing an empty history."""
    assert "(no presses yet)" in _live_part(bandit_prompt(ARMS, []))


def test_bandit_prompt_rejects_a_string_or_no_arms() -> None:
    """A single string (a common slip) and an empty arm list are errors, not a prompt about letters."""
    with pytest.raises(TypeError):
        bandit_prompt("red", [])
    with pytest.raises(ValueError):
        bandit_prompt([], [])


def test_bandit_prompt_stays_small_for_twenty_arms_and_fifty_steps() -> None:
    """At 20 arms and 50 steps the prompt stays inside a 2048-token context with room for the answer.

    Measured with Gemma 3's tokenizer: 2490 characters are 1157 tokens (history lines are ~2.2 chars a token).
    """
    arms = [f"arm_{i}" for i in range(20)]
    history = [(arms[step % 20], 0.5) for step in range(50)]
    assert len(bandit_prompt(arms, history)) < 3200


def test_stop_sequences_do_not_occur_inside_an_example_answer() -> None:
    """No stop sequence cuts an example's Think/ACTION lines, so the format the model copies is complete."""
    examples = bandit_prompt(ARMS, HISTORY).rsplit("Now:", 1)[0]
    blocks = [block for block in examples.split("\n\n") if block.startswith("Example:")]
    assert len(blocks) == 2
    for block in blocks:
        answer = block[block.index("Think:") :]
        assert not any(stop in answer for stop in STOP_SEQUENCES)


def test_aiw_prompt_asks_the_question_and_the_answer_line() -> None:
    """The AIW prompt states N and M, asks for Alice's brother's sisters and the ``### Answer:`` line."""
    prompt = aiw_prompt(4, 2)
    assert "Alice has 4 brothers and she also has 2 sisters." in prompt
    assert "How many sisters does Alice's brother have?" in prompt
    assert f"{AIW_ANSWER_PREFIX} <number>" in prompt
    assert prompt.endswith("\nReasoning:")


def test_aiw_examples_teach_the_format_not_the_answer() -> None:
    """The few-shot examples end with ``### Answer:`` lines but never mention brothers or sisters."""
    examples = aiw_prompt(4, 2).rsplit("Question: Alice", 1)[0]
    assert examples.count(AIW_ANSWER_PREFIX) >= 2
    assert "sister" not in examples.split("\n\n", 1)[1]
    assert "Alice" not in examples
    assert "Question:" not in aiw_prompt(4, 2, few_shot=False).rsplit("Question: Alice", 1)[0]


def test_aiw_answer_is_sisters_plus_one() -> None:
    """Alice's brother has Alice's M sisters and Alice herself."""
    assert aiw_answer(3, 2) == 3
    assert aiw_answer(0, 0) == 1


def test_tictactoe_prompt_shows_the_board_and_the_free_cells() -> None:
    """Marks are shown, free cells carry their 1-9 number, and the legal moves default to the free cells."""
    prompt = tictactoe_prompt(["X", "", "O", "", "X", "", "", "", "O"])
    live = _live_part(prompt)
    assert "X | 2 | O\n4 | X | 6\n7 | 8 | O" in live
    assert "Legal moves: 2, 4, 6, 7, 8" in live
    assert "ACTION=<cell>" in prompt
    assert live.endswith("\nThink:")


def test_tictactoe_prompt_accepts_custom_move_names_and_player() -> None:
    """The caller's move names are listed as given, and the agent can play O."""
    prompt = tictactoe_prompt("X........", ["b1", "c3"], player="o")
    assert "Legal moves: b1, c3" in prompt
    assert "You play O, the opponent plays X." in prompt


def test_tictactoe_prompt_rejects_malformed_boards() -> None:
    """A board without nine cells, an unknown mark or player is a ValueError."""
    with pytest.raises(ValueError):
        tictactoe_prompt("X.O")
    with pytest.raises(ValueError):
        tictactoe_prompt("X.O.Z....")
    with pytest.raises(ValueError):
        tictactoe_prompt(".........", player="Z")
