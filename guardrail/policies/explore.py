"""Forced exploration: TryAllFirst, EpsilonGreedy, UCBExplore (try-all: the largest single gain, docs/background.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from guardrail._checks import require_number
from guardrail.exceptions import ConfigurationError
from guardrail.policies.base import Override
from guardrail.state import StepState

__all__ = ["EpsilonGreedy", "TryAllFirst", "UCBExplore"]


def _pick(state: StepState, candidates: Sequence[int]) -> int:
    """Prefer the rationale's action among the candidates, then a seeded random one."""
    preferred = state.index(state.decision.rationale_action)
    if preferred is not None and preferred in candidates:
        return preferred
    return int(candidates[int(state.rng.integers(len(candidates)))])


@dataclass(frozen=True, slots=True, kw_only=True)
class TryAllFirst:
    """Play every untried action once before anything else.

    When the agent picks a tried action while some remain untried, override to an untried one (the rationale's,
    if it names an untried action; otherwise a seeded random one). Asked on every step.
    """

    answers: frozenset[str] | None = None

    def correct(self, state: StepState) -> Override | None:
        """Override to an untried action while any remain."""
        untried = state.history.untried()
        chosen = state.index(state.decision.action)
        if not untried or (chosen is not None and chosen in untried):
            return None
        target = _pick(state, untried)
        return Override(
            action=state.name(target),
            reason=f"try-all: {len(untried)} of {state.history.k} actions untried",
            explore=True,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EpsilonGreedy:
    """With probability ``epsilon``, replace the action with a uniformly random one.

    ``seed`` makes its draws depend only on (seed, episode, step), whatever the order steps run in; without it
    the Guard's seeded generator is used.
    """

    epsilon: float = 0.1
    seed: int | None = None
    answers: frozenset[str] | None = None

    def __post_init__(self) -> None:
        require_number("EpsilonGreedy", "epsilon", self.epsilon)
        if not (0.0 <= self.epsilon <= 1.0) or math.isnan(self.epsilon):
            raise ConfigurationError(f"epsilon must be in [0, 1], got {self.epsilon}")

    def _rng(self, state: StepState) -> np.random.Generator:
        if self.seed is None:
            return state.rng
        from zlib import crc32

        return np.random.default_rng([self.seed, crc32(state.episode.encode()), state.step])

    def correct(self, state: StepState) -> Override | None:
        """A random action with probability epsilon (None if it happens to be the chosen one)."""
        rng = self._rng(state)
        if rng.random() >= self.epsilon:
            return None
        target = state.name(int(rng.integers(len(state.actions))))
        if target == state.decision.action:
            return None
        return Override(action=target, reason=f"epsilon-greedy draw (epsilon={self.epsilon:g})", explore=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class UCBExplore:
    """Override to the UCB1 argmax when the chosen action's index is more than ``margin`` below it.

    Untried actions have an infinite index, so while any remain this behaves like :class:`TryAllFirst`. Needs
    rewards (``Guard.record_reward``); without them it does nothing.
    """

    margin: float = 0.5
    c: float = 1.0
    answers: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.margin < 0 or math.isnan(self.margin):
            raise ConfigurationError(f"margin must be >= 0, got {self.margin}")
        if self.c < 0 or math.isnan(self.c):
            raise ConfigurationError(f"c must be >= 0, got {self.c}")

    def correct(self, state: StepState) -> Override | None:
        """Override to the UCB argmax when the gap exceeds the margin."""
        history = state.history
        if not history.has_rewards:
            return None
        index = history.ucb_list(self.c)
        best = max(index)
        chosen = state.index(state.decision.action)
        chosen_value = index[chosen] if chosen is not None else -math.inf
        gap = best - chosen_value
        if chosen is not None and (chosen_value == best or gap <= self.margin):
            return None
        target = _pick(state, [a for a, value in enumerate(index) if value == best])
        shown = "inf" if math.isinf(gap) else f"{gap:.3f}"
        return Override(action=state.name(target), reason=f"UCB gap {shown} > margin {self.margin:g}", explore=True)
