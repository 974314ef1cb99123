"""The event schema: versioned, exported as JSON Schema, and v1 files keep reading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from guardrail.exceptions import InvalidInputError
from guardrail.telemetry import SCHEMA_VERSION, RewardEvent, StepEvent, json_schema, read_events
from guardrail.telemetry.events import SUPPORTED_SCHEMA_VERSIONS, schema_text, upgrade

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "data" / "events-v1.jsonl"


def test_committed_json_schema_is_current() -> None:
    """docs/telemetry-schema.json equals what scripts/export_schema.py writes now (regenerate it if this fails)."""
    committed = (ROOT / "docs" / "telemetry-schema.json").read_text(encoding="utf-8")
    assert committed == schema_text()


def test_export_script_check_mode_passes() -> None:
    """`scripts/export_schema.py --check` exits 0 while the committed file is current."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "export_schema.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_json_schema_describes_both_event_types() -> None:
    """The schema is a tagged union of the step and reward events, naming the required fields."""
    schema = json_schema()
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["$defs"]) >= {"StepEvent", "RewardEvent", "FindingRecord", "CorrectionRecord"}
    assert schema["$defs"]["StepEvent"]["required"] == ["run_id", "episode", "step"]
    assert str(SCHEMA_VERSION) in schema["title"]


def test_v1_fixture_reads_back_with_every_field() -> None:
    """A v1 file written by an earlier build (no `policies` field) still reads, with defaults filled in."""
    events = list(read_events(FIXTURE))
    steps = [e for e in events if isinstance(e, StepEvent)]
    rewards = [e for e in events if isinstance(e, RewardEvent)]
    assert [e.schema_version for e in events] == [1] * 7
    assert [s.status for s in steps] == ["ok", "ok", "ok", "agent_error"]
    first = steps[0]
    assert (first.parsed_action, first.rationale_action, first.final_action) == ("blue", "red", "red")
    assert first.findings[0].kind == "knowing_doing_gap"
    assert first.corrections[0].policy == "ReAsk"
    assert first.agrees is True
    assert first.policies == ()
    assert steps[1].corrections[1].kind == "fallback"
    assert steps[3].error == "RuntimeError: model server unavailable"
    assert [r.reward for r in rewards] == [1.0, 0.5, 0.25]


def test_v1_fixture_records_match_validated_events() -> None:
    """The fast dict reader and the validating reader agree on the v1 fixture."""
    records = list(read_events(FIXTURE).records())
    events = list(read_events(FIXTURE))
    assert [r["event_id"] for r in records] == [e.event_id for e in events]


def test_unknown_fields_from_a_newer_writer_are_ignored(tmp_path: Path) -> None:
    """A v1 line with a field this build does not know (added later, with a default) still reads."""
    line = json.loads(FIXTURE.read_text().splitlines()[0])
    line["a_field_from_the_future"] = {"x": 1}
    path = tmp_path / "newer.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (event,) = list(read_events(path))
    assert isinstance(event, StepEvent)


def test_unsupported_schema_version_is_skipped_and_named_or_an_error_with_strict(tmp_path: Path) -> None:
    """A line of a schema version this build cannot read is skipped and named with its file and line number;
    with strict=True it is an error saying so."""
    line = json.loads(FIXTURE.read_text().splitlines()[1])
    line["schema_version"] = 99
    path = tmp_path / "future.jsonl"
    path.write_text(json.dumps(line) + "\n")
    assert 99 not in SUPPORTED_SCHEMA_VERSIONS
    log = read_events(path)
    assert list(log) == []
    assert log.problems == [f"{path}:1: unsupported schema_version 99"]
    with pytest.raises(InvalidInputError, match=r"future.jsonl:1: unsupported schema_version 99"):
        list(read_events(path, strict=True))
    with pytest.raises(InvalidInputError, match="unsupported schema_version 99"):
        list(read_events(path, strict=True).records())


def test_upgrade_leaves_current_events_unchanged() -> None:
    """upgrade() is the identity on events of the current version (no upgrades registered for v1)."""
    data = {"schema_version": 1, "type": "reward", "run_id": "r", "episode": "e", "step": 0, "reward": 1.0}
    assert upgrade(dict(data)) == data
