"""ReAsk: ask the agent again, with feedback naming what was wrong."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from guardrail._checks import require_number
from guardrail.detectors.base import INVALID_ACTION, KNOWING_DOING_GAP, UNEXECUTED_INTENT
from guardrail.exceptions import ConfigurationError
from guardrail.policies.base import ReAskRequest, Skip
from guardrail.state import YIELD_WINDOW, StepState

__all__ = ["ReAsk", "SkipWhenFutile", "default_feedback"]


def default_feedback(state: StepState) -> str:
    """Feedback that names the contradiction or the format problem, and the legal actions."""
    decision = state.decision
    legal = ", ".join(state.actions.names)
    intent = next((f for f in state.findings if f.kind == UNEXECUTED_INTENT), None)
    if intent is not None:
        return (
            f"Your reasoning says you will use {intent.actions[0]!r}, but your answer made no call. Make the call "
            "your reasoning commits to, with its arguments, or revise the reasoning if it was wrong."
        )
    if decision.action is None:
        if decision.raw_action:
            problem = f"Your answer chose {decision.raw_action!r}, which is not a legal action."
        else:
            problem = "Your answer did not state an action."
        return f"{problem} Choose exactly one of: {legal}. Keep the same answer format."
    return (
        f"Your reasoning recommends {decision.rationale_action!r}, but your action was {decision.action!r}. "
        "Act on your reasoning, or revise the reasoning if it was wrong, and end with the action it supports. "
        f"Legal actions: {legal}. Keep the same answer format."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SkipWhenFutile:
    """When a re-ask has stopped paying: skip it, and probe now and then to notice recovery.

    A step's re-ask is skipped when, over the last ``window`` re-asks of the agent (``scope="agent"``, across
    its episodes) or of the episode (``scope="episode"``), at least ``min_reasks`` were made, fewer than
    ``min_yield`` of them fixed their step (a legal action, no gap), and the latest did not. One in every
    ``probe_every`` such steps re-asks anyway, as a probe; a probe that fixes its step resumes re-asking at once.

    Args:
        min_yield: the share of re-asks that must fix their step for re-asking to go on.
        window: how many of the latest re-asks the share is taken over (at most 100).
        min_reasks: re-asks to observe before judging (until then, always re-ask).
        probe_every: one in this many steps that would skip re-asks anyway (1: never skip).
        scope: whose re-asks count: the agent's (default; its yield is a property of its model and prompt)
            or the episode's.
    """

    min_yield: float = 0.1
    window: int = 10
    min_reasks: int = 5
    probe_every: int = 10
    scope: Literal["agent", "episode"] = "agent"

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_yield <= 1.0:
            raise ConfigurationError(f"SkipWhenFutile(min_yield) must be in [0, 1], got {self.min_yield}")
        if not 1 <= self.window <= YIELD_WINDOW:
            raise ConfigurationError(f"SkipWhenFutile(window) must be in 1..{YIELD_WINDOW}, got {self.window}")
        if not 1 <= self.min_reasks <= self.window:
            raise ConfigurationError(
                f"SkipWhenFutile(min_reasks) must be in 1..window ({self.window}), got {self.min_reasks}"
            )
        if self.probe_every < 1:
            raise ConfigurationError(f"SkipWhenFutile(probe_every) must be >= 1, got {self.probe_every}")
        if self.scope not in ("agent", "episode"):
            raise ConfigurationError(f"SkipWhenFutile(scope) must be 'agent' or 'episode', got {self.scope!r}")

    def reason_to_skip(self, state: StepState) -> str | None:
        """Why this step's re-ask should be skipped, or None to re-ask."""
        tally = state.reask_yield.agent if self.scope == "agent" else state.reask_yield.episode
        recent = tally.recent[-self.window :]
        if len(recent) < self.min_reasks or recent[-1]:
            return None
        fixed = sum(recent)
        if fixed >= self.min_yield * len(recent):
            return None
        if tally.skipped + 1 >= self.probe_every:
            return None  # the probe
        return (
            f"skipped: {fixed}/{len(recent)} recent re-asks of this {self.scope} fixed their step "
            f"(below {self.min_yield:.0%}); probe in {self.probe_every - tally.skipped - 1} step(s)"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReAsk:
    """Re-ask the agent when it contradicts its rationale or gives no legal action.

    Args:
        max_attempts: agent calls allowed for one step, the first included (2 = one re-ask).
        answers: finding kinds that trigger a re-ask.
        feedback: builds the feedback text from the step (default :func:`default_feedback`).
        stop: a tenacity stop strategy to end re-asking earlier, e.g. ``stop_after_delay(10)``; combined with
            ``max_attempts`` (whichever stops first).
        wait: a tenacity wait strategy applied before each re-ask (default: no wait).
        adaptive: when to stop re-asking an agent whose re-asks do not fix its answers (default
            :class:`SkipWhenFutile`; None re-asks every time). A skipped re-ask is logged as an unapplied
            ``reask`` correction with its reason, and costs no call.

    On the last attempt, or when it skips, it passes, so the next policy (e.g. ``OverrideToRationale``) can act.
    The skip is decided on a step's first attempt; a step that re-asks goes on up to ``max_attempts``.
    """

    max_attempts: int = 2
    answers: frozenset[str] | None = frozenset({KNOWING_DOING_GAP, INVALID_ACTION, UNEXECUTED_INTENT})
    feedback: Callable[[StepState], str] = default_feedback
    stop: stop_base | None = None
    wait: wait_base | None = None
    adaptive: SkipWhenFutile | None = field(default_factory=SkipWhenFutile)
    _retrying: tenacity.Retrying = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_number("ReAsk", "max_attempts", self.max_attempts, integer=True)
        if self.max_attempts < 1:
            raise ConfigurationError(f"ReAsk(max_attempts) must be >= 1, got {self.max_attempts}")
        if self.answers is not None and not self.answers:
            raise ConfigurationError("ReAsk(answers) must name at least one finding kind, or be None")
        stop: stop_base = tenacity.stop_after_attempt(self.max_attempts)
        if self.stop is not None:
            stop = stop | self.stop
        object.__setattr__(self, "_retrying", tenacity.Retrying(stop=stop, wait=self.wait or tenacity.wait_none()))

    def _call_state(self, state: StepState) -> tenacity.RetryCallState:
        call = tenacity.RetryCallState(self._retrying, fn=None, args=(), kwargs={})
        call.attempt_number = state.attempt
        if state.started_at:
            call.start_time = state.started_at
            call.outcome_timestamp = time.monotonic()
        return call

    def should_stop(self, state: StepState) -> bool:
        """Whether this step has had its last attempt, by ``max_attempts`` and ``stop``.

        A spent call budget is left to the Guard, which then marks the finding as budget-exhausted.
        """
        return bool(self._retrying.stop(self._call_state(state)))

    def wait_seconds(self, state: StepState) -> float:
        """Seconds to wait before the next attempt, from ``wait``."""
        return float(self._retrying.wait(self._call_state(state)))

    def correct(self, state: StepState) -> ReAskRequest | Skip | None:
        """A re-ask request with feedback; None on the last attempt; a skip while re-asks are futile."""
        if self.should_stop(state):
            return None
        if self.adaptive is not None and state.attempt == 1:
            reason = self.adaptive.reason_to_skip(state)
            if reason is not None:
                return Skip(kind="reask", reason=reason)
        return ReAskRequest(feedback=self.feedback(state), wait=self.wait_seconds(state))
