"""Telemetry: the event schema, sinks, reading events back, and summaries.

``OTelSink`` imports OpenTelemetry only when built (extra ``otel``); ``plot`` imports matplotlib only when
called (extra ``plot``).
"""

from guardrail.telemetry.background import BackgroundSink
from guardrail.telemetry.events import (
    SCHEMA_VERSION,
    CorrectionRecord,
    Event,
    FindingRecord,
    Redaction,
    RewardEvent,
    StepEvent,
    json_schema,
)
from guardrail.telemetry.logging_sink import LoggingSink
from guardrail.telemetry.otel import OTelSink
from guardrail.telemetry.read import EventLog, read_events
from guardrail.telemetry.report import Figures, PolicyFigures, Summary, render, summarize, summarize_files
from guardrail.telemetry.sinks import JsonlSink, MemorySink, Sink, SinkWarning, Telemetry

__all__ = [
    "SCHEMA_VERSION",
    "BackgroundSink",
    "CorrectionRecord",
    "Event",
    "EventLog",
    "Figures",
    "FindingRecord",
    "JsonlSink",
    "LoggingSink",
    "MemorySink",
    "OTelSink",
    "PolicyFigures",
    "Redaction",
    "RewardEvent",
    "Sink",
    "SinkWarning",
    "StepEvent",
    "Summary",
    "Telemetry",
    "json_schema",
    "read_events",
    "render",
    "summarize",
    "summarize_files",
]
