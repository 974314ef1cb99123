"""Prompts for the benchmark tasks: the paper's button bandit, tic-tac-toe and "Alice in Wonderland".

Every prompt is a plain completion prompt: a short task statement, optional few-shot examples, then the
current situation, ending in an open ``Think:`` (or ``Reasoning:``) line for the model to continue. This
works for base models (the few-shot examples carry the format) and for chat models alike.

The bandit prompt follows the paper (Schmied et al., 2025): the agent sees the task and the raw history as
``Step=t Action=X Reward=r`` lines, thinks briefly and ends with ``ACTION=X``. The examples are written with
the task's own action names, so a small model that copies the format copies a legal name.

Prompts are kept short: the small local model (Gemma 3 270M) runs with a 2048-token context.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AIW_ANSWER_PREFIX",
    "STOP_SEQUENCES",
    "aiw_answer",
    "aiw_prompt",
    "bandit_prompt",
    "foreign_bandit_prompt",
    "format_history",
    "tictactoe_prompt",
]

#: The prefix of the final line an AIW answer must end with.
AIW_ANSWER_PREFIX = "### Answer:"

#: Stop sequences that end a base model's completion after its answer line, for every prompt here.
#: Examples and the live situation are separated by blank lines, so ``"\n\n"`` ends one answer.
STOP_SEQUENCES: tuple[str, ...] = ("\n\n", "\nExample", "\nNow:", "\nHistory:", "\nQuestion:", "\nBoard:")

_WIN_LINES: tuple[tuple[int, int, int], ...] = (
    (0, 1, 2),
    (3, 4, 5),
    (6, 7, 8),
    (0, 3, 6),
    (1, 4, 7),
    (2, 5, 8),
    (0, 4, 8),
    (2, 4, 6),
)


def _check_arms(arm_names: Sequence[str]) -> list[str]:
    if isinstance(arm_names, str):
        raise TypeError("arm_names must be a sequence of names, not one string")
    names = [str(name) for name in arm_names]
    if not names:
        raise ValueError("arm_names must name at least one arm")
    return names


def _reward(value: float) -> str:
    return f"{value:.2f}"


def format_history(history: Sequence[tuple[str, float]], *, start: int = 1) -> str:
    """The raw history as the paper shows it: one ``Step=t Action=X Reward=r`` line per step.

    >>> print(format_history([("red", 0.5), ("blue", -0.25)]))
    Step=1 Action=red Reward=0.50
    Step=2 Action=blue Reward=-0.25
    """
    return "\n".join(
        f"Step={index} Action={action} Reward={_reward(float(reward))}"
        for index, (action, reward) in enumerate(history, start=start)
    )


def _bandit_examples(names: Sequence[str]) -> str:
    """Two worked examples in the task's own action names: explore an untried arm, then exploit."""
    k = len(names)
    blocks: list[str] = []
    if k >= 3:
        # Tried arms are taken from the end of the list, the suggested untried one from the middle, so a
        # model that copies the example is not pushed towards the first or last arm only.
        first, second, untried = names[-1], names[0], names[k // 2]
        blocks.append(
            "Example:\nHistory:\n"
            + format_history([(first, 0.31), (second, 1.12)])
            + f"\nThink: {second} gave 1.12, more than {first} with 0.31. "
            + f"{untried} was never pressed, so I try {untried}.\nACTION={untried}"
        )
    if k >= 2:
        best, other = names[1], names[2] if k >= 3 else names[0]
        blocks.append(
            "Example:\nHistory:\n"
            + format_history([(best, 0.80), (other, 0.10), (best, 0.96), (other, 0.22)])
            + f"\nThink: {best} averages 0.88 over 2 presses, {other} only 0.16. "
            + f"{best} is best so far, so I press {best}.\nACTION={best}"
        )
    return "\n\n".join(blocks)


def bandit_prompt(
    arm_names: Sequence[str],
    history: Sequence[tuple[str, float]],
    *,
    summary: str | None = None,
    few_shot: bool = True,
) -> str:
    """The paper's button-bandit prompt for one step.

    Args:
        arm_names: the buttons, in a fixed order (e.g. colours).
        history: ``(action, reward)`` per past step, oldest first; shown as ``Step=t Action=X Reward=r``.
        summary: optional text appended after the history (the context-summary mechanism: per-arm counts
            and mean rewards), under a ``Summary:`` line.
        few_shot: include two worked examples (needed for small base models to follow the format).

    Returns:
        A completion prompt that ends in ``Think:``; the model is asked to end its answer with ``ACTION=X``.

    >>> "Step=1 Action=red Reward=0.50" in bandit_prompt(["red", "blue"], [("red", 0.5)])
    True
    """
    names = _check_arms(arm_names)
    parts = [
        f"Task: there are {len(names)} buttons: {', '.join(names)}. Each press of a button gives a random "
        "reward; each button has its own hidden average reward. Get as much total reward as possible. "
        "Think briefly, then end with ACTION=<button>."
    ]
    if few_shot and len(names) >= 2:
        parts.append(_bandit_examples(names))
    lines = format_history(history) if history else "(no presses yet)"
    current = f"Now:\nHistory:\n{lines}"
    if summary:
        current += f"\nSummary:\n{summary.strip()}"
    parts.append(current + "\nThink:")
    return "\n\n".join(parts)


def foreign_bandit_prompt(
    arm_names: Sequence[str],
    history: Sequence[tuple[str, float]],
    *,
    summary: str | None = None,
    few_shot: bool = False,
) -> str:
    """A bandit prompt in another benchmark's wording: Krishnamurthy et al. (2024), "Can large language models
    explore in-context?", button scenario, adapted to Gaussian rewards and to the guard's ``<action>`` tag.

    No worked examples (``few_shot`` is accepted and ignored, so it drops in for :func:`bandit_prompt`); the
    history is shown as ``round t: <name> button, reward r`` lines. It tests what the guard does for a prompt
    it was not tuned on: arm names may hold spaces, and nothing shows the model the answer format.

    >>> prompt = foreign_bandit_prompt(["dark blue", "pale yellow"], [("dark blue", 0.5)])
    >>> "round 1: dark blue button, reward 0.50" in prompt
    True
    """
    del few_shot
    names = _check_arms(arm_names)
    listed = ", ".join(names)
    lines = [
        f"You are in a room with {len(names)} buttons labeled {listed}. Each button is associated with a "
        "distribution with a fixed but unknown mean; the means for the buttons could be different. For each "
        "button, when you press it, you will get a reward that is sampled from the button's associated "
        "distribution. On each time step you can choose any button and receive the reward. Your goal is to "
        "maximize the total reward.",
        "At each time step, I will show you your past choices and rewards. Then you must make the next choice, "
        f"which must be exactly one of {listed}. You must provide your final answer within the tags "
        "<action>BUTTON</action> where BUTTON is one of " + listed + ".",
    ]
    if history:
        past = "\n".join(
            f"round {index}: {action} button, reward {_reward(float(reward))}"
            for index, (action, reward) in enumerate(history, start=1)
        )
        lines.append(f"So far you have played {len(history)} times:\n{past}")
    else:
        lines.append("You have not pressed any button yet.")
    if summary:
        lines.append(f"Summary:\n{summary.strip()}")
    lines.append("Which button will you choose next?\nThink:")
    return "\n\n".join(lines)


def _cell_label(board: Sequence[str], index: int) -> str:
    mark = board[index].strip().upper()
    return mark if mark in ("X", "O") else str(index + 1)


def _render_board(board: Sequence[str]) -> str:
    return "\n".join(" | ".join(_cell_label(board, row * 3 + column) for column in range(3)) for row in range(3))


def _check_board(board: Sequence[str]) -> list[str]:
    cells = list(board) if isinstance(board, str) else [str(cell) for cell in board]
    if len(cells) != 9:
        raise ValueError(f"a tic-tac-toe board has 9 cells; got {len(cells)}")
    bad = [cell for cell in cells if cell.strip().upper() not in ("", "X", "O", ".", "-")]
    if bad:
        raise ValueError(f"board cells must be 'X', 'O' or empty ('', ' ', '.', '-'); got {bad!r}")
    return cells


def tictactoe_prompt(
    board: Sequence[str],
    legal_moves: Sequence[str] | None = None,
    *,
    player: str = "X",
    few_shot: bool = True,
) -> str:
    """A tic-tac-toe prompt: the board with free cells numbered 1-9, the legal moves, ``ACTION=<cell>``.

    Args:
        board: nine cells, row by row; each ``"X"``, ``"O"`` or empty (``""``, ``" "``, ``"."``, ``"-"``).
            A nine-character string such as ``"X.O.X...."`` works too.
        legal_moves: the action names to list; by default the 1-based numbers of the empty cells.
        player: the mark the agent plays (``"X"`` or ``"O"``).
        few_shot: include one worked example (a winning move).

    >>> "Legal moves: 2, 6" in tictactoe_prompt("X.OOX.XXO")
    True
    """
    cells = _check_board(board)
    mark = player.strip().upper()
    if mark not in ("X", "O"):
        raise ValueError(f"player must be 'X' or 'O'; got {player!r}")
    opponent = "O" if mark == "X" else "X"
    moves = (
        [str(move) for move in legal_moves]
        if legal_moves is not None
        else [str(index + 1) for index in range(9) if _cell_label(cells, index).isdigit()]
    )
    parts = [
        f"Task: tic-tac-toe. You play {mark}, the opponent plays {opponent}. Free cells show their number. "
        "Three in a row wins. Think briefly, then end with ACTION=<cell>."
    ]
    if few_shot:
        example = [mark, "", opponent, "", mark, opponent, "", "", ""]
        parts.append(
            f"Example:\nBoard:\n{_render_board(example)}\nLegal moves: 2, 4, 7, 8, 9\n"
            f"Think: I have 1 and 5; 9 completes the diagonal 1-5-9 and wins.\nACTION=9"
        )
    parts.append(f"Now:\nBoard:\n{_render_board(cells)}\nLegal moves: {', '.join(moves)}\nThink:")
    return "\n\n".join(parts)


def aiw_answer(n_brothers: int, m_sisters: int) -> int:
    """The correct answer to the AIW question: Alice's brother has Alice's sisters plus Alice, M + 1."""
    del n_brothers  # the brothers are a distractor
    return m_sisters + 1


_AIW_EXAMPLES = (
    "Question: Tom has 3 red pens and he also has 4 blue pens. He gives away 2 blue pens. "
    "How many pens does Tom have?\n"
    "Reasoning: Tom has 3 + 4 = 7 pens and gives away 2, so 7 - 2 = 5.\n"
    f"{AIW_ANSWER_PREFIX} 5\n\n"
    "Question: A shelf has 2 rows with 6 books in each row. How many books are on the shelf?\n"
    "Reasoning: 2 rows of 6 books is 2 * 6 = 12.\n"
    f"{AIW_ANSWER_PREFIX} 12"
)


def aiw_prompt(n_brothers: int, m_sisters: int, *, few_shot: bool = True) -> str:
    """The "Alice in Wonderland" question (Nezhurina et al., 2024), asking for short reasoning and a final
    ``### Answer: <number>`` line. The correct answer is ``m_sisters + 1`` (see :func:`aiw_answer`).

    The few-shot examples are unrelated arithmetic: they teach the format, not the trick.

    >>> print(aiw_prompt(3, 2).splitlines()[-2])
    Question: Alice has 3 brothers and she also has 2 sisters. How many sisters does Alice's brother have?
    """
    if n_brothers < 0 or m_sisters < 0:
        raise ValueError("n_brothers and m_sisters must be non-negative")
    parts = [
        "Answer the question. Reason in one or two short sentences, then write the final line "
        f'"{AIW_ANSWER_PREFIX} <number>".'
    ]
    if few_shot:
        parts.append(_AIW_EXAMPLES)
    parts.append(
        f"Question: Alice has {n_brothers} brothers and she also has {m_sisters} sisters. "
        "How many sisters does Alice's brother have?\nReasoning:"
    )
    return "\n\n".join(parts)
