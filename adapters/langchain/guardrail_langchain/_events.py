"""Findings and steps as LangChain custom events, so they show up in whatever tracer the user runs.

Each guarded step dispatches one ``guardrail_finding`` event per finding, then one ``guardrail_step`` event.
Callback handlers receive them in ``on_custom_event(name, data, run_id=...)``; ``astream_events`` yields them as
``on_custom_event``. Dispatching never breaks the step: a failure becomes a :class:`~guardrail.telemetry.SinkWarning`.
"""

from __future__ import annotations

import warnings
from typing import Any, Final

from langchain_core.callbacks import adispatch_custom_event, dispatch_custom_event
from langchain_core.runnables import RunnableConfig

from guardrail import StepResult
from guardrail.exceptions import NoLegalActionError
from guardrail.telemetry import SinkWarning
from guardrail_langchain._messages import summary_of

__all__ = [
    "FINDING_EVENT",
    "PASS_EVENT",
    "STEP_EVENT",
    "adispatch_custom",
    "adispatch_step",
    "dispatch_custom",
    "dispatch_step",
    "step_events",
]

FINDING_EVENT: Final = "guardrail_finding"
"""Custom event name: one finding (``kind``, ``score``, ``detail``, ``actions``, ``attempt``, ``episode``, ``step``)."""
STEP_EVENT: Final = "guardrail_step"
PASS_EVENT: Final = "guardrail_pass_through"
"""A model call of an agent that passed with no guarded step (``unguarded_calls``, ``since_step``)."""
"""Custom event name: one guarded step (``action``, ``intervened``, ``findings``, ``corrections``, ...)."""


def step_events(outcome: StepResult | NoLegalActionError) -> list[tuple[str, dict[str, Any]]]:
    """The custom events of one step's outcome (a result, or the error a step without a legal action raised)."""
    if isinstance(outcome, StepResult):
        episode, step = outcome.episode, outcome.step
        findings = [record.model_dump(mode="json") for record in outcome.event.findings]
        summary: dict[str, Any] = {
            **summary_of(outcome),
            "status": "ok",
            "rationale_action": outcome.rationale_action,
            "first_action": outcome.first_decision.action,
            "corrections": [record.model_dump(mode="json") for record in outcome.corrections],
        }
    else:
        episode, step = outcome.episode, outcome.step
        findings = [finding.model_dump(mode="json") for finding in outcome.findings]
        summary = {
            "action": None,
            "episode": episode,
            "step": step,
            "status": "no_legal_action",
            "agent_calls": outcome.attempts,
            "findings": [finding["kind"] for finding in findings],
        }
    events: list[tuple[str, dict[str, Any]]] = [
        (FINDING_EVENT, {**finding, "episode": episode, "step": step}) for finding in findings
    ]
    events.append((STEP_EVENT, summary))
    return events


def _warn(error: Exception) -> None:
    warnings.warn(
        f"guardrail could not dispatch a LangChain custom event: {type(error).__name__}: {error}",
        SinkWarning,
        stacklevel=3,
    )


def dispatch_step(outcome: StepResult | NoLegalActionError, config: RunnableConfig | None) -> None:
    """Dispatch the step's custom events to the callbacks of ``config`` (or of the current run)."""
    for name, data in step_events(outcome):
        try:
            dispatch_custom_event(name, data, config=config)
        except Exception as error:  # observers never break the agent
            _warn(error)
            return


async def adispatch_step(outcome: StepResult | NoLegalActionError, config: RunnableConfig | None) -> None:
    """Async twin of :func:`dispatch_step`."""
    for name, data in step_events(outcome):
        try:
            await adispatch_custom_event(name, data, config=config)
        except Exception as error:  # observers never break the agent
            _warn(error)
            return


def dispatch_custom(name: str, data: dict[str, Any], config: RunnableConfig | None) -> None:
    """Dispatch one custom event; a failure becomes a warning, never an error."""
    try:
        dispatch_custom_event(name, data, config=config)
    except Exception as error:  # observers never break the agent
        _warn(error)


async def adispatch_custom(name: str, data: dict[str, Any], config: RunnableConfig | None) -> None:
    """Async twin of :func:`dispatch_custom`."""
    try:
        await adispatch_custom_event(name, data, config=config)
    except Exception as error:  # observers never break the agent
        _warn(error)
