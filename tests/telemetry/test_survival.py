"""Telemetry that survives: torn tails, bad lines, unencodable text, deleted files, loose modes, symlinks.

Each test also checks that nothing already written is lost.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from guardrail import Guard
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail.telemetry import JsonlSink, RewardEvent, SinkWarning, StepEvent, read_events
from guardrail.testing import ScriptedAgent

from .conftest import AGREE_RED, COLOURS


def _event(index: int, **fields: object) -> StepEvent:
    values: dict[str, object] = {"run_id": "r", "episode": "e", "step": index, "timestamp": float(index), **fields}
    return StepEvent.model_validate(values)


def _write(path: Path, steps: range) -> None:
    sink = JsonlSink(path)
    for index in steps:
        sink.emit(_event(index))
    sink.close()


def _steps(path: Path, **kwargs: object) -> list[int]:
    return [e.step for e in read_events(path, **kwargs)]  # type: ignore[arg-type]


def test_a_sink_opening_a_file_with_a_torn_tail_ends_it_and_every_line_after_is_whole(tmp_path: Path) -> None:
    """A crash mid-line leaves a torn tail; the next sink ends it with a newline before appending, so the reader
    skips only the fragment (counted and named) and reads every event before and after it."""
    path = tmp_path / "events.jsonl"
    _write(path, range(2))
    with path.open("ab") as handle:
        handle.write(b'{"schema_version":1,"type":"step","run_id":"r","epis')  # the crash
    sink = JsonlSink(path)
    assert sink.torn_tails == 1
    sink.emit(_event(2))
    sink.emit(_event(3))
    sink.close()
    log = read_events(path)
    assert [e.step for e in log] == [0, 1, 2, 3]
    assert log.skipped_lines == 1
    assert log.problems == [f"{path}:3: not JSON: " + log.problems[0].split("not JSON: ", 1)[1]]


def test_a_write_cut_short_is_ended_before_the_next_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails part-way (ENOSPC after half the line) leaves a fragment; the sink ends it before its
    next line, so that line and every earlier one read back."""
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    sink.emit(_event(0))
    real_write = os.write
    calls = {"n": 0}

    def half_then_full(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError, match="No space"):
        sink.emit(_event(1))
    sink.emit(_event(2))
    monkeypatch.undo()
    sink.close()
    log = read_events(path)
    assert [e.step for e in log] == [0, 2]
    assert log.skipped_lines == 1
    assert sink.torn_tails == 1


def test_an_event_glued_behind_a_torn_fragment_is_recovered(tmp_path: Path) -> None:
    """A file written by a writer that appended straight behind a torn fragment (no newline between) still
    yields the event after the fragment; the fragment is counted."""
    path = tmp_path / "events.jsonl"
    good = [_event(i).model_dump_json(exclude_none=True).encode() for i in range(3)]
    path.write_bytes(good[0] + b"\n" + good[1][:40] + good[1] + b"\n" + good[2] + b"\n")
    log = read_events(path)
    assert [e.step for e in log] == [0, 1, 2]
    assert log.skipped_lines == 1
    assert log.recovered_lines == 1
    assert [r["step"] for r in read_events(path).records()] == [0, 1, 2]


@pytest.mark.parametrize(
    "garbage",
    [b"not json", b"\x00\x01\x02", b"[1, 2, 3]", b'"a string"', b'{"schema_version": 1, "type": "step"}'],
    ids=["text", "binary", "array", "string", "not-an-event"],
)
def test_a_garbage_line_anywhere_is_skipped_and_named_and_strict_raises(tmp_path: Path, garbage: bytes) -> None:
    """Garbage in the middle of a file costs that line only: every event around it is read, the line is counted
    and named by file and number; strict=True raises naming the line instead."""
    path = tmp_path / "events.jsonl"
    lines = [_event(i).model_dump_json(exclude_none=True).encode() for i in range(4)]
    path.write_bytes(b"\n".join([*lines[:2], garbage, *lines[2:]]) + b"\n")
    log = read_events(path)
    assert [e.step for e in log] == [0, 1, 2, 3]
    assert log.skipped_lines == 1
    assert log.problems[0].startswith(f"{path}:3: ")
    with pytest.raises(InvalidInputError, match=r"events\.jsonl:3"):
        list(read_events(path, strict=True))


