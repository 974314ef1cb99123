"""guardrail: catch LLM agents acting against their own rationale, and correct them by policy.

The public surface is what ``__all__`` lists; everything else is an implementation detail.
"""

from guardrail.actions import ActionSpace
from guardrail.decision import Decision, Reply, Usage
from guardrail.detectors import (
    Detector,
    Finding,
    FrequencyBias,
    Greediness,
    InvalidAction,
    KnowingDoingGap,
    UnexecutedIntent,
)
from guardrail.exceptions import (
    ConfigurationError,
    GuardrailError,
    InvalidInputError,
    NoLegalActionError,
)
from guardrail.guard import AsyncGuardedAgent, Budget, Guard, GuardedAgent, StepResult, TextPrompter
from guardrail.history import HistoryStore, HistoryView, InMemoryHistoryStore
from guardrail.parsing import parse
from guardrail.policies import (
    ContextSummary,
    EpsilonGreedy,
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
from guardrail.rationale import (
    CascadeReader,
    CascadeStats,
    JudgeQuestion,
    LexicalReader,
    RationaleReader,
    RationaleReading,
    read_rationale,
)
from guardrail.state import StepState, make_step_state
from guardrail.telemetry import (
    BackgroundSink,
    JsonlSink,
    LoggingSink,
    MemorySink,
    OTelSink,
    Redaction,
    RewardEvent,
    StepEvent,
    read_events,
    summarize,
)

__version__ = "0.1.0"

__all__ = [
    "ActionSpace",
    "AsyncGuardedAgent",
    "BackgroundSink",
    "Budget",
    "CascadeReader",
    "CascadeStats",
    "ConfigurationError",
    "ContextSummary",
    "Decision",
    "Detector",
    "EpsilonGreedy",
    "Finding",
    "FrequencyBias",
    "Greediness",
    "Guard",
    "GuardedAgent",
    "GuardrailError",
    "HistoryStore",
    "HistoryView",
    "InMemoryHistoryStore",
    "InvalidAction",
    "InvalidInputError",
    "JsonlSink",
    "JudgeQuestion",
    "KnowingDoingGap",
    "LexicalReader",
    "LoggingSink",
    "MemorySink",
    "NoLegalActionError",
    "OTelSink",
    "Observe",
    "Override",
    "OverrideToRationale",
    "Policy",
    "RationaleReader",
    "RationaleReading",
    "ReAsk",
    "ReAskRequest",
    "Redaction",
    "Reply",
    "RewardEvent",
    "SampleRequest",
    "SelfConsistency",
    "Skip",
    "SkipWhenFutile",
    "StepEvent",
    "StepResult",
    "StepState",
    "TextPrompter",
    "TryAllFirst",
    "UCBExplore",
    "UnexecutedIntent",
    "Usage",
    "__version__",
    "make_step_state",
    "parse",
    "read_events",
    "read_rationale",
    "summarize",
]
