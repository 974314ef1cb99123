"""Agent calls: one call within its timeout, sync or async, and whether a failed call is retried (tenacity).

The step (``guardrail._step``) decides *when* to call, sleep and retry; this module does *one* call and answers
the retry question, so ``step`` and ``astep`` share one semantics:

- an agent's answer is the value it returns; an awaitable returned by an agent that is not an ``async def``
  is refused with :class:`InvalidInputError` in both (never retried), and an async agent is refused by ``step``
  before it is called;
- a timeout is measured from the moment the agent starts; a sync agent under a timeout runs on a worker thread
  of its own (see :class:`_AgentThreads`), in ``astep`` too;
- a call that raises an ``Exception`` is retried while the tenacity ``stop`` strategy allows, after the ``wait``
  strategy's delay, slept with the guard's injected ``sleep``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import math
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from guardrail.exceptions import AgentCallsExhaustedError, AgentTimeoutError, ConfigurationError, InvalidInputError

__all__ = ["AgentCaller", "Answer", "AsyncAgent", "SyncAgent", "agent_name", "is_async"]

SyncAgent = Callable[[Any], Any]
AsyncAgent = Callable[[Any], Awaitable[Any]]


def is_async(agent: object) -> bool:
    """Whether ``agent`` is an ``async def`` function or an object whose ``__call__`` is one."""
    if inspect.iscoroutinefunction(agent):
        return True
    call = getattr(agent, "__call__", None)  # noqa: B004 - we need the bound method itself
    return inspect.iscoroutinefunction(call)


def agent_name(agent: object) -> str:
    """The agent's name in telemetry: its ``name`` attribute, else its ``__name__``, else its type's name."""
    return str(getattr(agent, "name", None) or getattr(agent, "__name__", None) or type(agent).__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    """What one agent call gave: its output, or the error it raised (``retryable`` when a retry may help)."""

    output: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    retryable: bool = False


def _refused(raw: object) -> InvalidInputError:
    close = getattr(raw, "close", None)
    if callable(close):
        close()  # a coroutine never awaited would warn when collected
    return InvalidInputError(
        "the agent returned an awaitable but is not an async function; make it `async def` "
        "and use `await guard.astep(...)`"
    )


class AgentCaller:
    """Calls an agent once, sync or async, within ``timeout``; answers whether a failed call is retried.

    One per Guard, shared by its adapted copies (the worker threads are started lazily and shared).
    """

    def __init__(
        self,
        *,
        timeout: float | None = None,
        retry: int | stop_base | None = None,
        retry_wait: wait_base | None = None,
        max_abandoned: int = 64,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if timeout is not None and not (
            isinstance(cast(object, timeout), (int, float)) and timeout > 0 and math.isfinite(timeout)
        ):
            raise ConfigurationError(f"agent_timeout must be a positive number of seconds, got {timeout!r}")
        if isinstance(cast(object, retry), bool) or (isinstance(retry, int) and retry < 1):
            raise ConfigurationError(f"agent_retry must be >= 1 attempts or a tenacity stop strategy, got {retry!r}")
        if retry is not None and not isinstance(cast(object, retry), (int, stop_base)):
            raise ConfigurationError(f"agent_retry must be an int or a tenacity stop strategy, got {retry!r}")
        if retry_wait is not None and not isinstance(cast(object, retry_wait), wait_base):
            raise ConfigurationError(f"agent_retry_wait must be a tenacity wait strategy, got {retry_wait!r}")
        if isinstance(cast(object, max_abandoned), bool) or not isinstance(cast(object, max_abandoned), int):
            raise ConfigurationError(f"max_abandoned_calls must be an int >= 1, got {max_abandoned!r}")
        if max_abandoned < 1:
            raise ConfigurationError(f"max_abandoned_calls must be >= 1, got {max_abandoned!r}")
        self.timeout = timeout
        self.max_abandoned = max_abandoned
        self.clock = clock
        stop = tenacity.stop_after_attempt(retry) if isinstance(retry, int) else retry
        self._retrying = (
            None
            if stop is None
            else tenacity.Retrying(stop=stop, wait=retry_wait or tenacity.wait_none(), reraise=True)
        )
        self._threads: _AgentThreads | None = None
        self._lock = threading.Lock()

    def threads(self) -> _AgentThreads:
        """The worker threads for timed sync calls, started on first use."""
        threads = self._threads
        if threads is None:
            with self._lock:
                threads = self._threads
                if threads is None:
                    threads = self._threads = _AgentThreads(self.max_abandoned)
        return threads

    def call(self, agent: SyncAgent, prompt: Any) -> Answer:
        """One call of a sync agent; an error it raises is returned in the answer, not raised."""
        started = self.clock()
        try:
            if self.timeout is None:
                raw = agent(prompt)
            else:
                threads = self.threads()
                pending = threads.submit(agent, prompt)
                started = self.clock()  # the timeout and the latency are the agent's own, not a thread start
                raw = threads.result(pending, self.timeout)
        except Exception as error:
            return Answer(error=error, seconds=self.clock() - started, retryable=True)
        except BaseException as error:  # KeyboardInterrupt and the like: recorded, then re-raised, never retried
            return Answer(error=error, seconds=self.clock() - started)
        return self._checked(raw, self.clock() - started)

    async def acall(self, agent: SyncAgent | AsyncAgent, prompt: Any) -> Answer:
        """One call of an async agent, or of a sync one on a worker thread; errors as in :meth:`call`."""
        started = self.clock()
        try:
            if is_async(agent):
                pending: Awaitable[Any] = cast(AsyncAgent, agent)(prompt)
                if self.timeout is None:
                    raw = await pending
                else:
                    try:
                        raw = await asyncio.wait_for(pending, self.timeout)
                    except asyncio.TimeoutError:
                        raise AgentTimeoutError(self.timeout) from None
                return Answer(output=raw, seconds=self.clock() - started)
            # on our worker threads: the loop's default executor is small and a hung call would hold it
            threads = self.threads()
            call = threads.submit(cast(SyncAgent, agent), prompt)
            started = self.clock()
            raw = await threads.aresult(call, self.timeout)
        except Exception as error:
            return Answer(error=error, seconds=self.clock() - started, retryable=True)
        except BaseException as error:  # cancellation included: recorded, then re-raised
            return Answer(error=error, seconds=self.clock() - started)
        return self._checked(raw, self.clock() - started)

    @staticmethod
    def _checked(raw: Any, seconds: float) -> Answer:
        if not isinstance(raw, str) and inspect.isawaitable(raw):  # text, the common answer, is never awaitable
            return Answer(error=_refused(raw), seconds=seconds)
        return Answer(output=raw, seconds=seconds)

    def retry_wait(self, attempt: int, started: float, error: BaseException) -> float | None:
        """Seconds to wait before retrying a call that failed on its ``attempt``-th try, or None to give up.

        ``started`` is the :func:`time.monotonic` time of the first try (for ``stop_after_delay``).
        """
        if self._retrying is None:
            return None
        state = tenacity.RetryCallState(self._retrying, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        state.start_time = started
        state.set_exception((type(error), error, error.__traceback__))
        if self._retrying.stop(state):
            return None
        return float(self._retrying.wait(state))

    def close(self) -> None:
        """Let the worker threads exit."""
        if self._threads is not None:
            self._threads.close()


class _AgentCall:
    """One agent call run on an :class:`_AgentThreads` worker: when it started, and its outcome."""

    __slots__ = ("abandoned", "agent", "outcome", "prompt", "started")

    def __init__(self, agent: SyncAgent, prompt: Any) -> None:
        self.agent = agent
        self.prompt = prompt
        self.started: concurrent.futures.Future[float] = concurrent.futures.Future()
        self.outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.abandoned = False

    def run(self) -> None:
        self.started.set_result(time.monotonic())
        try:
            result = self.agent(self.prompt)
        except BaseException as error:  # handed to the caller, who re-raises it
            self.outcome.set_exception(error)
        else:
            self.outcome.set_result(result)
        finally:
            self.prompt = None


class _AgentThreads:
    """Worker threads for timed agent calls: a hung call never holds up another one.

    A call is handed to an idle worker, or a new one is started for it, so no call waits in a queue behind
    another; the timeout is measured from the moment the agent starts. A call that timed out is abandoned: its
    thread runs on until the agent returns (Python cannot kill a thread) and then serves later calls. At most
    ``max_abandoned`` abandoned calls may be running: beyond that a new call is refused with
    :class:`AgentCallsExhaustedError` before the agent is called. Idle workers exit after ``idle_seconds``.
    """

    def __init__(self, max_abandoned: int, *, idle_seconds: float = 30.0) -> None:
        self.max_abandoned = max_abandoned
        self.idle_seconds = idle_seconds
        self.abandoned = 0
        self.threads = 0
        self._idle = 0
        self._jobs: queue.SimpleQueue[_AgentCall | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, agent: SyncAgent, prompt: Any) -> _AgentCall:
        call = _AgentCall(agent, prompt)
        with self._lock:
            if self.abandoned >= self.max_abandoned:
                raise AgentCallsExhaustedError(self.abandoned)
            spawn = self._idle == 0
            if spawn:
                self.threads += 1
            else:
                self._idle -= 1  # that idle worker is now promised this call
        self._jobs.put(call)
        if spawn:
            threading.Thread(target=self._work, name="guardrail-agent", daemon=True).start()
        return call

    def abandon(self, call: _AgentCall) -> None:
        """The caller gave up on ``call`` (a timeout); it counts until its agent returns."""
        with self._lock:
            if not call.outcome.done():
                call.abandoned = True
                self.abandoned += 1

    def _work(self) -> None:
        while True:
            try:
                call = self._jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # an unpromised idle worker: leave
                        self._idle -= 1
                        self.threads -= 1
                        return
                continue  # every idle worker is promised a call: ours is on its way
            if call is None:
                with self._lock:
                    self.threads -= 1
                return
            call.run()
            with self._lock:
                if call.abandoned:
                    self.abandoned -= 1
                if self._closed:
                    self.threads -= 1
                    return
                self._idle += 1

    def result(self, call: _AgentCall, timeout: float) -> Any:
        """The call's result, waiting at most ``timeout`` seconds from the moment the agent started."""
        started = call.started.result()  # a worker picks it up at once: this waits for a thread start only
        left = timeout - (time.monotonic() - started)
        try:
            return call.outcome.result(timeout=max(0.0, left))
        except concurrent.futures.TimeoutError:
            self.abandon(call)
            if call.outcome.done():  # it returned just now: not a timeout after all
                return call.outcome.result()
            raise AgentTimeoutError(timeout) from None

    async def aresult(self, call: _AgentCall, timeout: float | None) -> Any:
        """:meth:`result` for an event loop: awaits without blocking it."""
        started = await asyncio.wrap_future(call.started)
        outcome = asyncio.wrap_future(call.outcome)
        if timeout is None:
            return await outcome
        left = timeout - (time.monotonic() - started)
        try:
            return await asyncio.wait_for(asyncio.shield(outcome), max(0.0, left))
        except asyncio.TimeoutError:
            self.abandon(call)
            if call.outcome.done():
                return call.outcome.result()
            outcome.add_done_callback(_retrieve)  # its late outcome is discarded, and never reported as lost
            raise AgentTimeoutError(timeout) from None

    def close(self) -> None:
        """Let idle workers exit; busy ones exit when their call returns."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._jobs.put(None)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
