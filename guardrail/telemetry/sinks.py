"""Where events go. A sink is anything with ``emit(event)``; sink failures never break the agent."""

from __future__ import annotations

import os
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from guardrail.exceptions import ConfigurationError, TelemetryError
from guardrail.telemetry.events import RewardEvent, StepEvent

__all__ = ["JsonlSink", "MemorySink", "Sink", "SinkWarning", "Telemetry", "as_sinks"]

AnyEvent = StepEvent | RewardEvent


class SinkWarning(RuntimeWarning):
    """A telemetry sink failed; the step went on."""


@runtime_checkable
class Sink(Protocol):
    """Receives events. ``close()`` is optional."""

    def emit(self, event: AnyEvent) -> None:
        """Record one event."""
        ...


class MemorySink:
    """Keeps events in a list (``.events``); for tests and notebooks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[AnyEvent] = []

    def emit(self, event: AnyEvent) -> None:
        """Append the event."""
        with self._lock:
            self.events.append(event)

    @property
    def steps(self) -> list[StepEvent]:
        """The step events only."""
        return [e for e in self.events if isinstance(e, StepEvent)]

    def close(self) -> None:
        """Nothing to release."""


class JsonlSink:
    """Appends one JSON line per event to a file, created with mode 0600.

    Each event is one ``write`` on a file opened with ``O_APPEND``, so lines from several threads or
    processes do not interleave.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise ConfigurationError(f"telemetry path {self.path} is a directory; give a file name")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._lock = threading.Lock()

    def emit(self, event: AnyEvent) -> None:
        """Write the event as one line."""
        line = event.model_dump_json(exclude_none=True).encode("utf-8") + b"\n"
        with self._lock:
            if self._fd is None:
                raise TelemetryError(f"JsonlSink({self.path}) is closed")
            os.write(self._fd, line)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"


def as_sinks(telemetry: str | os.PathLike[str] | Sink | Iterable[Sink] | None) -> list[Sink]:
    """Normalise ``Guard(telemetry=...)``: a path becomes a JsonlSink; None means no telemetry."""
    if telemetry is None:
        return []
    if isinstance(telemetry, (str, os.PathLike)):
        return [JsonlSink(telemetry)]
    if isinstance(telemetry, Sink):
        return [telemetry]
    sinks = list(telemetry)
    for sink in sinks:
        if not isinstance(sink, Sink):
            raise ConfigurationError(f"telemetry sinks need an emit(event) method; got {sink!r}")
    return sinks


class Telemetry:
    """Fans one event out to several sinks; a failing sink is warned about and counted, not raised.

    With ``raise_error=True`` a failure is raised as :class:`TelemetryError` after every sink had its turn.
    """

    def __init__(self, sinks: Sequence[Sink], *, raise_error: bool = False) -> None:
        self.sinks = list(sinks)
        self.raise_error = raise_error
        self.failures: Counter[str] = Counter()
        self._lock = threading.Lock()

    def emit(self, event: AnyEvent) -> None:
        """Send the event to every sink."""
        errors: list[BaseException] = []
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception as exc:  # observers never break the agent
                with self._lock:
                    self.failures[repr(sink)] += 1
                errors.append(exc)
                warnings.warn(f"telemetry sink {sink!r} failed: {exc!r}", SinkWarning, stacklevel=3)
        if errors and self.raise_error:
            raise TelemetryError(f"{len(errors)} telemetry sink(s) failed: {errors[0]!r}") from errors[0]

    def close(self) -> None:
        """Close every sink that can be closed."""
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if callable(close):
                close()
