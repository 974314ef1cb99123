"""Reading telemetry back."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from guardrail.exceptions import InvalidInputError
from guardrail.telemetry.events import SUPPORTED_SCHEMA_VERSIONS, EventAdapter, RewardEvent, StepEvent

__all__ = ["EventLog", "read_events"]

PathLike = str | os.PathLike[str]


class EventLog:
    """The events of one or more JSONL files, streamed in file order.

    Iterate it once; afterwards ``skipped_lines`` counts torn last lines that were skipped.
    A malformed line that is *not* the last one of its file is an error naming the file and line.
    """

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = list(paths)
        self.skipped_lines = 0

    def __iter__(self) -> Iterator[StepEvent | RewardEvent]:
        for path in self.paths:
            yield from self._read(path)

    def _read(self, path: Path) -> Iterator[StepEvent | RewardEvent]:
        with path.open("rb") as handle:
            previous: bytes | None = None
            number = 0
            for line in handle:
                if previous is not None:
                    yield self._decode(previous, path, number, last=False)
                previous = line
                number += 1
            if previous is not None and previous.strip():
                try:
                    yield self._decode(previous, path, number, last=True)
                except _TornLine:
                    self.skipped_lines += 1

    @staticmethod
    def _decode(line: bytes, path: Path, number: int, *, last: bool) -> StepEvent | RewardEvent:
        try:
            event = EventAdapter.validate_json(line)
        except ValidationError as exc:
            if last and not line.endswith(b"\n"):
                raise _TornLine from exc
            raise InvalidInputError(f"{path}:{number}: not a guardrail event: {exc.errors()[0]['msg']}") from exc
        if event.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
            raise InvalidInputError(f"{path}:{number}: unsupported schema_version {event.schema_version}")
        return event


class _TornLine(Exception):
    pass


def read_events(paths: PathLike | Iterable[PathLike]) -> EventLog:
    """Stream the events of one JSONL file or several; a torn last line (an interrupted write) is skipped."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    resolved = [Path(p) for p in items]
    for path in resolved:
        if not path.is_file():
            raise InvalidInputError(f"no telemetry file at {path}")
    return EventLog(resolved)
