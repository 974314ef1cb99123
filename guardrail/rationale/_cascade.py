"""CascadeReader: a cheap reader first, and a judge model only where it abstains; cached, timed out and budgeted.

One read::

    reading = primary(rationale, actions)
    reading has an action with confidence >= min_confidence   -> reading            (no judge call)
    the judge's verdict on (rationale, actions) is cached      -> verdict            (cache_hits += 1)
    max_judge_calls calls were made already                    -> reading            (over_budget += 1)
    the judge answers within ``timeout`` seconds               -> verdict, cached    (calls += 1)
    the judge hangs past ``timeout``, or raises                -> reading            (timeouts / errors += 1)

The judge is any :class:`~guardrail.RationaleReader`; its verdict may be "none" (``NO_READING``), which is
an answer like any other: returned and cached. A verdict naming an action outside the space is read as
"none". Blank rationales are never judged.

**Which layer counts a failure: the cascade.** A judge's timeouts and exceptions are counted here, in
:attr:`CascadeReader.stats`, and never raised: the step goes on with the primary's reading. A reader must never
raise, so a judge used on its own (``Guard(reader=judge)``) swallows its model's errors and answers "none";
inside the cascade that would make a network failure look like a verdict, and cache it. So when the judge has a
raising entry point, ``ask(rationale, actions)`` (and ``aask`` for the async path), as the adapters'
``JudgeReader`` has, the cascade calls it instead of ``__call__``/``aread``: a failure is then an error (not
cached, retried on the next read) and bad model output is still "none" (data, cached).

``RationaleReading.judge_calls`` says how many judge calls a read cost: 1 when this read called the judge
(whether it answered, timed out or failed), 0 for the primary's own reading, a cache hit or a read over budget;
summed over reads it is ``stats.calls``. ``Decision.rationale_judge_calls`` and ``StepEvent.judge_calls`` carry
it, so a step's judge calls are counted apart from its agent calls.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextvars
import dataclasses
import json
import logging
import math
import queue
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Final, cast

from guardrail._checks import require_int, require_number
from guardrail.actions import ActionSpace, normalise_key
from guardrail.exceptions import ConfigurationError
from guardrail.rationale._reading import NO_READING, RationaleReader, RationaleReading

__all__ = ["CascadeReader", "CascadeStats", "JudgeBase", "JudgeQuestion"]

_JUDGE_THREADS: Final = 4
"""Threads of the pool that runs sync judges: a judge hung past its timeout holds one of them, never the step."""

_Key = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CascadeStats:
    """What a :class:`CascadeReader` did so far (a snapshot; read ``cascade.stats`` again for fresh figures).

    Attributes:
        calls: judge calls made (each counts against ``max_judge_calls``, whatever came of it).
        cache_hits: reads answered by a cached verdict, without a call.
        timeouts: calls that did not answer within ``timeout`` seconds (the primary's reading was used).
        errors: calls that raised, or returned something that is not a reading (the primary's reading was used).
        over_budget: reads that needed the judge after ``max_judge_calls`` calls (the primary's reading was used).
    """

    calls: int = 0
    cache_hits: int = 0
    timeouts: int = 0
    errors: int = 0
    over_budget: int = 0


class _DaemonPool:
    """At most ``size`` daemon threads running submitted calls, started as needed.

    ``concurrent.futures.ThreadPoolExecutor`` joins its threads at interpreter exit, so one hung judge would hang
    the process; these threads are daemons. A call still queued when its caller gives up is cancelled, not run.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._tasks: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[[], Any]]] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads = 0
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        context = contextvars.copy_context()  # the caller's context (e.g. LangChain's run tree) goes with the call
        self._tasks.put((future, lambda: context.run(call)))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                if self._threads < self._size:
                    self._threads += 1
                    name = f"guardrail-judge-{self._threads}"
                    threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            future, call = self._tasks.get()
            if future.set_running_or_notify_cancel():
                try:
                    result = call()
                except BaseException as error:  # handed to the caller, who counts it; the thread lives on
                    future.set_exception(error)
                else:
                    future.set_result(result)
            self._idle.release()


class CascadeReader:
    """A :class:`~guardrail.RationaleReader` that asks ``judge`` only where ``primary`` abstains.

    >>> from guardrail import ActionSpace, LexicalReader, RationaleReading
    >>> def judge(rationale, actions):  # a model call in practice: see the adapters' JudgeReader
    ...     return RationaleReading(action="search_docs", confidence=0.7)
    >>> cascade = CascadeReader(LexicalReader(), judge, max_judge_calls=100)
    >>> space = ActionSpace(["search_docs", "send_email"])
    >>> cascade("The user needs install steps; I know where those live.", space).action
    'search_docs'
    >>> cascade("I'll call send_email now.", space).judge_calls  # the lexical reader was sure: no judge call
    0
    >>> cascade.stats.calls
    1

    Args:
        primary: the reader asked first (usually :class:`~guardrail.LexicalReader`).
        judge: the reader asked where ``primary`` has no action with ``min_confidence``; see the module docstring
            for the ``ask``/``aask`` entry points it may have.
        min_confidence: a primary reading at least this confident is returned without asking the judge.
        cache_size: verdicts remembered, least recently used first out, keyed by the rationale and the action
            space (names, aliases, descriptions); 0 remembers none.
        timeout: seconds a read waits for the judge; a judge still running then is left to finish on its own
            thread (at most four such threads; calls past them wait in a queue and time out).
        max_judge_calls: the most calls this reader ever makes; None for no limit.

    Raises:
        ConfigurationError: a bad argument (the message names it).

    Thread-safe: one cascade may serve many concurrent steps. Two reads of the same new rationale at the same
    moment may both call the judge. A sync read blocks its thread for up to ``timeout``: in async code, use
    :meth:`aread`.
    """

    __slots__ = (
        "_cache",
        "_counts",
        "_lock",
        "_pool",
        "cache_size",
        "judge",
        "max_judge_calls",
        "min_confidence",
        "primary",
        "timeout",
    )

    def __init__(
        self,
        primary: RationaleReader,
        judge: RationaleReader,
        *,
        min_confidence: float = 0.5,
        cache_size: int = 1024,
        timeout: float = 10.0,
        max_judge_calls: int | None = None,
    ) -> None:
        if not callable(primary):
            raise ConfigurationError(f"primary must be a reader, a callable (rationale, actions); got {primary!r}")
        if not callable(judge):
            raise ConfigurationError(f"judge must be a reader, a callable (rationale, actions); got {judge!r}")
        require_number("CascadeReader", "min_confidence", min_confidence, least=0, most=1)
        require_int("CascadeReader", "cache_size", cache_size)
        require_number("CascadeReader", "timeout", timeout, least=0)
        if timeout == 0 or math.isinf(timeout):
            raise ConfigurationError(f"CascadeReader(timeout) must be a finite number of seconds > 0, got {timeout!r}")
        if max_judge_calls is not None:
            require_int("CascadeReader", "max_judge_calls", max_judge_calls)
        self.primary = primary
        self.judge = judge
        self.min_confidence = min_confidence
        self.cache_size = cache_size
        self.timeout = timeout
        self.max_judge_calls = max_judge_calls
        self._cache: OrderedDict[_Key, RationaleReading] = OrderedDict()
        self._counts = dict.fromkeys(("calls", "cache_hits", "timeouts", "errors", "over_budget"), 0)
        self._lock = threading.Lock()
        self._pool: _DaemonPool | None = None

    def __repr__(self) -> str:
        return (
            f"CascadeReader({self.primary!r}, {self.judge!r}, min_confidence={self.min_confidence!r}, "
            f"cache_size={self.cache_size!r}, timeout={self.timeout!r}, max_judge_calls={self.max_judge_calls!r})"
        )

    @property
    def stats(self) -> CascadeStats:
        """A snapshot of the counters (see :class:`CascadeStats`)."""
        with self._lock:
            return CascadeStats(**self._counts)

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Read ``rationale``: the primary's reading, or the judge's verdict where the primary abstains."""
        reading, key = self._before_judging(rationale, actions)
        if key is None:
            return reading
        ask = _sync_entry(self.judge)
        future = self._threads().submit(lambda: ask(rationale, actions))
        done, _ = concurrent.futures.wait([future], timeout=self.timeout)
        if not done:
            future.cancel()  # not run at all if it is still queued
            return self._failed(reading, "timeouts")
        error = future.exception()
        if error is not None:
            return self._failed(reading, "errors")
        return self._verdict(key, future.result(), reading, actions)

    async def aread(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Read ``rationale`` without blocking the event loop: the async judge (``aask``/``aread``) if it has
        one, else the sync judge on the cascade's threads. The same cache, budget and counters as a sync read."""
        reading, key = self._before_judging(rationale, actions)
        if key is None:
            return reading
        aask = _async_entry(self.judge)
        task: asyncio.Future[Any]
        if aask is not None:
            try:
                task = asyncio.ensure_future(aask(rationale, actions))
            except Exception:  # raised before awaiting, or returned something that cannot be awaited
                return self._failed(reading, "errors")
        else:
            ask = _sync_entry(self.judge)
            task = asyncio.wrap_future(self._threads().submit(lambda: ask(rationale, actions)))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.cancel()
            return self._failed(reading, "timeouts")
        if task.cancelled() or task.exception() is not None:
            return self._failed(reading, "errors")
        return self._verdict(key, task.result(), reading, actions)

    # ----------------------------------------------------------------------------------------------------------

    def _before_judging(self, rationale: str, actions: ActionSpace) -> tuple[RationaleReading, _Key | None]:
        """The reading to return and None, or the primary's reading and the key when the judge is to be called:
        the primary was sure, the verdict is cached, or the budget is spent, in that order (sync and async alike)."""
        reading = self.primary(rationale, actions)
        key = self._key(rationale, actions, reading)
        if key is None:
            return reading, None
        cached = self._cached(key, reading)
        if cached is not None:
            return cached, None
        if not self._reserve_call():
            return reading, None
        return reading, key

    def _key(self, rationale: object, actions: object, reading: RationaleReading) -> _Key | None:
        """The cache key of a read that needs the judge; None when the primary's reading stands."""
        if reading.action is not None and reading.confidence >= self.min_confidence:
            return None
        if not isinstance(rationale, str) or not rationale.strip() or not isinstance(actions, ActionSpace):
            return None
        return (
            rationale,
            actions.names,
            tuple(sorted(actions.aliases.items())),
            tuple(sorted(actions.descriptions.items())),
        )

    def _cached(self, key: _Key, reading: RationaleReading) -> RationaleReading | None:
        with self._lock:
            verdict = self._cache.get(key)
            if verdict is None:
                return None
            self._cache.move_to_end(key)
            self._counts["cache_hits"] += 1
        return dataclasses.replace(verdict, judge_calls=reading.judge_calls)

    def _reserve_call(self) -> bool:
        """Count one judge call, unless the budget is spent (then count the read as over budget)."""
        with self._lock:
            if self.max_judge_calls is not None and self._counts["calls"] >= self.max_judge_calls:
                self._counts["over_budget"] += 1
                return False
            self._counts["calls"] += 1
            return True

    def _failed(self, reading: RationaleReading, counter: str) -> RationaleReading:
        with self._lock:
            self._counts[counter] += 1
        return dataclasses.replace(reading, judge_calls=reading.judge_calls + 1)

    def _verdict(self, key: _Key, verdict: object, reading: RationaleReading, actions: ActionSpace) -> RationaleReading:
        if not isinstance(verdict, RationaleReading):
            return self._failed(reading, "errors")
        if verdict.action is not None and verdict.action not in actions:
            verdict = NO_READING
        verdict = dataclasses.replace(verdict, judge_calls=0)  # as a cache hit returns it
        if self.cache_size:
            with self._lock:
                self._cache[key] = verdict
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return dataclasses.replace(verdict, judge_calls=reading.judge_calls + 1)

    def _threads(self) -> _DaemonPool:
        with self._lock:
            if self._pool is None:
                self._pool = _DaemonPool(_JUDGE_THREADS)
            return self._pool


def _sync_entry(judge: RationaleReader) -> Callable[[str, ActionSpace], object]:
    """The judge's raising ``ask`` when it has one, else the judge itself."""
    ask = getattr(judge, "ask", None)
    return cast(Callable[[str, ActionSpace], object], ask) if callable(ask) else judge


def _async_entry(judge: RationaleReader) -> Callable[[str, ActionSpace], Awaitable[object]] | None:
    """The judge's raising ``aask``, else its ``aread``; None for a judge without an async path."""
    for name in ("aask", "aread"):
        method = getattr(judge, name, None)
        if callable(method):
            return cast(Callable[[str, ActionSpace], Awaitable[object]], method)
    return None


_NONE_WORDS: Final = ("none", "no_action", "none_of_these")
"""The judge's word for "no recommendation": the first one that is not an action's name."""

_QUESTION: Final = (
    "Which action does the rationale recommend as the immediate next step?\n"
    "Answer with exactly one name from the list, or {none} if it recommends none of them."
)


@dataclasses.dataclass(frozen=True, slots=True)
class JudgeQuestion:
    """The question a judge model is asked about one rationale, and how its answer is read.

    The adapters' ``JudgeReader`` ask it; a judge of your own (over any client) can too.

    >>> space = ActionSpace(["search_docs", "send_email"], descriptions={"search_docs": "Search the documentation."})
    >>> question = JudgeQuestion("The docs should say how.", space)
    >>> question.choices
    ('search_docs', 'send_email', 'none')
    >>> print(question.prompt())
    Actions:
    - search_docs: Search the documentation.
    - send_email
    <BLANKLINE>
    Rationale:
    <rationale>
    The docs should say how.
    </rationale>
    <BLANKLINE>
    Which action does the rationale recommend as the immediate next step?
    Answer with exactly one name from the list, or none if it recommends none of them.
    >>> question.read('{"action": "Search_Docs"}', confidence=0.7).action
    'search_docs'
    >>> question.read("I think none of them.", confidence=0.7).action is None
    True

    Attributes:
        rationale: the rationale to judge (only its last ``max_chars`` characters are shown: the conclusion is
            at the end, and a small model's context is short).
        actions: the legal actions, with their descriptions when the space has them.
        max_chars: the most characters of the rationale put in the prompt.
    """

    rationale: str
    actions: ActionSpace
    max_chars: int = 4000

    @property
    def none(self) -> str:
        """The answer meaning "no recommendation": ``"none"``, unless an action is called that."""
        taken = {normalise_key(name) for name in self.actions.names}
        return next((word for word in _NONE_WORDS if word not in taken), "none")

    @property
    def choices(self) -> tuple[str, ...]:
        """Every legal answer: the action names, then :attr:`none` (for an enum or a ``Literal``)."""
        return (*self.actions.names, self.none)

    def prompt(self, *, json_answer: bool = False) -> str:
        """The question as one user message (no system message: some chat formats, e.g. Gemma's, drop it).

        ``json_answer`` adds the JSON shape of the answer, for JSON modes without a schema.
        """
        descriptions = self.actions.descriptions
        lines = ["Actions:"]
        for name in self.actions.names:
            description = " ".join(descriptions.get(name, "").split())
            lines.append(f"- {name}: {description}" if description else f"- {name}")
        rationale = self.rationale.strip()
        if len(rationale) > self.max_chars:
            rationale = "..." + rationale[-self.max_chars :]
        lines += ["", "Rationale:", "<rationale>", rationale, "</rationale>", "", _QUESTION.format(none=self.none)]
        if json_answer:
            lines.append(f'Reply with JSON only: {{"action": "<one name from the list, or {self.none}>"}}')
        return "\n".join(lines)

    def read(self, answer: object, *, confidence: float, evidence: str | None = None) -> RationaleReading:
        """The reading a judge's answer gives, with ``judge_calls=1``: an action when the answer names exactly one
        (a name, ``{"action": name}`` or its JSON text, or a first line that is a name), else no action.

        Never raises: an answer of "none", an unknown name, garbage or a non-string all give no action.
        """
        action = _answered_action(answer, self.actions)
        if action is None:
            return dataclasses.replace(NO_READING, judge_calls=1)
        return RationaleReading(action=action, confidence=confidence, evidence=evidence, judge_calls=1)


def _answered_action(answer: object, actions: ActionSpace) -> str | None:
    if isinstance(answer, dict):
        answer = answer.get("action")
    if not isinstance(answer, str):
        return None
    text = answer.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        return _answered_action(parsed, actions) if isinstance(parsed, dict) else None
    found = actions.resolve(text)
    if found is None and "\n" in text:
        found = actions.resolve(text.split("\n", 1)[0])
    return found


class JudgeBase(abc.ABC):
    """What every judge reader shares: checked settings, and a call that never raises.

    A subclass asks its model in :meth:`ask` / :meth:`aask` (which may raise what the client raised); calling the
    judge, or :meth:`aread`, logs a failed request as a warning on ``logger`` and reads it as no reading that cost
    one judge call, so a judge in a :class:`CascadeReader` can never fail a step.

    Args:
        confidence: the confidence of every reading the judge gives, in (0, 1].
        max_tokens: the most tokens of an answer (None: the client's default).
        max_chars: the most characters of a rationale put in the prompt (its end: the conclusion).
    """

    __slots__ = ("confidence", "max_chars", "max_tokens")
    logger: ClassVar[logging.Logger] = logging.getLogger("guardrail.judge")
    failure: ClassVar[str] = "the judge's request failed"

    def __init__(self, *, confidence: float, max_tokens: int | None, max_chars: int) -> None:
        require_number("JudgeReader", "confidence", confidence, least=0, most=1)
        if confidence == 0:
            raise ConfigurationError(
                f"JudgeReader(confidence) must be in (0, 1] (its readings name an action), got {confidence!r}"
            )
        if max_tokens is not None:
            require_int("JudgeReader", "max_tokens", max_tokens, least=1)
        require_int("JudgeReader", "max_chars", max_chars, least=1)
        self.confidence = float(confidence)
        self.max_tokens = max_tokens
        self.max_chars = max_chars

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Ask the model; never raises (a failed request is logged and gives no reading)."""
        try:
            return self.ask(rationale, actions)
        except Exception as error:
            self.logger.warning("%s: %r", self.failure, error)
            return dataclasses.replace(NO_READING, judge_calls=1)

    async def aread(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Ask the model asynchronously; never raises (a failed request is logged and gives no reading)."""
        try:
            return await self.aask(rationale, actions)
        except Exception as error:
            self.logger.warning("%s: %r", self.failure, error)
            return dataclasses.replace(NO_READING, judge_calls=1)

    @abc.abstractmethod
    def ask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Ask the model; raises what the request raised. Bad output is no reading, never an exception."""

    @abc.abstractmethod
    async def aask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """:meth:`ask`, asynchronously."""
