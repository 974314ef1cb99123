"""Sinks side by side: a failing sink is counted and warned about; LoggingSink; redaction of logged text."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from guardrail import Guard, MemorySink, OverrideToRationale
from guardrail.exceptions import ConfigurationError, TelemetryError
from guardrail.telemetry import JsonlSink, LoggingSink, Redaction, RewardEvent, SinkWarning, StepEvent, read_events
from guardrail.telemetry.events import FindingRecord
from guardrail.testing import ScriptedAgent

from .conftest import AGREE_RED, COLOURS, GAP, run_guard


class Boom:
    """A sink that always fails."""

    def emit(self, event: object) -> None:
        raise OSError("disk full")

    def __repr__(self) -> str:
        return "Boom()"


def test_failing_sink_neither_stops_the_step_nor_starves_other_sinks(tmp_path: Path) -> None:
    """A raising sink is warned about (SinkWarning) and counted; the step returns and the other sinks get it all."""
    memory = MemorySink()
    path = tmp_path / "events.jsonl"
    guard = Guard(COLOURS, policies=[OverrideToRationale()], telemetry=[Boom(), memory, JsonlSink(path)], seed=0)
    with pytest.warns(SinkWarning, match="disk full"):
        result = guard.step(ScriptedAgent([GAP]), "pick")
    with pytest.warns(SinkWarning):
        guard.record_reward("default", 1.0)
    guard.close()
    assert result.action == "red"
    assert [type(e) for e in memory.events] == [StepEvent, RewardEvent]
    assert len(list(read_events(path))) == 2
    assert guard.telemetry.failures["Boom()"] == 2


def test_raise_on_sink_error_raises_after_every_sink_had_its_turn() -> None:
    """With raise_on_sink_error=True the failure surfaces as TelemetryError, but later sinks still got the event."""
    memory = MemorySink()
    guard = Guard(COLOURS, telemetry=[Boom(), memory], raise_on_sink_error=True, seed=0)
    with pytest.warns(SinkWarning), pytest.raises(TelemetryError, match="disk full"):
        guard.step(ScriptedAgent([AGREE_RED]), "pick")
    assert len(memory.steps) == 1


def test_logging_sink_puts_the_event_in_structured_extras(caplog: pytest.LogCaptureFixture) -> None:
    """LoggingSink logs one record per event; record.guardrail holds the event fields; findings log at WARNING."""
    caplog.set_level(logging.DEBUG, logger="guardrail.telemetry")
    run_guard([GAP, AGREE_RED], sinks=[LoggingSink()], rewards=[1.0])
    records = [r for r in caplog.records if r.name == "guardrail.telemetry"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.INFO, logging.INFO]
    first = records[0]
    assert first.guardrail_type == "step"  # type: ignore[attr-defined]
    assert first.guardrail["final_action"] == "blue"  # type: ignore[attr-defined]
    assert first.guardrail["findings"][0]["kind"] == "knowing_doing_gap"  # type: ignore[attr-defined]
    assert "findings=knowing_doing_gap" in first.getMessage()
    assert records[1].guardrail["reward"] == 1.0  # type: ignore[attr-defined]


def test_logging_sink_logger_and_levels_are_configurable(caplog: pytest.LogCaptureFixture) -> None:
    """The logger name and both levels can be set; records below the logger's level are not built."""
    caplog.set_level(logging.INFO, logger="myapp.guard")
    sink = LoggingSink("myapp.guard", level="DEBUG", finding_level=None)
    run_guard([GAP], sinks=[sink])
    assert not [r for r in caplog.records if r.name == "myapp.guard"]
    caplog.set_level(logging.DEBUG, logger="myapp.guard")
    run_guard([GAP], sinks=[sink])
    assert [r.levelno for r in caplog.records if r.name == "myapp.guard"] == [logging.DEBUG]
    with pytest.raises(ConfigurationError, match="level"):
        LoggingSink(level="LOUD")


# -- redaction -------------------------------------------------------------------------------------------------

LONG = "Red looks best, so I should choose red. " * 40 + "\nACTION=blue"


def test_default_redaction_truncates_raw_and_rationale_to_500_characters() -> None:
    """By default raw output and rationale are cut to 500 characters, with a marker saying how much was cut."""
    (event, *_) = run_guard([LONG])
    assert isinstance(event, StepEvent)
    assert event.raw is not None
    assert event.rationale is not None
    assert event.raw.startswith(LONG[:500])
    assert event.raw.endswith(f"…[+{len(LONG) - 500} chars]")
    assert len(event.rationale) < 520


@pytest.mark.parametrize(
    ("redaction", "expected_raw"),
    [
        (Redaction(mode="full"), LONG),
        (Redaction(mode="none"), None),
        (Redaction(mode="truncate", max_chars=10), LONG[:10] + f"…[+{len(LONG) - 10} chars]"),
    ],
)
def test_redaction_modes_apply_to_raw_and_rationale(redaction: Redaction, expected_raw: str | None) -> None:
    """full keeps, none drops, truncate cuts: for the raw output and the rationale alike."""
    (event, *_) = run_guard([LONG], redaction=redaction)
    assert isinstance(event, StepEvent)
    assert event.raw == expected_raw
    assert (event.rationale is None) == (expected_raw is None)


def test_sha256_redaction_keeps_equal_texts_matchable() -> None:
    """sha256 logs a digest: equal texts give equal digests, and the text itself is not in the event."""
    events = run_guard([LONG, LONG], redaction=Redaction(mode="sha256"))
    first, second = (e for e in events if isinstance(e, StepEvent))
    assert first.raw == second.raw
    assert first.raw is not None
    assert first.raw.startswith("sha256:")
    assert len(first.raw) == 7 + 64
    assert "Red looks best" not in first.model_dump_json()  # rationale hashed too


def test_redaction_of_finding_data_hides_quoted_text() -> None:
    """Redaction.finding hashes or drops text values in a finding's data (e.g. quoted rationale), keeps numbers."""
    record = FindingRecord(kind="k", score=1.0, detail="d", data={"evidence": "I should choose red", "n": 3})
    assert Redaction(mode="none").finding(record).data == {"n": 3}
    assert Redaction(mode="sha256").finding(record).data["evidence"].startswith("sha256:")
    assert Redaction(mode="full").finding(record) is record


def test_redaction_settings_are_validated() -> None:
    """An unknown mode or a negative max_chars is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="mode"):
        Redaction(mode="blur")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_chars"):
        Redaction(max_chars=-1)
