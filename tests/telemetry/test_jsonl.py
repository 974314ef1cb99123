"""JsonlSink: concurrent appends, rotation, flush policy; the reader: torn lines, rotated files, filters."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from guardrail.exceptions import ConfigurationError, InvalidInputError, TelemetryError
from guardrail.telemetry import JsonlSink, RewardEvent, StepEvent, read_events

from .conftest import AGREE_RED, GAP, run_guard

PAYLOAD = "x" * 3000  # long lines make interleaving visible if appends were not atomic


def _event(writer: str, index: int) -> StepEvent:
    return StepEvent(run_id=writer, episode="e", step=index, raw=PAYLOAD, timestamp=float(index))


def _write(path: str, writer: str, count: int, max_bytes: int | None, start: object) -> None:
    """A writer process: its own sink on the shared file."""
    start.wait()  # type: ignore[attr-defined]
    sink = JsonlSink(path, max_bytes=max_bytes, backups=10_000)
    for index in range(count):
        sink.emit(_event(writer, index))
    sink.close()


def _run_writers(path: Path, *, threads: int, processes: int, count: int, max_bytes: int | None) -> None:
    context = multiprocessing.get_context("fork")
    start = context.Event()
    procs = [
        context.Process(target=_write, args=(str(path), f"p{i}", count, max_bytes, start)) for i in range(processes)
    ]
    for proc in procs:
        proc.start()
    shared = JsonlSink(path, max_bytes=max_bytes, backups=10_000)
    barrier = threading.Barrier(threads)

    def work(writer: str) -> None:
        barrier.wait()
        for index in range(count):
            shared.emit(_event(writer, index))

    workers = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(threads)]
    start.set()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    shared.close()


def _check_complete(path: Path, writers: list[str], count: int) -> None:
    log = read_events(path)
    seen: dict[str, list[int]] = {w: [] for w in writers}
    for event in log:
        assert isinstance(event, StepEvent)
        assert event.raw == PAYLOAD
        seen[event.run_id].append(event.step)
    assert log.skipped_lines == 0
    for writer in writers:
        assert seen[writer] == list(range(count)), writer  # nothing lost, duplicated or reordered per writer


def test_eight_threads_and_four_processes_append_without_loss_or_interleaving(tmp_path: Path) -> None:
    """8 threads (one shared sink) and 4 processes (own sinks) append to one file: every line intact, none lost."""
    path = tmp_path / "events.jsonl"
    _run_writers(path, threads=8, processes=4, count=250, max_bytes=None)
    content = path.read_bytes()
    assert content.endswith(b"\n")
    lines = [line for line in content.split(b"\n") if line]  # a writer opening mid-write may add a blank line
    assert len(lines) == 12 * 250
    for line in lines:
        json.loads(line)  # an interleaved line would not parse
    _check_complete(path, [f"t{i}" for i in range(8)] + [f"p{i}" for i in range(4)], 250)


def test_rotation_under_concurrent_writers_loses_nothing(tmp_path: Path) -> None:
    """With max_bytes, threads and processes rotating the same file keep every line, in each writer's order."""
    path = tmp_path / "events.jsonl"
    _run_writers(path, threads=4, processes=3, count=150, max_bytes=64_000)
    rotated = sorted(tmp_path.glob("events.jsonl.*[0-9]"))
    assert len(rotated) > 10
    for file in [path, *rotated]:
        assert file.stat().st_size <= 64_000
    _check_complete(path, [f"t{i}" for i in range(4)] + [f"p{i}" for i in range(3)], 150)


def test_rotation_keeps_backups_oldest_first_and_drops_the_oldest(tmp_path: Path) -> None:
    """Rotation renames to .1, shifts older backups, keeps `backups` of them; the reader reads oldest first."""
    path = tmp_path / "events.jsonl"
    line_size = len(_event("w", 0).model_dump_json(exclude_none=True)) + 1
    sink = JsonlSink(path, max_bytes=line_size * 2, backups=2)
    for index in range(8):  # two lines per file: 4 files' worth, of which 3 survive
        sink.emit(_event("w", index))
    sink.close()
    assert sink.rotations == 3
    assert sorted(p.name for p in tmp_path.glob("events.jsonl*") if not p.name.endswith(".lock")) == [
        "events.jsonl",
        "events.jsonl.1",
        "events.jsonl.2",
    ]
    assert [e.step for e in read_events(path)] == [2, 3, 4, 5, 6, 7]
    assert [e.step for e in read_events(path, rotated=False)] == [6, 7]


def test_a_line_larger_than_max_bytes_is_written_whole(tmp_path: Path) -> None:
    """A single event bigger than max_bytes goes into a file of its own; it is never split or dropped."""
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path, max_bytes=100)
    for index in range(3):
        sink.emit(_event("w", index))
    sink.close()
    assert [e.step for e in read_events(path)] == [0, 1, 2]


def test_writer_reopens_after_another_process_rotated(tmp_path: Path) -> None:
    """A sink whose file was rotated by another sink writes to the new file, not the renamed one."""
    path = tmp_path / "events.jsonl"
    size = len(_event("w", 0).model_dump_json(exclude_none=True)) + 1
    first = JsonlSink(path, max_bytes=size * 3)
    second = JsonlSink(path, max_bytes=size * 3)
    first.emit(_event("a", 0))
    first.emit(_event("a", 1))
    first.emit(_event("a", 2))
    second.emit(_event("b", 0))  # rotates: events.jsonl -> events.jsonl.1
    first.emit(_event("a", 3))  # must follow into the new file
    first.close()
    second.close()
    current = [(e.run_id, e.step) for e in read_events(path, rotated=False)]
    assert current == [("b", 0), ("a", 3)]