def test_bytes_that_are_not_utf8_inside_a_line_are_escaped_not_lost(tmp_path: Path) -> None:
    """A line whose text holds bytes that are not UTF-8 is read with those bytes escaped; nothing is skipped."""
    path = tmp_path / "events.jsonl"
    line = _event(0, raw="caf\u00e9").model_dump_json(exclude_none=True).encode().replace("é".encode(), b"\xe9")
    path.write_bytes(line + b"\n")
    log = read_events(path)
    events = list(log)
    assert [e.raw for e in events if isinstance(e, StepEvent)] == ["caf\\xe9"]
    assert log.skipped_lines == 0


def test_lone_surrogates_are_escaped_never_dropped(tmp_path: Path) -> None:
    """An event holding a lone surrogate (in agent output, an episode id, a finding's data) is written with it
    escaped as text, counted in escaped_events; the events before and after are written as usual."""
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    sink.emit(_event(0))
    sink.emit(_event(1, raw="bad \udcff byte", episode="ep\ud800"))
    sink.emit(RewardEvent(run_id="r", episode="e", step=1, reward=1.0))
    sink.close()
    assert sink.escaped_events == 1
    events = list(read_events(path))
    assert len(events) == 3
    escaped = events[1]
    assert isinstance(escaped, StepEvent)
    assert escaped.raw == "bad \\udcff byte"
    assert escaped.episode == "ep\\ud800"


def test_agent_output_with_a_lone_surrogate_is_logged_escaped(tmp_path: Path) -> None:
    """A guarded step whose agent output holds a lone surrogate is parsed and logged (no warning, no lost event)."""
    path = tmp_path / "events.jsonl"
    output = "Red looks best \udce9, so I should choose red.\nACTION=red"
    with Guard(COLOURS, telemetry=path) as guard:
        result = guard.step(ScriptedAgent([output, AGREE_RED]), "pick")
        guard.step(ScriptedAgent([AGREE_RED]), "pick")
    assert result.action == "red"
    events = [e for e in read_events(path) if isinstance(e, StepEvent)]
    assert [e.step for e in events] == [0, 1]
    assert "\\udce9" in (events[0].raw or "")


def test_a_deleted_file_is_noticed_reopened_counted_and_warned(tmp_path: Path) -> None:
    """Deleting the file under a sink without max_bytes (checked before every line with check_interval=0): the next
    event goes to a new file at the path, the reopen is counted and warned about (after the write)."""
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path, check_interval=0)
    sink.emit(_event(0))
    path.unlink()
    with pytest.warns(SinkWarning, match="deleted or replaced"):
        sink.emit(_event(1))
    sink.emit(_event(2))
    sink.close()
    assert sink.reopens == 1
    assert _steps(path) == [1, 2]


def test_by_default_a_deletion_is_noticed_within_the_check_interval(tmp_path: Path) -> None:
    """With the default periodic check, the first write after the interval notices the deletion and reopens;
    every later event is in the new file."""
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path, check_interval=0.05)
    sink.emit(_event(0))
    path.unlink()
    time.sleep(0.1)  # let the interval pass (a wait, not a timing assertion)
    with pytest.warns(SinkWarning, match="deleted or replaced"):
        sink.emit(_event(1))
    sink.emit(_event(2))
    sink.close()
    assert sink.reopens == 1
    assert _steps(path) == [1, 2]


