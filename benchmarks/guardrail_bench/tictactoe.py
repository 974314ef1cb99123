"""Guarded tic-tac-toe: the agent plays X against a random or minimax opponent, legal moves in the prompt.

Cells are numbered 1-9 row by row, as :func:`guardrail_bench.prompts.tictactoe_prompt` shows them. Each move is
one guarded step whose action space is the *legal* moves of that position, so an occupied cell or a missing
``ACTION=`` reads as an invalid answer: the :class:`~guardrail.detectors.InvalidAction` detector fires, re-ask and
override policies may supply a legal move, and otherwise the fallback plays a seeded random legal move (counted
as an executed invalid action, as the paper counts a random arm).

:class:`SimulatedTicTacToeAgent` is a **simulation**: its rationale names the minimax move with probability 0.9,
and it plays that move with probability ``follow`` (0.4), an occupied cell with probability ``invalid`` (0.2),
and otherwise a random legal move.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from guardrail import ConfigurationError, Guard, InvalidAction, KnowingDoingGap
from guardrail.policies import PolicyLike
from guardrail.telemetry.sinks import Sink
from guardrail_bench.costs import changed_by_guard, per_unit
from guardrail_bench.envs import MOVE_NAMES, TicTacToe, minimax_move
from guardrail_bench.prompts import tictactoe_prompt
from guardrail_bench.runner import BanditPrompter

__all__ = ["SimulatedTicTacToeAgent", "TicTacToeSummary", "run_tictactoe"]


def _numbers(moves: Sequence[str]) -> list[str]:
    return [str(MOVE_NAMES.index(move) + 1) for move in moves]


class SimulatedTicTacToeAgent:
    """A simulated LLM player (see the module docstring); reads the board from the runner, not the prompt."""

    def __init__(self, rng: np.random.Generator, *, follow: float = 0.4, invalid: float = 0.2) -> None:
        if not (0 <= follow <= 1 and 0 <= invalid <= 1 and follow + invalid <= 1):
            raise ConfigurationError("follow and invalid must be probabilities summing to at most 1")
        self.rng = rng
        self.follow = follow
        self.invalid = invalid
        self.board: tuple[str, ...] = ("",) * 9
        self.name = "simulated-tictactoe"

    def __call__(self, prompt: str) -> str:
        """A rationale naming (usually) the minimax move, then an ACTION line."""
        del prompt
        legal = [i for i, cell in enumerate(self.board) if not cell]
        taken = [i for i, cell in enumerate(self.board) if cell]
        best = MOVE_NAMES.index(minimax_move(self.board, "X", self.rng))
        named = best if self.rng.random() < 0.9 else int(self.rng.choice(legal))
        draw = self.rng.random()
        if draw < self.follow:
            move = named
        elif draw < self.follow + self.invalid and taken:
            move = int(self.rng.choice(taken))
        else:
            move = int(self.rng.choice(legal))
        return f"The best move is {named + 1}, so I take {named + 1}.\nACTION={move + 1}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TicTacToeSummary:
    """Games of one configuration."""

    name: str
    games: int
    moves: int
    win_rate: float
    draw_rate: float
    loss_rate: float
    first_invalid_rate: float  # moves whose first answer named no legal move
    executed_invalid_rate: float  # moves played by the fallback (no legal move from the agent or a correction)
    kd_agreement: float | None
    interventions_per_step: float
    agent_calls_per_step: float
    wall_seconds: float
    changed_steps: int = 0  # moves whose executed move a correction (not the fallback) changed
    extra_calls_per_changed_step: float | None = None  # agent calls beyond one per move, per changed move

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {field: getattr(self, field) for field in self.__dataclass_fields__}


def run_tictactoe(
    *,
    name: str,
    opponent: Literal["random", "minimax"],
    games: int,
    seed: int,
    policies: Callable[[], list[PolicyLike]] | None = None,
    make_agent: Callable[[int, np.random.Generator], Callable[[str], Any]] | None = None,
    baseline: Literal["random", "minimax"] | None = None,
    telemetry: Sink | None = None,
    few_shot: bool = True,
    progress: Callable[[int], None] | None = None,
) -> TicTacToeSummary:
    """Play ``games`` games as X; game ``i`` seeds the opponent from ``(seed, i)``.

    Give ``make_agent`` (and ``policies``) for a guarded text agent, or ``baseline`` for a random or minimax
    player without a guard.
    """
    if (baseline is None) == (make_agent is None):
        raise ConfigurationError("give either make_agent (with policies) or baseline")
    wins = draws = losses = moves = first_invalid = executed_invalid = interventions = calls = changed = 0
    agree: list[bool] = []
    started = time.perf_counter()
    for i in range(games):
        game_rng, agent_rng, fallback_rng = (np.random.default_rng([seed, i, j]) for j in range(3))
        del fallback_rng
        game = TicTacToe(opponent=opponent, agent_mark="X", seed=game_rng)
        agent = make_agent(i, agent_rng) if make_agent is not None else None
        turn = 0
        while not game.done:
            legal = game.legal_moves()
            if agent is None:
                move = (
                    minimax_move(game.board, "X", agent_rng)
                    if baseline == "minimax"
                    else legal[int(agent_rng.integers(len(legal)))]
                )
            else:
                if isinstance(agent, SimulatedTicTacToeAgent):
                    agent.board = game.board
                guard = Guard(
                    actions=_numbers(legal),
                    detectors=[KnowingDoingGap(), InvalidAction()],
                    policies=policies() if policies is not None else [],
                    fallback="random",
                    seed=seed,
                    telemetry=telemetry,
                    prompter=BanditPrompter(),  # the prompt ends in "Think:" too: feedback goes before it
                    run_id=name,
                )
                prompt = tictactoe_prompt(game.board, _numbers(legal), player="X", few_shot=few_shot)
                result = guard.step(agent, prompt, episode=f"{name}-game{i}-move{turn}")
                first_invalid += result.first_decision.action is None
                executed_invalid += any(c.kind == "fallback" for c in result.corrections)
                interventions += sum(1 for c in result.corrections if c.applied and c.kind != "fallback")
                calls += result.agent_calls
                changed += changed_by_guard(result)
                if result.decision.rationale_action is not None:
                    agree.append(result.action == result.decision.rationale_action)
                assert result.action is not None
                move = MOVE_NAMES[int(result.action) - 1]
            game.play(move)
            moves += 1
            turn += 1
        wins += game.reward > 0
        draws += game.draw
        losses += game.reward < 0
        if progress is not None:
            progress(i + 1)
    n = max(games, 1)
    steps = max(moves, 1)
    return TicTacToeSummary(
        name=name,
        games=games,
        moves=moves,
        win_rate=wins / n,
        draw_rate=draws / n,
        loss_rate=losses / n,
        first_invalid_rate=first_invalid / steps,
        executed_invalid_rate=executed_invalid / steps,
        kd_agreement=sum(agree) / len(agree) if agree else None,
        interventions_per_step=interventions / steps,
        agent_calls_per_step=calls / steps,
        wall_seconds=time.perf_counter() - started,
        changed_steps=changed,
        extra_calls_per_changed_step=per_unit(calls - moves, changed) if agent is not None else None,
    )
