"""Observe: shadow mode. Log what would happen; change nothing."""

from __future__ import annotations

from dataclasses import dataclass

from guardrail.policies.base import PolicyLike, Shadow, Skip, answers_of, correct_fn, policy_name
from guardrail.state import StepState

__all__ = ["Observe"]


@dataclass(frozen=True, slots=True)
class Observe:
    """Shadow mode.

    ``Observe()`` alone records findings and changes nothing. ``Observe(ReAsk())`` also records what the wrapped
    policy *would* have done (as a correction with ``applied=False``), without doing it: a way to measure a
    policy before turning it on.
    """

    policy: PolicyLike | None = None

    @property
    def answers(self) -> frozenset[str] | None:
        """The wrapped policy's finding kinds (None when it wraps nothing: asked every step, does nothing)."""
        return answers_of(self.policy) if self.policy is not None else None

    def correct(self, state: StepState) -> Shadow | Skip | None:
        """The wrapped policy's correction, marked as not applied (a skip is logged as it is)."""
        if self.policy is None:
            return None
        inner = correct_fn(self.policy)(state)
        if inner is None or isinstance(inner, (Shadow, Skip)):
            return inner
        return Shadow(correction=inner, policy=policy_name(self.policy))
