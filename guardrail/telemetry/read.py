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


_MAX_PROBLEMS = 100
"""How many bad lines an :class:`EventLog` names in ``problems`` (``skipped_lines`` counts all of them)."""

_BUFFER = 1 << 20
"""Bytes read from a telemetry file at a time (the default 8 KB costs a system call per dozen events)."""

_EVENT_START = b'{"schema_version":'
"""How every line a guardrail sink writes begins: where an event glued behind a torn fragment starts."""


class EventLog:
    """The events of one or more JSONL files, streamed in order, filtered by run, episode and time.

    Iterating validates each line into a :class:`StepEvent` or :class:`RewardEvent`; :meth:`records` yields
    the plain dicts instead (no validation, several times faster: what the report uses). Iterate once.

    A bad line (a torn write, garbage, a line that is not an event) is skipped and counted in ``skipped_lines``,
    and named (``path:line: why``) in ``problems`` (the first 100); every good line around it is read. An event
    written behind a torn fragment on the same line (by a writer that did not end the torn tail) is recovered.
    Text that is not valid UTF-8 is read with the bad bytes escaped (``\\xNN``) rather than lost. With
    ``strict=True`` a bad line raises :class:`InvalidInputError` naming the file and line instead, except a
    torn *last* line (a write that may still be in progress), which is always skipped and counted.
    """

    def __init__(
        self,
        paths: Iterable[Path],
        *,
        run: str | None = None,
        episode: str | None = None,
        since: float | None = None,
        strict: bool = False,
    ) -> None:
        self.paths = list(paths)
        self.run = run
        self.episode = episode
        self.since = since
        self.strict = strict
        self.skipped_lines = 0
        self.recovered_lines = 0
        """Events read from a line that also held a torn fragment (the fragment counts in ``skipped_lines``)."""
        self.problems: list[str] = []
        self._path = Path()
        self._line = 0  # where the last event came from (path, line number), for a reader that rejects it

    def __iter__(self) -> Iterator[StepEvent | RewardEvent]:
        for data in self._dicts():
            try:
                event = EventAdapter.validate_python(data)
            except ValidationError as exc:
                self._bad(
                    self._path, self._line, f"not a guardrail event: {exc.errors()[0]['msg']}", last=False, cause=exc
                )
                continue
            if self._keep(event.run_id, event.episode, event.timestamp):
                yield event

    def records(self) -> Iterator[dict[str, Any]]:
        """The events as plain dicts (schema-version checked and upgraded, not validated), filtered."""
        if self.run is None and self.episode is None and self.since is None:
            return self._dicts()
        keep = self._keep
        return (data for data in self._dicts() if keep(data.get("run_id"), data.get("episode"), data.get("timestamp")))

    def _dicts(self) -> Iterator[dict[str, Any]]:
        """Every line that decodes to a JSON object of a supported schema version, upgraded; bad lines counted.

        Nearly every line is a current event whose key fields have the types readers need: that case costs the
        JSON decoding and one check of those types (:func:`_well_typed`); anything else takes :meth:`_checked`.
        Where the last event came from is in ``_path`` and ``_line``, for a reader that rejects it: a million
        events pass through here, and a tuple per event to carry it along would cost more than checking it.
        """
        for path in self.paths:
            self._path = path
            with path.open("rb", buffering=_BUFFER) as handle:
                for number, line in enumerate(handle, 1):
                    try:
                        data = loads(line)
                    except ValueError:
                        data = None
                    if data.__class__ is dict and data.get("schema_version") == SCHEMA_VERSION and _well_typed(data):
                        self._line = number
                        yield data
                    elif line.strip():
                        # A line with no newline can only be the file's last: a write that was torn or is under way.
                        yield from self._checked(line, path, number, torn=not line.endswith(b"\n"))

    def _checked(self, line: bytes, path: Path, number: int, *, torn: bool) -> Iterator[dict[str, Any]]:
        """The events of a line off the fast path (an old schema version, a torn fragment, a bad line)."""
        for data, why in self._decoded(line):
            if data is None:
                self._bad(path, number, why or "not an event", last=torn)
                continue
            version = data.get("schema_version", SCHEMA_VERSION)
            if version != SCHEMA_VERSION:
                if version not in SUPPORTED_SCHEMA_VERSIONS:
                    self._bad(path, number, f"unsupported schema_version {version!r}", last=False)
                    continue
                data = upgrade(data)
            problem = _shape_problem(data)
            if problem is not None:
                self._bad(path, number, problem, last=False)
                continue
            self._line = number
            yield data

    def _decoded(self, line: bytes) -> Iterator[tuple[dict[str, Any] | None, str | None]]:
        """The line's object, or (None, why) for a bad line; an event glued behind a torn fragment is recovered."""
        data, why = _decode_object(line)
        if data is not None:
            yield data, None
            return
        start = line.rfind(_EVENT_START, 1)
        if start > 0:
            tail, _ = _decode_object(line[start:])
            if tail is not None:
                self.recovered_lines += 1
                yield None, "torn fragment before an event"
                yield tail, None
                return
        yield None, why

    def _bad(self, path: Path, number: int, why: str, *, last: bool, cause: BaseException | None = None) -> None:
        message = f"{path}:{number}: {why}"
        if self.strict and not last:
            raise InvalidInputError(message) from cause
        self.skipped_lines += 1
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(message)

    def _keep(self, run: object, episode: object, timestamp: object) -> bool:
        if self.run is not None and run != self.run:
            return False
        if self.episode is not None and episode != self.episode:
            return False
        return not (self.since is not None and isinstance(timestamp, (int, float)) and timestamp < self.since)


