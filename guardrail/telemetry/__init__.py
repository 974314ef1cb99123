"""Telemetry: the event schema, sinks, and reading events back."""

from guardrail.telemetry.events import (
    SCHEMA_VERSION,
    CorrectionRecord,
    Event,
    FindingRecord,
    Redaction,
    RewardEvent,
    StepEvent,
)
from guardrail.telemetry.read import EventLog, read_events
from guardrail.telemetry.sinks import JsonlSink, MemorySink, Sink, SinkWarning, Telemetry

__all__ = [
    "SCHEMA_VERSION",
    "CorrectionRecord",
    "Event",
    "EventLog",
    "FindingRecord",
    "JsonlSink",
    "MemorySink",
    "Redaction",
    "RewardEvent",
    "Sink",
    "SinkWarning",
    "StepEvent",
    "Telemetry",
    "read_events",
]
