"""User-style production settings of issue 15 that mypy --strict must accept (not run by pytest)."""

from __future__ import annotations

from guardrail import Guard, InMemoryHistoryStore, read_events
from guardrail.exceptions import AgentCallsExhaustedError, AgentTimeoutError
from guardrail.telemetry import JsonlSink, LoggingSink, Redaction
from guardrail.telemetry.events import DEFAULT_SCRUBBERS, Scrubber
from guardrail.telemetry.logging_sink import log_value

redaction = Redaction(
    mode="truncate",
    max_chars=300,
    scrubbers=(*DEFAULT_SCRUBBERS, Scrubber("ticket", r"\bTICKET-\d{1,12}\b", triggers=("TICKET-",)), str.strip),
)
sink = JsonlSink("events.jsonl", follow_symlinks=False, check_interval=0.5)
history = InMemoryHistoryStore(max_episodes=100_000, idle_ttl=24 * 3600.0)
guard = Guard(
    ["red", "blue"],
    telemetry=[sink, LoggingSink()],
    redaction=redaction,
    history=history,
    agent_timeout=30.0,
    max_abandoned_calls=16,
)


def step_once() -> str | None:
    try:
        return guard.step(lambda prompt: "ACTION=red", "pick").action
    except (AgentTimeoutError, AgentCallsExhaustedError):
        return None


log = read_events("events.jsonl", strict=False)
bad: list[str] = log.problems
skipped: int = log.skipped_lines + log.recovered_lines + sink.reopens + sink.torn_tails + sink.escaped_events
evicted: int = history.evictions
token: str = log_value("ep\n1")