def _decode_object(line: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """(the JSON object on the line, None), or (None, why it is not one)."""
    try:
        data = loads(line)
    except ValueError as exc:
        try:  # bytes that are not UTF-8 inside an otherwise good line: keep the line, escape the bytes
            line.decode("utf-8")
        except UnicodeDecodeError:
            try:
                data = _bytes_escaped(json.loads(line.decode("utf-8", "surrogateescape")))
            except ValueError:
                return None, f"not JSON: {exc}"
        else:
            return None, f"not JSON: {exc}"
    if not isinstance(data, dict):
        return None, f"not a guardrail event (a JSON {type(data).__name__})"
    return data, None


_SMUGGLED = re.compile("[\udc80-\udcff]")


def _bytes_escaped(value: Any) -> Any:
    """``value`` with every byte that ``surrogateescape`` smuggled into its strings written as ``\\xNN``."""
    if isinstance(value, str):
        return _SMUGGLED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", value)
    if isinstance(value, dict):
        return {_bytes_escaped(k): _bytes_escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bytes_escaped(v) for v in value]
    return value


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
    strict: bool = False,
) -> EventLog:
    """Stream the events of one JSONL file or several (directories: their ``*.jsonl`` files).

    Rotated backups written by ``JsonlSink(max_bytes=...)`` are read first, oldest first, unless
    ``rotated=False``. A bad line (torn, garbage, not an event) is skipped, counted in
    ``EventLog.skipped_lines`` and named in ``EventLog.problems``; every other line is still read.

    Args:
        run: only events of this run id.
        episode: only events of this episode.
        since: only events at or after this time (a Unix timestamp or a timezone-aware datetime).
        strict: raise :class:`InvalidInputError` (naming file and line) on a bad line that is not a torn last line.
    """
    if isinstance(since, dt.datetime):
        if since.tzinfo is None:
            raise InvalidInputError("since must be a timezone-aware datetime (or a Unix timestamp)")
        since = since.timestamp()
    return EventLog(expand_paths(paths, rotated=rotated), run=run, episode=episode, since=since, strict=strict)


# The fields readers group and order by, with the types they must have (a line of other types is a bad line).
_KEY_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("type", str),
    ("run_id", str),
    ("episode", str),
    ("agent", (str, type(None))),
    ("step", int),
    ("timestamp", (int, float)),
)


def _well_typed(data: dict[str, Any]) -> bool:
    """Whether the key fields have the types readers need (so :func:`_shape_problem` would find nothing), checked
    in one expression: a million lines pay for this check, and a line its sink wrote has exactly these types."""
    get = data.get
    agent = get("agent")
    return (
        get("type", "").__class__ is str
        and get("run_id", "").__class__ is str
        and get("episode", "").__class__ is str
        and (agent is None or agent.__class__ is str)
        and get("step", 0).__class__ is int
        and get("timestamp", 0.0).__class__ in _NUMBERS
    )


_NUMBERS = (float, int)


def _shape_problem(data: dict[str, Any]) -> str | None:
    """Why an event's key fields cannot be read (a field of the wrong type), or None."""
    for name, kinds in _KEY_FIELDS:
        if name in data and (not isinstance(data[name], kinds) or isinstance(data[name], bool)):
            return f"field {name!r} is {type(data[name]).__name__}, not {getattr(kinds, '__name__', 'a valid type')}"
    return None
