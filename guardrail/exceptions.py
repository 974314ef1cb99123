"""The errors guardrail raises.

Misuse (a wrong argument, found when you build something) is kept apart from failures at run time::

    GuardrailError                      root: ``except GuardrailError`` catches everything below
    ├── ConfigurationError              bad arguments, raised at construction (also a ValueError)
    │   └── MissingDependencyError      an optional extra is not installed (also an ImportError)
    ├── InvalidInputError               a call got input of the wrong kind, e.g. parse(42, ...) (also a TypeError)
    ├── SkipStep                        raised by a parser: this output is not a step (adapters); nothing recorded
    └── GuardrailRuntimeError           something failed while guarding a step
        ├── NoLegalActionError          no legal action after every attempt and fallback="raise"
        ├── LoopStopped                 an escalation policy stopped an agent caught in a loop
        ├── AgentTimeoutError           the agent did not answer within the configured timeout
        ├── AgentCallsExhaustedError    too many timed-out agent calls are still running to start another
        ├── HistoryStoreError           the history backend (e.g. Redis) failed
        └── TelemetryError              a sink failed and the user asked for raise_error=True

Bad *agent output* is never an exception: it becomes a finding (see ``guardrail.detectors``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guardrail.findings import Finding

__all__ = [
    "AgentCallsExhaustedError",
    "AgentTimeoutError",
    "ConfigurationError",
    "GuardrailError",
    "GuardrailRuntimeError",
    "HistoryStoreError",
    "InvalidInputError",
    "LoopStopped",
    "MissingDependencyError",
    "NoLegalActionError",
    "SkipStep",
    "TelemetryError",
]


class GuardrailError(Exception):
    """Root of every error guardrail raises."""


class ConfigurationError(GuardrailError, ValueError):
    """An argument is invalid; raised when the object is built, not at step 500."""


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional integration was used without its extra installed."""

    def __init__(self, package: str, extra: str, feature: str, distribution: str = "guardrail-core") -> None:
        self.package = package
        self.extra = extra
        self.distribution = distribution
        super().__init__(
            f"{feature} needs the optional package {package!r}; install it with `pip install '{distribution}[{extra}]'`"
        )


class InvalidInputError(GuardrailError, TypeError):
    """A function was called with input of the wrong kind."""


class SkipStep(GuardrailError):
    """Raised by a parser to say an output is not a step at all (e.g. an agent's final answer, not an action).

    ``Guard.step`` / ``astep`` re-raise it unchanged; no event is written and no history is recorded, so the
    caller can hand ``output`` on as it is.
    """

    def __init__(self, output: Any) -> None:
        super().__init__("this output is not a step")
        self.output = output


class GuardrailRuntimeError(GuardrailError):
    """A failure while guarding a step (as opposed to misuse)."""


class NoLegalActionError(GuardrailRuntimeError):
    """The agent produced no legal action after every attempt, and the fallback is ``"raise"``.

    The step's telemetry event is written before this is raised.
    """

    def __init__(
        self,
        message: str,
        *,
        episode: str,
        step: int,
        attempts: int,
        last_output: Any,
        findings: Sequence[Finding] = (),
    ) -> None:
        super().__init__(message)
        self.episode = episode
        self.step = step
        self.attempts = attempts
        self.last_output = last_output
        self.findings = tuple(findings)


class AgentTimeoutError(GuardrailRuntimeError, TimeoutError):
    """The agent call exceeded ``Guard(agent_timeout=...)``."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"the agent did not answer within {timeout:g} s")
        self.timeout = timeout


class AgentCallsExhaustedError(GuardrailRuntimeError):
    """Too many timed-out agent calls are still running (abandoned, not killed) to start another one.

    ``Guard(max_abandoned_calls=...)`` bounds them; the call is refused before the agent is called.
    """

    def __init__(self, abandoned: int) -> None:
        super().__init__(
            f"{abandoned} timed-out agent call(s) are still running (Guard(max_abandoned_calls={abandoned})); "
            "refusing to start another until one returns"
        )
        self.abandoned = abandoned


class HistoryStoreError(GuardrailRuntimeError):
    """The history backend failed (and no local fallback was configured)."""


class TelemetryError(GuardrailRuntimeError):
    """A telemetry sink failed and it was configured with ``raise_error=True``."""


class LoopStopped(GuardrailRuntimeError):
    """The agent went on with a loop after every nudge and block: an escalation policy stopped it.

    The step's event is written first (status ``"stopped"``). ``message`` is a final answer an adapter can hand
    back to the user (the LangChain middleware ends the agent with it); ``finding`` is the loop finding.
    """

    def __init__(self, message: str, *, episode: str, step: int, finding: Finding) -> None:
        super().__init__(message)
        self.message = message
        self.episode = episode
        self.step = step
        self.finding = finding
