"""Policies: each answers findings with a correction, in the order given."""

from guardrail.policies.base import (
    Correction,
    Override,
    Policy,
    PolicyLike,
    PromptNote,
    ReAskRequest,
    SampleRequest,
    Shadow,
    Skip,
)
from guardrail.policies.consistency import SelfConsistency, majority_vote
from guardrail.policies.escalation import Escalation
from guardrail.policies.explore import EpsilonGreedy, TryAllFirst, UCBExplore
from guardrail.policies.observe import Observe
from guardrail.policies.override import OverrideToRationale
from guardrail.policies.reask import ReAsk, SkipWhenFutile, default_feedback
from guardrail.policies.summary import ContextSummary

__all__ = [
    "ContextSummary",
    "Correction",
    "EpsilonGreedy",
    "Escalation",
    "Observe",
    "Override",
    "OverrideToRationale",
    "Policy",
    "PolicyLike",
    "PromptNote",
    "ReAsk",
    "ReAskRequest",
    "SampleRequest",
    "SelfConsistency",
    "Shadow",
    "Skip",
    "SkipWhenFutile",
    "TryAllFirst",
    "UCBExplore",
    "default_feedback",
    "majority_vote",
]