def test_a_renamed_file_keeps_its_lines_and_later_events_go_to_a_new_file(tmp_path: Path) -> None:
    """Renaming the file (an external logrotate): what was written stays in the renamed file, later events go to
    a new file at the path, and the reopen is counted; every event is in one of the two."""
    path = tmp_path / "events.jsonl"
    moved = tmp_path / "events.old"
    sink = JsonlSink(path, check_interval=0)
    sink.emit(_event(0))
    sink.emit(_event(1))
    path.rename(moved)
    with pytest.warns(SinkWarning):
        sink.emit(_event(2))
    sink.close()
    assert sink.reopens == 1
    assert _steps(moved) == [0, 1]
    assert _steps(path) == [2]


def test_a_deleted_file_is_reopened_with_rotation_too(tmp_path: Path) -> None:
    """With max_bytes a deleted file is also noticed and counted; another writer's rotation is not a reopen."""
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path, max_bytes=1_000_000)
    sink.emit(_event(0))
    path.unlink()
    with pytest.warns(SinkWarning):
        sink.emit(_event(1))
    sink.close()
    assert sink.reopens == 1
    assert _steps(path) == [1]


def test_an_existing_loose_file_is_tightened_to_0600_and_keeps_its_lines(tmp_path: Path) -> None:
    """A telemetry file that exists with mode 0644 is made 0600 when a sink opens it; its lines are kept."""
    path = tmp_path / "events.jsonl"
    _write(path, range(2))
    path.chmod(0o644)
    sink = JsonlSink(path)
    sink.emit(_event(2))
    sink.close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert _steps(path) == [0, 1, 2]


def test_a_file_that_cannot_be_tightened_is_warned_about(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the mode cannot be changed (the file belongs to another user), the sink warns and still writes."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"")
    path.chmod(0o644)

    def refuse(fd: int, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refuse)
    with pytest.warns(SinkWarning, match="could not be made 0600"):
        sink = JsonlSink(path)
    sink.emit(_event(0))
    sink.close()
    assert _steps(path) == [0]


def test_a_symlink_is_refused_unless_asked_for(tmp_path: Path) -> None:
    """A symlink at the telemetry path is a ConfigurationError (O_NOFOLLOW); follow_symlinks=True writes through
    it, appending to what the target holds."""
    target = tmp_path / "target.jsonl"
    _write(target, range(1))
    link = tmp_path / "events.jsonl"
    link.symlink_to(target)
    with pytest.raises(ConfigurationError, match="symlink"):
        JsonlSink(link)
    sink = JsonlSink(link, follow_symlinks=True)
    sink.emit(_event(1))
    sink.close()
    assert _steps(target) == [0, 1]
    assert json.loads(target.read_text().splitlines()[-1])["step"] == 1


def test_a_file_that_may_be_appended_to_but_not_read_still_gets_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file this process may append to but not read (opening it read-write is refused) is opened write-only:
    no torn-tail check is possible, and every event is still appended, nothing lost."""
    path = tmp_path / "events.jsonl"
    _write(path, range(1))
    real_open = os.open

    def no_reading(file: object, flags: int, mode: int = 0o777) -> int:
        if str(file) == str(path) and flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied")
        return real_open(file, flags, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_reading)
    sink = JsonlSink(path)
    sink.emit(_event(1))
    sink.close()
    monkeypatch.undo()
    assert _steps(path) == [0, 1]


def test_a_line_whose_key_fields_have_the_wrong_types_is_skipped_by_the_report_too(tmp_path: Path) -> None:
    """An event line with a list for an episode or text for a step is a bad line, named and counted: the report
    reads the good lines around it instead of failing with a traceback."""
    from guardrail.telemetry.report import summarize_many

    path = tmp_path / "events.jsonl"
    good = [_event(i).model_dump_json(exclude_none=True) for i in range(2)]
    wrong = json.dumps({"schema_version": 1, "type": "step", "run_id": 5, "episode": [1], "step": "x"})
    path.write_text("\n".join([good[0], wrong, good[1]]) + "\n", encoding="utf-8")
    log = read_events(path)
    (summary,) = summarize_many(log.records(), by=[None])
    assert log.skipped_lines == 1
    assert "'run_id' is int" in log.problems[0]
    assert summary.total.steps == 2
