"""Where events go. A sink is anything with ``emit(event)``; sink failures never break the agent."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Final, Literal, Protocol, runtime_checkable

from guardrail._checks import require_int
from guardrail.exceptions import ConfigurationError, TelemetryError
from guardrail.telemetry.events import RewardEvent, StepEvent

__all__ = [
    "FsyncPolicy",
    "JsonlSink",
    "MemorySink",
    "Sink",
    "SinkWarning",
    "Telemetry",
    "as_sinks",
    "escape_surrogates",
    "escaped_json",
]

fcntl: ModuleType | None
if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover
    fcntl = None

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


FsyncPolicy = Literal["never", "always", "interval"]


class JsonlSink:
    """Appends one JSON line per event to a file (mode 0600), safe across threads and processes.

    Every line is a single ``write`` on a descriptor opened with ``O_APPEND``, so lines written by several
    threads, or by several processes sharing the file, never interleave.

    What survives (docs/production.md, "Telemetry that survives"):

    - a **torn tail** (a crash or a full disk cut the last write short) is ended with a newline before this sink
      appends, so the fragment stays a bad line of its own that readers skip and count, and every line after
      it is whole (``torn_tails`` counts them);
    - text that cannot be encoded (a lone surrogate in agent output or an id) is **escaped**, never dropped:
      such a code point is written as the six characters ``\\udXXX`` (``escaped_events`` counts those events);
    - a file **deleted or renamed** under the sink is noticed on the first write ``check_interval`` seconds
      (default 1) after the previous check, which goes to a new file at ``path`` (``reopens`` counts them; a
      :class:`SinkWarning` says so after the line was written). Lines written in between go to the renamed file
      (kept) or the deleted one (lost with it); ``check_interval=0`` checks before every line;
    - an existing file readable by others is **tightened to 0600** (a :class:`SinkWarning` when that fails);
    - a **symlink** at ``path`` is refused (``O_NOFOLLOW``) unless ``follow_symlinks=True``.

    Args:
        path: the file; its directory is created.
        max_bytes: rotate before a write would take the file past this size (None: never rotate). The file is
            renamed to ``PATH.1`` (older backups shift to ``.2`` ... ``.{backups}``; the oldest beyond that is
            deleted) and a new file is started. Rotation happens under an exclusive ``fcntl.flock`` on
            ``PATH.lock``, and every writer re-opens the file when its inode changed, so no line is lost or
            written to a renamed file, across processes too. Read them back in order with
            :func:`guardrail.telemetry.read_events`.
        backups: how many rotated files to keep (>= 1).
        fsync: ``"never"`` (the OS flushes; a crash of the machine may lose the last lines), ``"always"``
            (``fsync`` after every line: durable, slow), ``"interval"`` (``fsync`` on a write at least
            ``fsync_interval`` seconds after the previous one, and on close).
        fsync_interval: seconds between fsyncs for ``fsync="interval"``.
        follow_symlinks: write through a symlink at ``path`` (default: refuse it, a ConfigurationError).
        check_interval: without ``max_bytes``, seconds between checks that ``path`` is still this sink's file
            (0: before every line, at the cost of two syscalls per line).

    Raises:
        ConfigurationError: a bad argument, a directory at ``path``, a symlink without ``follow_symlinks``, or a
            path that cannot be created or written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        backups: int = 5,
        fsync: FsyncPolicy = "never",
        fsync_interval: float = 1.0,
        follow_symlinks: bool = False,
        check_interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise ConfigurationError(f"telemetry path {self.path} is a directory; give a file name")
        if max_bytes is not None:
            require_int("JsonlSink", "max_bytes", max_bytes, least=1)
        require_int("JsonlSink", "backups", backups, least=1)
        if fsync not in ("never", "always", "interval"):
            raise ConfigurationError(f"fsync must be 'never', 'always' or 'interval', got {fsync!r}")
        if not fsync_interval >= 0:
            raise ConfigurationError(f"fsync_interval must be >= 0 seconds, got {fsync_interval!r}")
        self.max_bytes = max_bytes
        self.backups = backups
        self.fsync: FsyncPolicy = fsync
        self.fsync_interval = fsync_interval
        self.follow_symlinks = follow_symlinks
        if not check_interval >= 0:
            raise ConfigurationError(f"check_interval must be >= 0 seconds, got {check_interval!r}")
        self.check_interval = check_interval
        self._path_checked = time.monotonic()
        self.rotations = 0
        self.reopens = 0
        """Times the file was found deleted or replaced under this sink (not by its own rotation) and reopened."""
        self.torn_tails = 0
        """Times a file was found ending without a newline (a torn write) and the tail was ended first."""
        self.escaped_events = 0
        """Events written with unencodable text (lone surrogates) escaped."""
        self._flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        if not follow_symlinks:
            self._flags |= getattr(os, "O_NOFOLLOW", 0)
        self._lock = threading.Lock()
        self._ino: tuple[int, int] = (0, 0)
        self._check_tail = False
        self._fd: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = self._open()
        except OSError as error:
            if self.path.is_symlink() and not follow_symlinks:
                raise ConfigurationError(
                    f"telemetry path {self.path} is a symlink; pass follow_symlinks=True to write through it"
                ) from error
            raise ConfigurationError(
                f"telemetry path {self.path} cannot be written: {error.strerror or error}"
            ) from error
        self._closed = False
        self._lock_fd: int | None = None
        self._lock_pid = 0
        self._last_sync = time.monotonic()

    def _open(self) -> int:
        """Open (or create) the file, tighten its mode to 0600 and end a torn tail; remembers its inode."""
        try:
            fd = os.open(self.path, self._flags, 0o600)
            readable = True
        except PermissionError:  # a file we may append to but not read: no torn-tail check then
            fd = os.open(self.path, (self._flags & ~os.O_RDWR) | os.O_WRONLY, 0o600)
            readable = False
        try:
            stat = os.fstat(fd)
            if stat.st_mode & 0o077:
                try:
                    os.fchmod(fd, 0o600)
                except OSError as error:
                    warnings.warn(
                        f"telemetry file {self.path} is mode {stat.st_mode & 0o777:o} and could not be made 0600: "
                        f"{error}",
                        SinkWarning,
                        stacklevel=4,
                    )
            self._ino = (stat.st_dev, stat.st_ino)
            if readable:
                self._end_torn_tail(fd, stat.st_size)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _end_torn_tail(self, fd: int, size: int) -> None:
        """A file whose last byte is not a newline ends with a torn line: end it, so our lines stay whole."""
        self._check_tail = False
        for pause in (0.001, 0.01, 0.05):
            if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
                return
            # Not a newline: a torn tail, or another writer's line still being copied in. Look again shortly;
            # a line that completes meanwhile is not torn. (Ending a whole line early costs a blank line only.)
            time.sleep(pause)
            size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        _write_all(fd, b"\n")
        self.torn_tails += 1

    def emit(self, event: AnyEvent) -> None:
        """Write the event as one line (unencodable text escaped, never dropped)."""
        # The serializer straight to bytes: model_dump_json's wrapper and the str round trip cost more.
        try:
            line = event.__pydantic_serializer__.to_json(event, exclude_none=True)
        except (ValueError, UnicodeError):  # a lone surrogate cannot be UTF-8: escape it, keep the event
            line = escaped_json(event)
            with self._lock:
                self.escaped_events += 1
        self.write_line(line + b"\n")

    def write_line(self, line: bytes) -> None:
        """Append one already serialised line (it must end with a newline)."""
        reopened = False
        with self._lock:
            if self._closed:
                raise TelemetryError(f"JsonlSink({self.path}) is closed")
            if self.max_bytes is None:
                fd, reopened = self._current_fd()
                self._write(fd, line)
            else:
                with self._file_lock():
                    fd, reopened = self._current_fd()
                    size = os.fstat(fd).st_size
                    if size > 0 and size + len(line) > self.max_bytes:
                        self._rotate(fd)
                        fd, _ = self._current_fd()
                    self._write(fd, line)
            if self.fsync != "never":
                self._maybe_sync(fd)
        if reopened:  # after the write: a warning raised as an error loses no line
            warnings.warn(
                f"telemetry file {self.path} was deleted or replaced; writing to a new file there",
                SinkWarning,
                stacklevel=3,
            )

    def _write(self, fd: int, line: bytes) -> None:
        if self._check_tail:
            try:
                self._end_torn_tail(fd, os.fstat(fd).st_size)
            except OSError:  # not readable (opened write-only): append as before
                self._check_tail = False
        try:
            _write_all(fd, line)
        except BaseException:
            self._check_tail = True  # part of the line may be on disk: end it before the next line
            raise

    def _current_fd(self) -> tuple[int, bool]:
        """Our descriptor, and whether it was re-opened because the file at ``path`` was deleted or replaced.

        Without ``max_bytes`` the file is checked on a write at least ``check_interval`` seconds after the last
        check (a syscall per line would double the cost of a line): deleted (its link count is 0) or replaced at
        ``path`` (renamed away). With ``max_bytes`` the path is compared on every write, under the rotation lock;
        another writer's rotation replaces the file too and is not counted.
        """
        fd = self._fd
        if fd is None:
            fd = self._fd = self._open()
            return fd, False
        if self.max_bytes is None:
            now = time.monotonic()
            if now - self._path_checked < self.check_interval:
                return fd, False
            self._path_checked = now
            if os.fstat(fd).st_nlink == 0:
                return self._reopen(fd, unexpected=True), True
        try:
            stat = os.stat(self.path, follow_symlinks=self.follow_symlinks)
        except FileNotFoundError:
            unexpected = True
        else:
            if (stat.st_dev, stat.st_ino) == self._ino:
                return fd, False
            unexpected = self.max_bytes is None
        return self._reopen(fd, unexpected=unexpected), unexpected

    def _reopen(self, fd: int, *, unexpected: bool) -> int:
        os.close(fd)
        self._fd = None
        fd = self._fd = self._open()
        if unexpected:
            self.reopens += 1
        return fd

    def _rotate(self, fd: int) -> None:
        if self.fsync != "never":
            os.fsync(fd)
        base = str(self.path)
        oldest = f"{base}.{self.backups}"
        if os.path.exists(oldest):
            os.remove(oldest)
        for index in range(self.backups - 1, 0, -1):
            source = f"{base}.{index}"
            if os.path.exists(source):
                os.replace(source, f"{base}.{index + 1}")
        os.replace(base, f"{base}.1")
        os.close(fd)
        self._fd = None
        self._fd = self._open()
        self.rotations += 1

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover - Windows: threads of this process only
            yield
            return
        if self._lock_fd is None or self._lock_pid != os.getpid():
            # flock belongs to the open file description, which a forked child shares: open our own.
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            if not self.follow_symlinks:
                flags |= getattr(os, "O_NOFOLLOW", 0)
            self._lock_fd = os.open(f"{self.path}.lock", flags, 0o600)
            self._lock_pid = os.getpid()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _maybe_sync(self, fd: int) -> None:
        if self.fsync == "always":
            os.fsync(fd)
        elif self.fsync == "interval":
            now = time.monotonic()
            if now - self._last_sync >= self.fsync_interval:
                os.fsync(fd)
                self._last_sync = now

    def flush(self) -> None:
        """``fsync`` the file now."""
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)
                self._last_sync = time.monotonic()

    def close(self) -> None:
        """Close the file (with an fsync first unless ``fsync="never"``)."""
        with self._lock:
            self._closed = True
            if self._fd is not None:
                if self.fsync != "never":
                    os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
            if self._lock_fd is not None and self._lock_pid == os.getpid():
                os.close(self._lock_fd)
            self._lock_fd = None

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"


def _write_all(fd: int, data: bytes) -> None:
    """One ``write`` (atomic for O_APPEND regular files); loops only if the kernel accepted part of it."""
    written = os.write(fd, data)
    while written < len(data):
        written += os.write(fd, memoryview(data)[written:])


def escape_surrogates(text: str) -> str:
    """``text`` with every lone surrogate written as the six characters ``\\udXXX`` (everything else kept)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return escape_surrogates(value)
    if isinstance(value, dict):
        return {escape_surrogates(str(k)): _escaped(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escaped(v) for v in value]
    return value


def escaped_json(event: AnyEvent) -> bytes:
    """The event as one JSON line (no newline), with unencodable text escaped by :func:`escape_surrogates`."""
    data = _escaped(event.model_dump(mode="python", exclude_none=True))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


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
