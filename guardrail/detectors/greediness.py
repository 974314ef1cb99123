"""Greediness: exploiting before exploring (docs/background.md: up to 55% of actions never tried)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from guardrail.detectors.base import GREEDINESS, Finding
from guardrail.exceptions import ConfigurationError
from guardrail.state import StepState

__all__ = ["Greediness"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Greediness:
    """Fires when the agent exploits too early. Needs rewards; without them it stays silent.

    Three tests, reported in ``data["reason"]``:
      * ``untried_remaining``: it takes the best-mean tried action while actions remain untried after step
        ``explore_by`` (default 0: untried actions should come first, as in try-all);
      * ``coverage_below_target``: it exploits at step t >= ``coverage_by`` while coverage < ``coverage_target``;
      * ``ucb_gap``: the chosen action's UCB1 index (constant ``c``) is more than ``ucb_margin`` below the best.
    """

    explore_by: int = 0
    coverage_target: float | None = None
    coverage_by: int = 0
    ucb_margin: float | None = 1.0
    c: float = 1.0

    def __post_init__(self) -> None:
        if self.explore_by < 0 or self.coverage_by < 0:
            raise ConfigurationError("explore_by and coverage_by must be >= 0")
        if self.coverage_target is not None and not 0.0 < self.coverage_target <= 1.0:
            raise ConfigurationError(f"coverage_target must be in (0, 1], got {self.coverage_target}")
        if self.ucb_margin is not None and (self.ucb_margin < 0 or math.isnan(self.ucb_margin)):
            raise ConfigurationError(f"ucb_margin must be >= 0, got {self.ucb_margin}")

    def detect(self, state: StepState) -> Sequence[Finding]:
        """One finding when the step exploits too early."""
        history = state.history
        chosen = state.index(state.decision.action)
        if chosen is None or not history.has_rewards:
            return ()
        untried = history.untried()
        too_early = bool(untried) and history.t >= self.explore_by
        below_target = (
            self.coverage_target is not None
            and history.t >= self.coverage_by
            and history.coverage < self.coverage_target
        )
        # Whether it exploits is asked only when one of the first two tests could fire (not on the hot path).
        if (too_early or below_target) and chosen in history.greedy_actions():
            if too_early:
                return (self._finding("untried_remaining", len(untried) / history.k, state, chosen, untried),)
            assert self.coverage_target is not None  # below_target
            shortfall = (self.coverage_target - history.coverage) / self.coverage_target
            return (self._finding("coverage_below_target", shortfall, state, chosen, untried),)
        if self.ucb_margin is not None and not untried:
            if history.ucb_gap_bound(chosen, self.c) <= self.ucb_margin:
                return ()  # settled without the k indices
            index = history.ucb_list(self.c)
            best_value, chosen_value = max(index), index[chosen]
            # An action with no reward yet has an infinite index: the gap is 0 if it is chosen, else infinite.
            gap = 0.0 if chosen_value == best_value else best_value - chosen_value
            if gap > self.ucb_margin:
                best = [a for a, value in enumerate(index) if value == best_value]
                score = 1.0 if math.isinf(gap) else gap / (gap + 1.0)
                return (self._finding("ucb_gap", score, state, chosen, best, ucb_gap=gap),)
        return ()

    @staticmethod
    def _finding(
        reason: str, score: float, state: StepState, chosen: int, others: list[int], **extra: float
    ) -> Finding:
        history = state.history
        name = state.name(chosen)
        untried = history.k - history.tried
        data: dict[str, object] = {"coverage": history.coverage, "untried": untried, **extra, "reason": reason}
        details = {
            "untried_remaining": f"exploits {name!r} while {len(others)} action(s) remain untried",
            "coverage_below_target": f"exploits {name!r} at coverage {history.coverage:.0%}",
            "ucb_gap": f"{name!r} is {extra.get('ucb_gap', 0):.3f} below the best UCB index",
        }
        return Finding(
            kind=GREEDINESS,
            score=max(0.0, min(1.0, score)),
            detail=details[reason],
            actions=(name, *(state.name(a) for a in others[:5])),
            data=data,
        )
