"""Reading telemetry back: validated events (:func:`read_events`) or plain dicts for fast summaries."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from guardrail.exceptions import InvalidInputError
from guardrail.telemetry.events import (
    SCHEMA_VERSION,
    SUPPORTED_SCHEMA_VERSIONS,
    EventAdapter,
    RewardEvent,
    StepEvent,
    upgrade,
)

__all__ = ["EventLog", "expand_paths", "loads", "read_events"]

PathLike = str | os.PathLike[str]

loads: Callable[[bytes], Any]
"""The fastest JSON decoder available: ``orjson.loads`` when installed, else ``json.loads``."""
try:  # pragma: no cover - depends on the environment
    import orjson

    loads = orjson.loads
except ImportError:  # pragma: no cover
    loads = json.loads


class EventLog:
    """The events of one or more JSONL files, streamed in order, filtered by run, episode and time.

    Iterating validates each line into a :class:`StepEvent` or :class:`RewardEvent`; :meth:`records` yields
    the plain dicts instead (no validation, several times faster: what the report uses). Iterate once;
    afterwards ``skipped_lines`` counts torn last lines (an interrupted write) that were skipped. A malformed
    line that is *not* the last one of its file is an error naming the file and line.
    """

    def __init__(
        self,
        paths: Iterable[Path],
        *,
        run: str | None = None,
        episode: str | None = None,
        since: float | None = None,
    ) -> None:
        self.paths = list(paths)
        self.run = run
        self.episode = episode
        self.since = since
        self.skipped_lines = 0

    def __iter__(self) -> Iterator[StepEvent | RewardEvent]:
        for path in self.paths:
            for line, number, last in _lines(path):
                event = self._decode(line, path, number, last=last)
                if event is not None and self._keep(event.run_id, event.episode, event.timestamp):
                    yield event

    def records(self) -> Iterator[dict[str, Any]]:
        """The events as plain dicts (schema-version checked and upgraded, not validated), filtered."""
        run, episode, since = self.run, self.episode, self.since
        filtered = run is not None or episode is not None or since is not None
        for path in self.paths:
            for line, number, last in _lines(path):
                try:
                    data = loads(line)
                except ValueError as exc:
                    if last and not line.endswith(b"\n"):
                        self.skipped_lines += 1
                        continue
                    raise InvalidInputError(f"{path}:{number}: not JSON: {exc}") from exc
                if not isinstance(data, dict):
                    raise InvalidInputError(f"{path}:{number}: not a guardrail event (a JSON {type(data).__name__})")
                version = data.get("schema_version", SCHEMA_VERSION)
                if version != SCHEMA_VERSION:
                    data = self._upgraded(data, version, path, number)
                if filtered and not self._keep(data.get("run_id"), data.get("episode"), data.get("timestamp")):
                    continue
                yield data

    @staticmethod
    def _upgraded(data: dict[str, Any], version: object, path: Path, number: int) -> dict[str, Any]:
        if version not in SUPPORTED_SCHEMA_VERSIONS:
            raise InvalidInputError(f"{path}:{number}: unsupported schema_version {version}")
        return upgrade(data)

    def _keep(self, run: object, episode: object, timestamp: object) -> bool:
        if self.run is not None and run != self.run:
            return False
        if self.episode is not None and episode != self.episode:
            return False
        return not (self.since is not None and isinstance(timestamp, (int, float)) and timestamp < self.since)

    def _decode(self, line: bytes, path: Path, number: int, *, last: bool) -> StepEvent | RewardEvent | None:
        try:
            data = loads(line)
            if isinstance(data, dict):
                version = data.get("schema_version", SCHEMA_VERSION)
                if version not in SUPPORTED_SCHEMA_VERSIONS:
                    raise InvalidInputError(f"{path}:{number}: unsupported schema_version {version}")
                data = upgrade(data)
            return EventAdapter.validate_python(data)
        except (ValueError, ValidationError) as exc:
            if last and not line.endswith(b"\n"):
                self.skipped_lines += 1
                return None
            message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise InvalidInputError(f"{path}:{number}: not a guardrail event: {message}") from exc


def _lines(path: Path) -> Iterator[tuple[bytes, int, bool]]:
    """(line, 1-based number, is-last-line) for every non-blank line of the file."""
    with path.open("rb") as handle:
        previous: bytes | None = None
        number = 0
        for line in handle:
            if previous is not None and previous.strip():
                yield previous, number, False
            previous = line
            number += 1
        if previous is not None and previous.strip():
            yield previous, number, True


_ROTATED = re.compile(r"\.(\d+)$")


def expand_paths(paths: PathLike | Iterable[PathLike], *, rotated: bool = True) -> list[Path]:
    """The files to read, in order: each path's rotated backups oldest first (``PATH.3``, ``PATH.2``,
    ``PATH.1``), then the path itself. A directory stands for its ``*.jsonl`` files. Duplicates are dropped.

    Raises:
        InvalidInputError: a path is neither a file nor a directory.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    result: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            result.append(path)

    for item in items:
        path = Path(item)
        if path.is_dir():
            files = sorted(path.glob("*.jsonl"))
        elif path.is_file():
            files = [path]
        else:
            raise InvalidInputError(f"no telemetry file at {path}")
        for file in files:
            if rotated and not _ROTATED.search(file.name):
                backups = []
                for sibling in file.parent.glob(file.name + ".*"):
                    match = _ROTATED.search(sibling.name)
                    if match and sibling.name == f"{file.name}.{match.group(1)}" and sibling.is_file():
                        backups.append((int(match.group(1)), sibling))
                for _, sibling in sorted(backups, reverse=True):
                    add(sibling)
            add(file)
    return result


def read_events(
    paths: PathLike | Iterable[PathLike],
    *,
    run: str | None = None,
    episode: str | None = None,
    since: float | dt.datetime | None = None,
    rotated: bool = True,
) -> EventLog:
    """Stream the events of one JSONL file or several (directories: their ``*.jsonl`` files).

    Rotated backups written by ``JsonlSink(max_bytes=...)`` are read first, oldest first, unless
    ``rotated=False``. A torn last line (an interrupted write) is skipped and counted in
    ``EventLog.skipped_lines``.

    Args:
        run: only events of this run id.
        episode: only events of this episode.
        since: only events at or after this time (a Unix timestamp or a timezone-aware datetime).
    """
    if isinstance(since, dt.datetime):
        if since.tzinfo is None:
            raise InvalidInputError("since must be a timezone-aware datetime (or a Unix timestamp)")
        since = since.timestamp()
    return EventLog(expand_paths(paths, rotated=rotated), run=run, episode=episode, since=since)