@pytest.mark.parametrize("policy", ["never", "always", "interval"])
def test_every_fsync_policy_writes_the_same_lines(tmp_path: Path, policy: str) -> None:
    """fsync="never"|"always"|"interval" changes durability, not content."""
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path, fsync=policy, fsync_interval=0.0)  # type: ignore[arg-type]
    for index in range(5):
        sink.emit(_event("w", index))
    sink.flush()
    sink.close()
    assert [e.step for e in read_events(path)] == list(range(5))


def test_fsync_always_syncs_after_each_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync="always" calls os.fsync once per line; "never" only when asked to flush."""
    calls: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    always = JsonlSink(tmp_path / "a.jsonl", fsync="always")
    for index in range(3):
        always.emit(_event("w", index))
    assert len(calls) == 3
    never = JsonlSink(tmp_path / "n.jsonl")
    never.emit(_event("w", 0))
    never.close()
    assert len(calls) == 3
    always.close()


def test_file_is_private_and_bad_settings_fail_at_construction(tmp_path: Path) -> None:
    """The file is created 0600; a directory path, max_bytes < 1, backups < 1 or an unknown fsync policy fail."""
    sink = JsonlSink(tmp_path / "events.jsonl")
    assert (tmp_path / "events.jsonl").stat().st_mode & 0o777 == 0o600
    sink.close()
    with pytest.raises(ConfigurationError, match="directory"):
        JsonlSink(tmp_path)
    with pytest.raises(ConfigurationError, match="max_bytes"):
        JsonlSink(tmp_path / "x.jsonl", max_bytes=0)
    with pytest.raises(ConfigurationError, match="backups"):
        JsonlSink(tmp_path / "x.jsonl", max_bytes=10, backups=0)
    with pytest.raises(ConfigurationError, match="fsync"):
        JsonlSink(tmp_path / "x.jsonl", fsync="sometimes")  # type: ignore[arg-type]


def test_writing_to_a_closed_sink_is_a_telemetry_error(tmp_path: Path) -> None:
    """emit() after close() raises TelemetryError (which the Telemetry fan-out turns into a warning)."""
    sink = JsonlSink(tmp_path / "events.jsonl")
    sink.close()
    with pytest.raises(TelemetryError, match="closed"):
        sink.emit(_event("w", 0))


# -- reading ---------------------------------------------------------------------------------------------------


def test_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    """An interrupted final write is skipped by both readers and counted in skipped_lines."""
    path = tmp_path / "events.jsonl"
    run_guard([GAP, AGREE_RED], sinks=[JsonlSink(path)])
    with path.open("ab") as handle:
        handle.write(b'{"schema_version":1,"type":"step","run_id":"r","epis')
    log = read_events(path)
    assert len(list(log)) == 2
    assert log.skipped_lines == 1
    records = read_events(path)
    assert len(list(records.records())) == 2
    assert records.skipped_lines == 1


def test_malformed_line_in_the_middle_is_skipped_counted_and_named_or_raised_with_strict(tmp_path: Path) -> None:
    """A bad line that is not the last one is skipped, counted and named; strict=True raises naming file and line."""
    path = tmp_path / "events.jsonl"
    run_guard([GAP], sinks=[JsonlSink(path)])
    content = path.read_bytes()
    path.write_bytes(b"not json\n" + content)
    log = read_events(path)
    assert len(list(log)) == 1
    assert log.skipped_lines == 1
    assert log.problems[0].startswith(f"{path}:1: not JSON")
    records = read_events(path)
    assert len(list(records.records())) == 1
    assert records.skipped_lines == 1
    with pytest.raises(InvalidInputError, match=r"events.jsonl:1"):
        list(read_events(path, strict=True))
    with pytest.raises(InvalidInputError, match=r"events.jsonl:1"):
        list(read_events(path, strict=True).records())


def test_filters_by_run_episode_and_time(tmp_path: Path) -> None:
    """run=, episode= and since= keep only the matching events, in both readers."""
    path = tmp_path / "events.jsonl"
    sink = JsonlSink(path)
    for run in ("a", "b"):
        for episode in ("e1", "e2"):
            for step in range(3):
                sink.emit(StepEvent(run_id=run, episode=episode, step=step, timestamp=100.0 + step))
                sink.emit(RewardEvent(run_id=run, episode=episode, step=step, reward=1.0, timestamp=100.5 + step))
    sink.close()
    picked = list(read_events(path, run="b", episode="e1", since=101.0))
    assert [(e.type, e.run_id, e.episode, e.step) for e in picked] == [
        ("step", "b", "e1", 1),
        ("reward", "b", "e1", 1),
        ("step", "b", "e1", 2),
        ("reward", "b", "e1", 2),
    ]
    assert len(list(read_events(path, run="b", episode="e1", since=101.0).records())) == 4
    assert len(list(read_events(path, run="zzz"))) == 0


def test_reads_many_files_and_directories_in_order(tmp_path: Path) -> None:
    """Several paths are read in the order given; a directory stands for its *.jsonl files, sorted."""
    for name, run in (("a.jsonl", "first"), ("b.jsonl", "second")):
        sink = JsonlSink(tmp_path / name)
        sink.emit(StepEvent(run_id=run, episode="e", step=0))
        sink.close()
    assert [e.run_id for e in read_events([tmp_path / "b.jsonl", tmp_path / "a.jsonl"])] == ["second", "first"]
    assert [e.run_id for e in read_events(tmp_path)] == ["first", "second"]
    assert [e.run_id for e in read_events([tmp_path, tmp_path / "a.jsonl"])] == ["first", "second"]
    with pytest.raises(InvalidInputError, match="no telemetry file"):
        read_events(tmp_path / "missing.jsonl")
