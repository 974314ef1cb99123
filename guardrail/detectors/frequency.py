"""Frequency bias: repeating the most frequent action whatever its reward (docs/background.md: 2B models, 96%)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from guardrail.detectors.base import FREQUENCY_BIAS, Finding
from guardrail.exceptions import ConfigurationError
from guardrail.state import StepState

__all__ = ["FrequencyBias"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyBias:
    """Fires when the chosen action is the most frequent one while another has a higher mean reward.

    Without rewards (a tool-using agent) it fires on repetition instead: the same action ``max_repeats`` times
    in a row (this step included), or one action's share of the recent window above ``max_share``.

    Args:
        min_steps: steps of history needed before it judges at all.
        max_repeats: consecutive choices of one action that count as a loop (no-reward mode).
        max_share: share of the recent window (the history store's, 20 steps by default) that counts as a loop.
    """

    min_steps: int = 3
    max_repeats: int = 4
    max_share: float = 0.8

    def __post_init__(self) -> None:
        if self.min_steps < 1:
            raise ConfigurationError(f"min_steps must be >= 1, got {self.min_steps}")
        if self.max_repeats < 2:
            raise ConfigurationError(f"max_repeats must be >= 2, got {self.max_repeats}")
        if not 0.0 < self.max_share <= 1.0:
            raise ConfigurationError(f"max_share must be in (0, 1], got {self.max_share}")

    def detect(self, state: StepState) -> Sequence[Finding]:
        """One finding when the action looks chosen for its frequency, not its reward."""
        history = state.history
        chosen = state.index(state.decision.action)
        if chosen is None or history.t < self.min_steps:
            return ()
        counts = history.counts
        if history.has_rewards:
            if counts[chosen] != max(counts):  # not (one of) the most frequent: the common case, settled here
                return ()
            return self._with_rewards(state, chosen, counts[chosen] / history.t)
        return self._without_rewards(state, chosen, counts[chosen] / history.t)

    def _with_rewards(self, state: StepState, chosen: int, share: float) -> Sequence[Finding]:
        # ``chosen`` is (one of) the most frequent actions: detect() checked it
        history = state.history
        means = history.mean_list()
        if math.isnan(means[chosen]):
            return ()
        best = max(m for m in means if not math.isnan(m))
        cost = best - means[chosen]
        if cost <= 0:
            return ()
        better = [state.name(a) for a, m in enumerate(means) if m == best]
        return (
            Finding(
                kind=FREQUENCY_BIAS,
                score=min(1.0, share),
                detail=(
                    f"{state.name(chosen)!r} is the most frequent action ({share:.0%} of {history.t} steps) "
                    f"but {better[0]!r} has a higher mean reward (estimated cost {cost:.3f} per step)"
                ),
                actions=(state.name(chosen), *better),
                data={"share": share, "estimated_cost": cost, "mode": "reward"},
            ),
        )

    def _without_rewards(self, state: StepState, chosen: int, share: float) -> Sequence[Finding]:
        history = state.history
        run = history.run_length + 1 if history.last_action == chosen else 1
        window = (*history.recent, chosen)
        window_share = sum(1 for a in window if a == chosen) / len(window)
        full_window = len(window) >= min(10, 2 * self.max_repeats)
        if run < self.max_repeats and not (full_window and window_share > self.max_share):
            return ()
        reason = f"{run} times in a row" if run >= self.max_repeats else f"{window_share:.0%} of the last {len(window)}"
        return (
            Finding(
                kind=FREQUENCY_BIAS,
                score=min(1.0, max(window_share, run / (2 * self.max_repeats))),
                detail=f"{state.name(chosen)!r} repeated: {reason}",
                actions=(state.name(chosen),),
                data={"share": share, "run_length": run, "window_share": window_share, "mode": "repetition"},
            ),
        )
