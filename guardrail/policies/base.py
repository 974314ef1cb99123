"""Corrections, and the shape every policy has."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from guardrail.actions import ActionSpace
from guardrail.exceptions import ConfigurationError
from guardrail.history import HistoryView
from guardrail.state import StepState
from guardrail.telemetry.events import CorrectionKind

__all__ = [
    "AsksAgain",
    "Correction",
    "Override",
    "Policy",
    "PolicyFn",
    "PolicyLike",
    "PromptNote",
    "ReAskRequest",
    "SampleRequest",
    "Shadow",
    "Skip",
    "answers_of",
    "checked_policies",
    "correct_fn",
    "policy_name",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    """Replace the step's action. ``explore`` marks a forced exploration (bounded by the exploration budget)."""

    action: str
    reason: str
    explore: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ReAskRequest:
    """Ask the agent again; the new prompt holds the original observation, the last answer and this feedback.

    ``wait`` is how many seconds the guard waits before asking (slept with the guard's ``sleep``).
    """

    feedback: str
    wait: float = 0.0

    def __post_init__(self) -> None:
        if not (self.wait >= 0 and self.wait != float("inf")):
            raise ConfigurationError(f"ReAskRequest(wait) must be a finite number of seconds >= 0, got {self.wait!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleRequest:
    """Ask the agent ``n`` more times with the same prompt and vote over all answers (self-consistency)."""

    n: int
    policy_reason: str = "self-consistency vote"


@dataclass(frozen=True, slots=True, kw_only=True)
class Shadow:
    """What a policy would have done, logged but not applied (``Observe``)."""

    correction: Override | ReAskRequest | SampleRequest
    policy: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Skip:
    """A correction a policy chose not to make this step, and why (e.g. a re-ask that has stopped paying).

    Logged as an unapplied correction of ``kind`` with ``reason``, like one a spent budget stopped; the next
    policy is asked.
    """

    kind: CorrectionKind
    reason: str


Correction = Override | ReAskRequest | SampleRequest | Shadow | Skip


@runtime_checkable
class Policy(Protocol):
    """Answers findings with a correction, or with None to pass to the next policy.

    ``answers`` names the finding kinds it responds to; None means it is asked on every step.
    """

    @property
    def answers(self) -> frozenset[str] | None:
        """Finding kinds this policy responds to (None: every step)."""
        ...

    def correct(self, state: StepState) -> Correction | None:
        """The correction for this step, or None."""
        ...


@runtime_checkable
class AsksAgain(Protocol):
    """A policy that may re-ask: ``max_attempts`` bounds the agent calls of one step (``StepState.max_attempts``)."""

    @property
    def max_attempts(self) -> int:
        """Agent calls allowed for one step, the first included."""
        ...


@runtime_checkable
class PromptNote(Protocol):
    """A policy that adds a note to the agent's prompt before each call (e.g. ``ContextSummary``)."""

    def note(self, history: HistoryView, actions: ActionSpace) -> str | None:
        """Text to add to the prompt, or None."""
        ...


PolicyFn = Callable[[StepState], "Correction | None"]
PolicyLike = Policy | PolicyFn
"""A policy object, or a plain function ``state -> Correction | None`` (asked on every step)."""


def answers_of(policy: PolicyLike) -> frozenset[str] | None:
    """The finding kinds a policy answers (None: every step), as a frozenset whatever collection it declared."""
    answers = policy.answers if isinstance(policy, Policy) else None
    return None if answers is None else frozenset(answers)


def correct_fn(policy: PolicyLike) -> PolicyFn:
    """The callable behind a policy object or function (resolve once: protocol checks are slow per step)."""
    return policy.correct if isinstance(policy, Policy) else policy


def policy_name(policy: object) -> str:
    """A short name for telemetry: the class name, or the function's name."""
    if isinstance(policy, Policy):
        return type(policy).__name__
    return getattr(policy, "__name__", type(policy).__name__)


def checked_policies(policies: object) -> tuple[PolicyLike, ...]:
    """``Guard(policies=...)`` checked: a list of policy objects or functions (a class is a ConfigurationError)."""
    if not isinstance(policies, (list, tuple)):
        hint = f"; did you mean [{policies!r}]?" if isinstance(policies, Policy) else ""
        raise ConfigurationError(f"policies must be a list of policies, got {policies!r}{hint}")
    for policy in policies:
        if isinstance(policy, type):
            raise ConfigurationError(
                f"policies: {policy.__name__} is a class, not a policy; did you mean {policy.__name__}()?"
            )
        if not (isinstance(policy, Policy) or callable(policy)):
            raise ConfigurationError(f"{policy!r} is not a policy (needs correct(state) or to be callable)")
    return tuple(policies)
