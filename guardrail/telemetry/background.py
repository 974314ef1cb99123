"""BackgroundSink: a slow or failing sink never holds up the agent.

``BackgroundSink(sink)`` puts each event on a bounded queue and returns; one worker thread drains the queue
into the wrapped sink. When the queue is full the event is dropped (or the oldest one is, with
``on_full="drop_oldest"``) and counted in ``dropped``; the caller waits at most ``put_timeout`` seconds.
Failures of the wrapped sink are counted in ``failures`` and reported as a
:class:`~guardrail.telemetry.sinks.SinkWarning` on the caller's thread at its next ``emit``, ``flush`` or
``close`` (the worker itself never raises, so a warnings filter set to "error" cannot kill it).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import warnings
from typing import Literal

from guardrail.exceptions import ConfigurationError
from guardrail.telemetry.sinks import AnyEvent, Sink, SinkWarning

__all__ = ["BackgroundSink", "OnFull"]

OnFull = Literal["drop", "drop_oldest"]
"""What a full queue does with an event: ``"drop"`` the new one, or ``"drop_oldest"`` to make room."""

_STOP = object()


class BackgroundSink:
    """Writes events to ``sink`` from a worker thread, through a bounded queue.

    >>> sink = BackgroundSink(JsonlSink("events.jsonl"), max_queue=10_000)  # doctest: +SKIP
    >>> guard = Guard(actions, telemetry=sink)  # doctest: +SKIP

    Args:
        sink: the sink that does the writing (its ``emit`` runs on the worker thread only).
        max_queue: how many events may wait; beyond that events are dropped.
        on_full: ``"drop"`` the new event, or ``"drop_oldest"`` queued event to make room for it.
        put_timeout: seconds ``emit`` may wait for room before dropping (0: never wait).
        close_timeout: seconds ``close()`` waits for the queue to drain by default.
        warn_interval: at most one warning of each kind (failures, drops) per this many seconds.

    Attributes:
        dropped: events never written: dropped when the queue was full, emitted after ``close``, or left in
            the queue when ``close`` timed out.
        failures: events the wrapped sink raised on.
        written: events the wrapped sink accepted.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        max_queue: int = 10_000,
        on_full: OnFull = "drop",
        put_timeout: float = 0.0,
        close_timeout: float = 5.0,
        warn_interval: float = 10.0,
        name: str | None = None,
    ) -> None:
        if not isinstance(sink, Sink):
            raise ConfigurationError(f"BackgroundSink needs a sink with emit(event); got {sink!r}")
        if max_queue < 1:
            raise ConfigurationError(f"max_queue must be >= 1, got {max_queue}")
        if on_full not in ("drop", "drop_oldest"):
            raise ConfigurationError(f"on_full must be 'drop' or 'drop_oldest', got {on_full!r}")
        if put_timeout < 0 or close_timeout < 0 or warn_interval < 0:
            raise ConfigurationError("put_timeout, close_timeout and warn_interval must be >= 0")
        self.sink = sink
        self.max_queue = max_queue
        self.on_full: OnFull = on_full
        self.put_timeout = put_timeout
        self.close_timeout = close_timeout
        self.warn_interval = warn_interval
        self._last_report = -float("inf")
        self.dropped = 0
        self.failures = 0
        self.written = 0
        self.last_error: BaseException | None = None
        self._reported_failures = 0
        self._reported_drops = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._closed = False
        self._worker = threading.Thread(
            target=self._run, name=name or f"guardrail-sink-{type(sink).__name__}", daemon=True
        )
        self._worker.start()

    # -- the agent's side ----------------------------------------------------------------------------------
    def emit(self, event: AnyEvent) -> None:
        """Queue the event; never blocks longer than ``put_timeout``, never raises for a full queue."""
        self._report()
        if self._closed:
            self._drop()
            return
        try:
            if self.put_timeout > 0:
                self._queue.put(event, timeout=self.put_timeout)
            else:
                self._queue.put_nowait(event)
            return
        except queue.Full:
            pass
        if self.on_full == "drop_oldest":
            try:
                self._queue.get_nowait()
                self._queue.task_done()
            except queue.Empty:
                pass
            else:
                self._drop()
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                pass
        self._drop()

    @property
    def pending(self) -> int:
        """Events waiting in the queue now."""
        return self._queue.qsize()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event has been handed to the wrapped sink; False if ``timeout`` passed."""
        deadline = time.monotonic() + (self.close_timeout if timeout is None else timeout)
        done = self._queue.all_tasks_done
        with done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                done.wait(left)
            drained = not self._queue.unfinished_tasks
        self._report()
        return drained

    def close(self, timeout: float | None = None) -> None:
        """Flush (waiting at most ``timeout``, default ``close_timeout``), stop the worker, close the sink.

        Events still queued when the timeout passes are counted in ``dropped`` and warned about; the wrapped
        sink is then closed only if the worker has stopped.
        """
        if self._closed:
            return
        wait = self.close_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        drained = self.flush(wait)
        self._closed = True
        if not drained:
            left = self._discard_queued()  # the worker is stuck in the wrapped sink: give up on the rest
            with self._lock:
                self._reported_drops = self.dropped  # this warning reports them
            warnings.warn(
                f"BackgroundSink({self.sink!r}) did not drain within {wait:g} s; {left} queued event(s) dropped",
                SinkWarning,
                stacklevel=2,
            )
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=max(0.1, deadline - time.monotonic()))
        self._worker.join(max(0.1, deadline - time.monotonic()) if drained else 0.0)
        if not self._worker.is_alive():
            close = getattr(self.sink, "close", None)
            if callable(close):
                close()
        self._report(force=True)

    # -- the worker ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is _STOP:
                    return
                try:
                    self.sink.emit(event)  # type: ignore[arg-type]  # only events are queued besides _STOP
                except Exception as error:  # the worker must survive any sink failure
                    with self._lock:
                        self.failures += 1
                        self.last_error = error
                else:
                    with self._lock:
                        self.written += 1
            finally:
                self._queue.task_done()

    # -- counting and reporting ----------------------------------------------------------------------------
    def _drop(self) -> None:
        with self._lock:
            self.dropped += 1

    def _discard_queued(self) -> int:
        count = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
            if item is not _STOP:
                count += 1
        with self._lock:
            self.dropped += count
        return count

    def _report(self, *, force: bool = False) -> None:
        """Warn, on the caller's thread, about failures and drops since the last report.

        At most one warning of each kind per ``warn_interval`` seconds (the counters stay exact).
        """
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_report < self.warn_interval:
                return
            failures = self.failures - self._reported_failures
            drops = self.dropped - self._reported_drops
            if not (failures or drops):
                return
            self._reported_failures = self.failures
            self._reported_drops = self.dropped
            self._last_report = now
            error = self.last_error
        if failures:
            warnings.warn(
                f"telemetry sink {self.sink!r} failed on {failures} event(s) (last: {error!r})",
                SinkWarning,
                stacklevel=3,
            )
        if drops:
            warnings.warn(
                f"BackgroundSink({self.sink!r}) dropped {drops} event(s) (queue of {self.max_queue} full, "
                "or emitted after close)",
                SinkWarning,
                stacklevel=3,
            )

    def __repr__(self) -> str:
        return f"BackgroundSink({self.sink!r}, max_queue={self.max_queue})"
