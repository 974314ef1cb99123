"""StepState: everything a detector or policy sees of one step, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from guardrail._checks import require_int
from guardrail.actions import ActionSpace
from guardrail.decision import Decision
from guardrail.findings import Finding
from guardrail.history import HistoryView

__all__ = ["YIELD_WINDOW", "Budget", "BudgetView", "ReAskYield", "ReAskYields", "StepState"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """Bounds on what policies may cost. None means unbounded.

    Args:
        max_interventions_per_episode: applied corrections (re-asks, overrides, votes) per episode.
        max_extra_calls_per_step: agent calls beyond the first, per step.
        max_extra_calls_per_episode: agent calls beyond the first of each step, summed over the episode.
        min_steps_between_explorations: steps that must pass after a forced exploration before the next.
    """

    max_interventions_per_episode: int | None = None
    max_extra_calls_per_step: int | None = None
    max_extra_calls_per_episode: int | None = None
    min_steps_between_explorations: int = 0

    def __post_init__(self) -> None:
        for name in (
            "max_interventions_per_episode",
            "max_extra_calls_per_step",
            "max_extra_calls_per_episode",
            "min_steps_between_explorations",
        ):
            value: object = getattr(self, name)
            if value is None and name != "min_steps_between_explorations":
                continue
            require_int("Budget", name, value)

    @property
    def unbounded(self) -> bool:
        """Whether no limit on interventions or extra calls is set (the default)."""
        return (
            self.max_interventions_per_episode is None
            and self.max_extra_calls_per_step is None
            and self.max_extra_calls_per_episode is None
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetView:
    """What the step may still spend. ``None`` means unbounded."""

    interventions_left: int | None = None
    extra_calls_left_step: int | None = None
    extra_calls_left_episode: int | None = None
    steps_since_exploration: int | None = None

    def can_call(self, n: int = 1) -> bool:
        """Whether ``n`` more agent calls fit in this step's and episode's budgets."""
        return all(left is None or left >= n for left in (self.extra_calls_left_step, self.extra_calls_left_episode))

    @property
    def can_intervene(self) -> bool:
        """Whether another intervention fits in the episode's budget."""
        return self.interventions_left is None or self.interventions_left > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReAskYield:
    """What re-asks bought so far, for one agent or one episode.

    A re-ask *fixed* its step when the answer it got named a legal action and raised neither an invalid-action
    nor a knowing-doing finding. ``recent`` holds the latest outcomes, oldest first (True: fixed), at most
    :data:`YIELD_WINDOW` of them; ``skipped`` counts re-asks skipped (a ``Skip`` of kind ``"reask"``) since
    the last re-ask that was made.
    """

    reasks: int = 0
    fixed: int = 0
    recent: tuple[bool, ...] = ()
    skipped: int = 0

    def rate(self, window: int | None = None) -> float | None:
        """Share of the last ``window`` re-asks (default: all of ``recent``) that fixed their step; None if none."""
        outcomes = self.recent if window is None else self.recent[-window:]
        return sum(outcomes) / len(outcomes) if outcomes else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReAskYields:
    """The re-ask yield of the step's agent (over every episode it played) and of the step's episode."""

    agent: ReAskYield = field(default_factory=ReAskYield)
    episode: ReAskYield = field(default_factory=ReAskYield)


#: Outcomes of re-asks the guard keeps per agent and per episode (the longest window a policy may read).
YIELD_WINDOW = 100

_NO_YIELD = ReAskYields()


@dataclass(frozen=True, kw_only=True)
class StepState:
    """One step, as detectors and policies see it.

    ``attempt`` counts agent calls for this step from 1; ``is_last_attempt`` is true when no re-ask can follow.
    ``reask_yield`` is what re-asks achieved so far for this agent and this episode (see :class:`ReAskYield`).
    ``rng`` is a generator seeded from ``seed`` (the Guard derives it from its seed, the episode and the step, so
    runs reproduce whatever order episodes interleave in); it is created on first use.
    """

    actions: ActionSpace
    decision: Decision
    history: HistoryView
    findings: tuple[Finding, ...] = ()
    episode: str = "default"
    step: int = 0
    attempt: int = 1
    max_attempts: int = 1
    budget: BudgetView = field(default_factory=BudgetView)
    seed: tuple[int, ...] = (0,)
    observation: Any = None
    started_at: float = 0.0
    reask_yield: ReAskYields = _NO_YIELD

    @property
    def rng(self) -> np.random.Generator:
        """The step's seeded random generator (the same object on every access)."""
        cached: np.random.Generator | None = self.__dict__.get("_rng")
        if cached is None:
            cached = np.random.default_rng(self.seed)
            object.__setattr__(self, "_rng", cached)
        return cached

    @property
    def is_last_attempt(self) -> bool:
        """No further agent call may be made for this step."""
        return self.attempt >= self.max_attempts or not self.budget.can_call()

    def index(self, action: str | None) -> int | None:
        """Index of an action in the space (None for None)."""
        return None if action is None else self.actions.index(action)

    def name(self, index: int) -> str:
        """Name of the action at ``index``."""
        return self.actions.names[index]

    def has(self, *kinds: str) -> bool:
        """Whether any finding of the given kinds was raised this step."""
        return any(f.kind in kinds for f in self.findings)
