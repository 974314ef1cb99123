"""ReAsk: ask the agent again, with feedback naming what was wrong."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from guardrail.detectors.base import INVALID_ACTION, KNOWING_DOING_GAP
from guardrail.exceptions import ConfigurationError
from guardrail.policies.base import ReAskRequest
from guardrail.state import StepState

__all__ = ["ReAsk", "default_feedback"]


def default_feedback(state: StepState) -> str:
    """Feedback that names the contradiction or the format problem, and the legal actions."""
    decision = state.decision
    legal = ", ".join(state.actions.names)
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
class ReAsk:
    """Re-ask the agent when it contradicts its rationale or gives no legal action.

    Args:
        max_attempts: agent calls allowed for one step, the first included (2 = one re-ask).
        answers: finding kinds that trigger a re-ask.
        feedback: builds the feedback text from the step (default :func:`default_feedback`).
        stop: a tenacity stop strategy to end re-asking earlier, e.g. ``stop_after_delay(10)``; combined with
            ``max_attempts`` (whichever stops first).
        wait: a tenacity wait strategy applied before each re-ask (default: no wait).

    On the last attempt it passes, so the next policy (e.g. ``OverrideToRationale``) can act.
    """

    max_attempts: int = 2
    answers: frozenset[str] | None = frozenset({KNOWING_DOING_GAP, INVALID_ACTION})
    feedback: Callable[[StepState], str] = default_feedback
    stop: stop_base | None = None
    wait: wait_base | None = None
    _retrying: tenacity.Retrying = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
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

    def correct(self, state: StepState) -> ReAskRequest | None:
        """A re-ask request with feedback, unless this was the last attempt."""
        if self.should_stop(state):
            return None
        return ReAskRequest(feedback=self.feedback(state))
