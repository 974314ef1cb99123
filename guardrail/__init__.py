"""guardrail: catch LLM agents acting against their own rationale, and correct them by policy.

The public surface is what ``__all__`` lists; everything else is an implementation detail.

Each name is imported from its module on first use (PEP 562): ``import guardrail`` alone loads no submodule, so
a light entry point (``guardrail report`` reads telemetry and needs none of the guard) starts with half the CPU.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from guardrail._version import __version__

if TYPE_CHECKING:
    from guardrail.actions import ActionSpace
    from guardrail.decision import Decision, Reply, Usage
    from guardrail.detectors import (
        FREQUENCY_BIAS,
        GREEDINESS,
        INVALID_ACTION,
        KNOWING_DOING_GAP,
        LOOP,
        UNEXECUTED_INTENT,
        Detector,
        Finding,
        FrequencyBias,
        Greediness,
        InvalidAction,
        KnowingDoingGap,
        Loops,
        UnexecutedIntent,
    )
    from guardrail.exceptions import (
        AgentCallsExhaustedError,
        AgentTimeoutError,
        ConfigurationError,
        GuardrailError,
        GuardrailRuntimeError,
        HistoryStoreError,
        InvalidInputError,
        LoopStopped,
        MissingDependencyError,
        NoLegalActionError,
        SkipStep,
        TelemetryError,
    )
    from guardrail.guard import AsyncGuardedAgent, Guard, GuardedAgent, StepResult
    from guardrail.history import CallRecord, HistoryStore, HistoryView, InMemoryHistoryStore
    from guardrail.parsing import parse
    from guardrail.policies import (
        ContextSummary,
        EpsilonGreedy,
        Escalation,
        Observe,
        Override,
        OverrideToRationale,
        Policy,
        ReAsk,
        ReAskRequest,
        SampleRequest,
        SelfConsistency,
        Skip,
        SkipWhenFutile,
        TryAllFirst,
        UCBExplore,
    )
    from guardrail.prompting import Prompter, TextPrompter
    from guardrail.rationale import (
        CascadeReader,
        CascadeStats,
        JudgeBase,
        JudgeQuestion,
        LexicalReader,
        RationaleReader,
        RationaleReading,
        read_rationale,
    )
    from guardrail.state import Budget, BudgetView, StepState
    from guardrail.telemetry import (
        BackgroundSink,
        JsonlSink,
        LoggingSink,
        MemorySink,
        OTelSink,
        Redaction,
        RewardEvent,
        Sink,
        StepEvent,
        read_events,
        summarize,
    )

# Where each public name is defined: the imports above, for the runtime (a test checks that they agree).
_MODULES: dict[str, tuple[str, ...]] = {
    "guardrail.actions": ("ActionSpace",),
    "guardrail.decision": ("Decision", "Reply", "Usage"),
    "guardrail.detectors": (
        "FREQUENCY_BIAS",
        "GREEDINESS",
        "INVALID_ACTION",
        "KNOWING_DOING_GAP",
        "LOOP",
        "UNEXECUTED_INTENT",
        "Detector",
        "Finding",
        "FrequencyBias",
        "Greediness",
        "InvalidAction",
        "KnowingDoingGap",
        "Loops",
        "UnexecutedIntent",
    ),
    "guardrail.exceptions": (
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
    ),
    "guardrail.guard": (
        "AsyncGuardedAgent",
        "Guard",
        "GuardedAgent",
        "StepResult",
    ),
    "guardrail.history": (
        "CallRecord",
        "HistoryStore",
        "HistoryView",
        "InMemoryHistoryStore",
    ),
    "guardrail.parsing": ("parse",),
    "guardrail.policies": (
        "ContextSummary",
        "EpsilonGreedy",
        "Escalation",
        "Observe",
        "Override",
        "OverrideToRationale",
        "Policy",
        "ReAsk",
        "ReAskRequest",
        "SampleRequest",
        "SelfConsistency",
        "Skip",
        "SkipWhenFutile",
        "TryAllFirst",
        "UCBExplore",
    ),
    "guardrail.prompting": ("Prompter", "TextPrompter"),
    "guardrail.rationale": (
        "CascadeReader",
        "CascadeStats",
        "JudgeBase",
        "JudgeQuestion",
        "LexicalReader",
        "RationaleReader",
        "RationaleReading",
        "read_rationale",
    ),
    "guardrail.state": ("Budget", "BudgetView", "StepState"),
    "guardrail.telemetry": (
        "BackgroundSink",
        "JsonlSink",
        "LoggingSink",
        "MemorySink",
        "OTelSink",
        "Redaction",
        "RewardEvent",
        "Sink",
        "StepEvent",
        "read_events",
        "summarize",
    ),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "FREQUENCY_BIAS",
    "GREEDINESS",
    "INVALID_ACTION",
    "KNOWING_DOING_GAP",
    "LOOP",
    "UNEXECUTED_INTENT",
    "ActionSpace",
    "AgentCallsExhaustedError",
    "AgentTimeoutError",
    "AsyncGuardedAgent",
    "BackgroundSink",
    "Budget",
    "BudgetView",
    "CallRecord",
    "CascadeReader",
    "CascadeStats",
    "ConfigurationError",
    "ContextSummary",
    "Decision",
    "Detector",
    "EpsilonGreedy",
    "Escalation",
    "Finding",
    "FrequencyBias",
    "Greediness",
    "Guard",
    "GuardedAgent",
    "GuardrailError",
    "GuardrailRuntimeError",
    "HistoryStore",
    "HistoryStoreError",
    "HistoryView",
    "InMemoryHistoryStore",
    "InvalidAction",
    "InvalidInputError",
    "JsonlSink",
    "JudgeBase",
    "JudgeQuestion",
    "KnowingDoingGap",
    "LexicalReader",
    "LoggingSink",
    "LoopStopped",
    "Loops",
    "MemorySink",
    "MissingDependencyError",
    "NoLegalActionError",
    "OTelSink",
    "Observe",
    "Override",
    "OverrideToRationale",
    "Policy",
    "Prompter",
    "RationaleReader",
    "RationaleReading",
    "ReAsk",
    "ReAskRequest",
    "Redaction",
    "Reply",
    "RewardEvent",
    "SampleRequest",
    "SelfConsistency",
    "Sink",
    "Skip",
    "SkipStep",
    "SkipWhenFutile",
    "StepEvent",
    "StepResult",
    "StepState",
    "TelemetryError",
    "TextPrompter",
    "TryAllFirst",
    "UCBExplore",
    "UnexecutedIntent",
    "Usage",
    "__version__",
    "parse",
    "read_events",
    "read_rationale",
    "summarize",
]

if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name is still an error for them

    def __getattr__(name: str) -> Any:
        """Import a public name from its module on first use, and keep it."""
        module = _HOME.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    """The module's names and every public name, imported or not."""
    return sorted({*globals(), *__all__})
