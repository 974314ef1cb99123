"""Per-episode history and the statistics detectors and policies read, kept incrementally.

Every update is O(1) in the episode's length (O(k) reads for k actions), so a 10^5-step episode costs
what a 10-step one does.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from guardrail._checks import of_type, require_int
from guardrail._frozen import filled
from guardrail.exceptions import ConfigurationError, InvalidInputError

__all__ = [
    "MAX_CALL_WINDOW",
    "CallHistoryStore",
    "CallLog",
    "CallRecord",
    "EpisodeHistory",
    "HistoryStore",
    "HistoryView",
    "InMemoryHistoryStore",
    "StepCallStore",
    "StepRecord",
    "argument_texts",
    "call_store",
    "canonical_arguments",
    "check_reward",
    "checked_history",
    "outcome_digest",
    "record_outcome",
    "waiting_call",
    "with_outcome",
]

FloatArray = npt.NDArray[np.float64]


def check_reward(reward: object) -> float:
    """A reward as a float; NaN, infinities and non-numbers are a clear error."""
    if isinstance(reward, bool) or not isinstance(reward, (int, float, np.integer, np.floating)):
        raise InvalidInputError(f"a reward must be a real number, got {type(reward).__name__}: {reward!r}")
    value = float(reward)
    if not math.isfinite(value):
        raise InvalidInputError(f"a reward must be finite, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One executed step: the action (index into the action space) and its reward once known."""

    index: int
    action: int
    reward: float | None = None


# -- tool calls and their outcomes ------------------------------------------------------------------------

MAX_CALL_WINDOW: Final = 64
"""How many of an episode's latest calls (since its last user message) the history keeps for loop detection."""

_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# Volatile parts of an observation a human reads past: UUIDs, ISO timestamps and clock times, long hex ids.
_VOLATILE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b"
    r"|\b(?=[0-9a-fA-F]{0,11}\d)[0-9a-fA-F]{12,}\b"
)
_TOKEN = re.compile(r"[A-Za-z0-9_\-.+/=]+")  # base64 characters too: an AWS HostId is one id, not three
_STATUS_CODE = re.compile(r"\d{3}")


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = _SPACES.sub(" ", value).strip()
        if _NUMBER.fullmatch(text):  # "2" and 2 and 2.0 are one page number
            number = float(text)
            return int(number) if number.is_integer() else number
        return text
    if isinstance(value, Mapping):
        return {str(k).strip(): _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    return str(value)


def canonical_arguments(arguments: Mapping[str, Any] | None) -> str:
    """A call's arguments as one canonical string: key order, whitespace and ``1`` vs ``1.0`` do not matter."""
    if not arguments:
        return "{}"
    return json.dumps(_normal(arguments), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def argument_texts(arguments: Mapping[str, Any] | None) -> list[str]:
    """A call's string arguments as an outcome digest reads past them (normalised, the longest first)."""
    texts: list[str] = []
    stack: list[Any] = [arguments] if arguments else []
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            text = _SPACES.sub(" ", value).strip()
            if len(text) >= 3 and not _NUMBER.fullmatch(text):
                texts.append(text)
        elif isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return sorted(set(texts), key=len, reverse=True)  # the longest first: a value inside another is masked after


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if any(ch.isdigit() for ch in token) and not _STATUS_CODE.fullmatch(token):
        return "#"
    return token


def outcome_digest(text: str, *, arguments: Mapping[str, Any] | None = None, error: bool = False) -> str:
    """A short digest of what a call got back, so that the same observation digests the same.

    Whitespace runs, UUIDs, timestamps and long hex ids do not count, nor do the call's own string arguments
    echoed back ("No results for 'refund policy'" and "... for 'return policy'" are one observation). In an error
    every token holding a digit counts as an id (request ids, attempt counts, retry-after seconds), except a
    three-digit status code. Linear in the text's length.
    """
    return _digest(text, argument_texts(arguments), error)


def _digest(text: str, texts: Sequence[str], error: bool) -> str:
    normal = _VOLATILE.sub("#", _SPACES.sub(" ", text).strip())
    for value in texts:
        normal = normal.replace(value, "\x00")
    if error:
        normal = _TOKEN.sub(_mask_token, normal)
    kind = "e" if error else "r"
    return kind + hashlib.blake2b(normal.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One executed call: its step, tool name, canonical arguments, and what it got back once recorded.

    ``outcome`` is a digest of the result or the error (see :func:`outcome_digest`), None until
    :meth:`guardrail.Guard.record_outcome` records it; ``failed`` says it was an error, and ``error`` keeps its
    first 200 characters.
    """

    step: int
    name: str
    arguments: str = "{}"
    outcome: str | None = None
    failed: bool = False
    error: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What makes two calls the same call: the tool and its canonical arguments."""
        return (self.name, self.arguments)

    @property
    def shown(self) -> str:
        """The call as a short text, ``name({...})``, for findings and feedback."""
        arguments = self.arguments if len(self.arguments) <= 80 else self.arguments[:77] + "..."
        return f"{self.name}({arguments})"


def waiting_call(calls: Sequence[CallRecord], step: int | None) -> int:
    """The position in ``calls`` of the latest call still waiting for an outcome (or of the call at ``step``).

    Raises:
        InvalidInputError: no such call is waiting (since the episode's last user message).
    """
    for index in range(len(calls) - 1, -1, -1):  # the latest first: usually the last one
        record = calls[index]
        if (step is None or record.step == step) and record.outcome is None:
            return index
        if step is not None and record.step < step:
            break
    which = "no call" if step is None else f"no call at step {step}"
    raise InvalidInputError(f"{which} of this episode since its last user message is waiting for an outcome")


def with_outcome(record: CallRecord, texts: Sequence[str], result: str | None, error: str | None) -> CallRecord:
    """``record`` with its result or error attached (``texts``: its :func:`argument_texts`, read past)."""
    if error is not None:
        return CallRecord(record.step, record.name, record.arguments, _digest(error, texts, True), True, error[:200])
    return CallRecord(record.step, record.name, record.arguments, _digest(result or "", texts, False))


@dataclass(slots=True)
class CallLog:
    """An episode's latest calls since its last user message, at most :data:`MAX_CALL_WINDOW` of them.

    Each update is O(1); a user message clears it, so loop counters start again. A call waiting for its outcome
    keeps its :func:`argument_texts` (what the outcome's digest reads past) until the outcome comes.
    """

    calls: deque[CallRecord] = field(default_factory=lambda: deque(maxlen=MAX_CALL_WINDOW))
    user_messages: int = 0
    texts: dict[int, list[str]] = field(default_factory=dict)

    def add(self, step: int, name: str, arguments: Mapping[str, Any] | None) -> None:
        """Record an executed call (its outcome comes later)."""
        if len(self.calls) == self.calls.maxlen:
            self.texts.pop(self.calls[0].step, None)
        self.calls.append(CallRecord(step, name, canonical_arguments(arguments)))
        self.texts[step] = argument_texts(arguments)

    def add_outcome(self, result: str | None, error: str | None, step: int | None = None) -> int:
        """Attach a result or an error to the latest call still waiting (or to ``step``); returns its step."""
        index = waiting_call(self.calls, step)
        record = self.calls[index]
        self.calls[index] = with_outcome(record, self.texts.pop(record.step, ()), result, error)
        return record.step

    def new_user_message(self) -> None:
        """A new user message: forget the calls, so loop counters start again."""
        self.calls.clear()
        self.texts.clear()
        self.user_messages += 1


@dataclass(slots=True)
class EpisodeHistory:
    """Mutable per-episode state. Owned by a :class:`HistoryStore`; detectors see a :class:`HistoryView`."""

    k: int
    window: int = 20
    steps: list[StepRecord] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    reward_counts: list[int] = field(default_factory=list)
    reward_sums: list[float] = field(default_factory=list)
    recent: deque[int] = field(default_factory=deque)
    run_length: int = 0
    tried: int = 0
    rewarded_steps: int = 0
    total_reward: float = 0.0
    interventions: int = 0
    extra_agent_calls: int = 0
    last_exploration_step: int | None = None
    pending_reward: deque[int] = field(default_factory=deque)
    call_log: CallLog = field(default_factory=CallLog)

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * self.k
            self.reward_counts = [0] * self.k
            self.reward_sums = [0.0] * self.k
        self.recent = deque(self.recent, maxlen=self.window)

    def add_step(
        self,
        action: int,
        *,
        interventions: int = 0,
        extra_agent_calls: int = 0,
        explored: bool = False,
        call: tuple[str, Mapping[str, Any] | None] | None = None,
    ) -> int:
        """Append an executed action, what guarding it cost and its call (tool name, arguments) if given; returns
        its step index."""
        index = len(self.steps)
        self.steps.append(StepRecord(index, action))
        if self.counts[action] == 0:
            self.tried += 1
        self.counts[action] += 1
        self.run_length = self.run_length + 1 if self.recent and self.recent[-1] == action else 1
        self.recent.append(action)
        self.pending_reward.append(index)
        self.interventions += interventions
        self.extra_agent_calls += extra_agent_calls
        if explored:
            self.last_exploration_step = index
        if call is not None:
            self.call_log.add(index, *call)
        return index

    def add_reward(self, reward: float, step: int | None = None) -> int:
        """Attach a reward to the oldest step still waiting for one (or to ``step``); returns that index."""
        if not self.pending_reward:
            raise InvalidInputError("no step of this episode is waiting for a reward")
        if step is None:
            index = self.pending_reward.popleft()
        else:
            if step not in self.pending_reward:
                raise InvalidInputError(f"step {step} is not waiting for a reward")
            self.pending_reward.remove(step)
            index = step
        record = self.steps[index]
        self.steps[index] = StepRecord(index, record.action, reward)
        self.reward_counts[record.action] += 1
        self.reward_sums[record.action] += reward
        self.rewarded_steps += 1
        self.total_reward += reward
        return index

    def view(self) -> HistoryView:
        """A read-only snapshot for one step's detectors and policies."""
        return filled(
            HistoryView,
            k=self.k,
            t=len(self.steps),
            counts=tuple(self.counts),
            reward_counts=tuple(self.reward_counts),
            reward_sums=tuple(self.reward_sums),
            recent=tuple(self.recent),
            run_length=self.run_length,
            tried=self.tried,
            rewarded_steps=self.rewarded_steps,
            total_reward=self.total_reward,
            interventions=self.interventions,
            extra_agent_calls=self.extra_agent_calls,
            last_exploration_step=self.last_exploration_step,
            last_action=self.recent[-1] if self.recent else None,
            calls=tuple(self.call_log.calls),
        )


@dataclass(frozen=True, kw_only=True)  # no slots: the store builds one per step with ``filled``
class HistoryView:
    """Read-only statistics of one episode, as of the start of the current step.

    Actions are indices into the action space. ``counts`` counts choices; means use only rewarded steps.
    ``calls`` holds the latest calls since the episode's last user message, with their outcomes once recorded
    (a store that keeps no calls leaves it empty).
    """

    k: int
    t: int = 0
    counts: tuple[int, ...] = ()
    reward_counts: tuple[int, ...] = ()
    reward_sums: tuple[float, ...] = ()
    recent: tuple[int, ...] = ()
    run_length: int = 0
    tried: int = 0
    rewarded_steps: int = 0
    total_reward: float = 0.0
    interventions: int = 0
    extra_agent_calls: int = 0
    last_exploration_step: int | None = None
    last_action: int | None = None
    calls: tuple[CallRecord, ...] = ()

    @classmethod
    def empty(cls, k: int) -> HistoryView:
        """The view of an episode that has not started."""
        return EpisodeHistory(k).view()

    @property
    def coverage(self) -> float:
        """Fraction of actions tried at least once (the paper's C_t)."""
        return self.tried / self.k if self.k else 0.0

    @property
    def has_rewards(self) -> bool:
        """Whether any reward has been recorded in this episode."""
        return self.rewarded_steps > 0

    def untried(self) -> list[int]:
        """Actions never chosen in this episode."""
        if self.tried == self.k:  # the common case once every action was tried: no scan
            return []
        return [a for a, n in enumerate(self.counts) if n == 0]

    def means(self) -> FloatArray:
        """Mean reward per action; NaN where no reward was recorded."""
        return np.array(self.mean_list(), dtype=np.float64)

    def ucb(self, c: float = 1.0) -> FloatArray:
        """UCB1 index per action: mean + c*sqrt(ln t / n); +inf for actions with no reward yet."""
        return np.array(self.ucb_list(c), dtype=np.float64)

    # Plain-float versions for the per-step hot path: for the k of an agent's action space a list comprehension
    # beats building numpy arrays, and IEEE division and sqrt give the same values either way.
    def mean_list(self) -> list[float]:
        """:meth:`means` as a list of floats."""
        return [total / n if n else math.nan for n, total in zip(self.reward_counts, self.reward_sums, strict=True)]

    def ucb_list(self, c: float = 1.0) -> list[float]:
        """:meth:`ucb` as a list of floats."""
        scale = c * math.sqrt(math.log(max(self.rewarded_steps, 1)))
        return [
            total / n + scale / math.sqrt(n) if n else math.inf
            for n, total in zip(self.reward_counts, self.reward_sums, strict=True)
        ]

    def ucb_gap_bound(self, action: int, c: float = 1.0) -> float:
        """An upper bound on ``max(ucb_list(c)) - ucb_list(c)[action]``, without computing the k indices.

        Every index is at most the best mean plus the largest bonus, and IEEE arithmetic is monotone, so the bound
        holds for the floats :meth:`ucb_list` returns. Infinite while an action has no reward (no bound then).
        """
        counts, sums = self.reward_counts, self.reward_sums
        if 0 in counts:
            return math.inf
        scale = c * math.sqrt(math.log(max(self.rewarded_steps, 1)))
        n = counts[action]
        index = sums[action] / n + scale / math.sqrt(n)  # as ucb_list computes it
        best_mean: float = max(map(operator.truediv, sums, counts))
        return best_mean + scale / math.sqrt(min(counts)) - index

    def greedy_actions(self) -> list[int]:
        """Actions with the highest mean reward among those with a reward (ties: all). Empty if none."""
        # A plain loop: for the k of an agent's action space it beats building numpy arrays.
        best = -math.inf
        out: list[int] = []
        for action, (n, total) in enumerate(zip(self.reward_counts, self.reward_sums, strict=True)):
            if n:
                mean = total / n
                if mean > best:
                    best, out = mean, [action]
                elif mean == best:
                    out.append(action)
        return out

    def most_frequent(self) -> list[int]:
        """The most chosen actions so far (ties: all). Empty before the first step."""
        if self.t == 0:
            return []
        top = max(self.counts)
        return [a for a, n in enumerate(self.counts) if n == top]


@runtime_checkable
class HistoryStore(Protocol):
    """Where per-episode history lives. In memory by default; Redis for replicas (``guardrail.stores``).

    Only ``record_step`` creates an episode: ``view`` of an unknown episode returns the empty view and
    ``record_reward`` for one raises, and neither keeps anything, so rejected calls cost no memory.
    """

    def view(self, episode: str, k: int) -> HistoryView:
        """The episode's statistics now (the empty view for an unknown episode)."""
        ...

    def record_step(
        self,
        episode: str,
        k: int,
        action: int,
        *,
        interventions: int = 0,
        extra_agent_calls: int = 0,
        explored: bool = False,
    ) -> int:
        """Append an executed action with what guarding it cost; returns its step index."""
        ...

    def record_reward(self, episode: str, k: int, reward: float, *, step: int | None = None) -> int:
        """Attach a reward to the episode's oldest unrewarded step (or ``step``); returns its index."""
        ...

    def reset(self, episode: str) -> None:
        """Forget an episode."""
        ...


@runtime_checkable
class CallHistoryStore(Protocol):
    """A history store that also keeps each call's arguments and outcome (what loop detection reads)."""

    def record_call(self, episode: str, k: int, step: int, name: str, arguments: Mapping[str, Any] | None) -> None:
        """Record the call executed at ``step`` (recorded with ``record_step`` just before)."""
        ...

    def record_outcome(
        self, episode: str, k: int, *, result: str | None, error: str | None, step: int | None = None
    ) -> int:
        """Attach a result or an error to the latest call waiting for one (or ``step``); returns its step."""
        ...

    def new_user_message(self, episode: str, k: int) -> None:
        """A new user message arrived: the episode's loop counters start again."""
        ...


@runtime_checkable
class StepCallStore(Protocol):
    """A call-keeping store that records a step and its call as one write (so no reader, and no failure, ever
    sees the step without its call). The Guard uses it when a store has it, else ``record_step`` then
    ``record_call``."""

    def record_step_call(
        self,
        episode: str,
        k: int,
        action: int,
        name: str,
        arguments: Mapping[str, Any] | None,
        *,
        interventions: int = 0,
        extra_agent_calls: int = 0,
        explored: bool = False,
    ) -> int:
        """``record_step`` and ``record_call`` of that step at once; returns the step's index."""
        ...


def checked_history(history: object, detectors: Sequence[object]) -> HistoryStore:
    """``Guard(history=...)``: a HistoryStore (default: in memory) that keeps calls if any detector reads them.

    A detector reads calls when it says so (``needs_calls = True``, as :class:`~guardrail.detectors.Loops` does);
    on a store without ``record_call`` it would see no call and silently find nothing, so that is a
    ConfigurationError naming the store and the detector.
    """
    store: HistoryStore | None = of_type("history", history, HistoryStore)
    if store is None:
        return InMemoryHistoryStore()
    if not isinstance(store, CallHistoryStore):
        for detector in detectors:
            if getattr(detector, "needs_calls", False):
                raise ConfigurationError(
                    f"the detector {type(detector).__name__} reads the episode's calls, but the history store "
                    f"{type(store).__name__} keeps none (it has no record_call/record_outcome/new_user_message), "
                    "so it would never fire; use a store that keeps calls (InMemoryHistoryStore, RedisHistoryStore)"
                )
    return store


def call_store(store: HistoryStore, episode: str) -> CallHistoryStore:
    """``store`` as a store that keeps calls; a ConfigurationError naming it and ``episode`` when it is not one."""
    if not isinstance(store, CallHistoryStore):
        raise ConfigurationError(
            f"the history store {type(store).__name__} keeps no calls, so episode {episode!r} cannot record "
            "outcomes or user messages; use InMemoryHistoryStore (or a store with record_call/record_outcome)"
        )
    return store


def record_outcome(
    store: HistoryStore,
    episode: str,
    k: int,
    *,
    result: object,
    error: str | BaseException | None,
    step: int | None,
) -> int:
    """Record a call's result or error in ``store`` (what ``Guard.record_outcome`` does); returns the call's step.

    A result that is not text is stored as its JSON (or ``str``) form; an exception as ``"Type: message"``.

    Raises:
        InvalidInputError: both a result and an error were given, or no call is waiting for an outcome.
        ConfigurationError: the store keeps no calls.
    """
    if result is not None and error is not None:
        raise InvalidInputError("record_outcome takes a result or an error, not both")
    return call_store(store, episode).record_outcome(
        episode,
        k,
        result=None if result is None else _result_text(result),
        error=None if error is None else _error_text(error),
        step=step,
    )


def _result_text(result: object) -> str:
    if isinstance(result, str):
        return result
    try:
        return json.dumps(result, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(result)


def _error_text(error: str | BaseException) -> str:
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"


class InMemoryHistoryStore:
    """Episode histories in this process, safe under threads (one lock per episode).

    Only :meth:`record_step` creates an episode: a view of an unknown episode is the empty view and a reward for
    one is an error, and neither leaves anything behind, so rejected calls cost no memory.

    Args:
        window: how many recent actions a view carries.
        max_episodes: keep at most this many episodes; beyond that the least recently used one is forgotten
            (None: no bound). Set it, or ``idle_ttl``, for a long-running service with many short episodes.
        idle_ttl: forget an episode not used (stepped, rewarded or viewed) for this many seconds (None: never).
        clock: the time source for ``idle_ttl`` (injectable for tests).

    ``evictions`` counts the episodes forgotten by either bound. An evicted episode that is used again starts
    afresh, as after :meth:`reset`.
    """

    def __init__(
        self,
        *,
        window: int = 20,
        max_episodes: int | None = None,
        idle_ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        require_int("InMemoryHistoryStore", "window", window, least=1)
        if max_episodes is not None:
            require_int("InMemoryHistoryStore", "max_episodes", max_episodes, least=1)
        if idle_ttl is not None and not (idle_ttl > 0 and math.isfinite(idle_ttl)):
            raise ConfigurationError(f"idle_ttl must be a positive number of seconds or None, got {idle_ttl!r}")
        self._window = window
        self.max_episodes = max_episodes
        self.idle_ttl = idle_ttl
        self._clock = clock
        self._bounded = max_episodes is not None or idle_ttl is not None
        self.evictions = 0
        """Episodes forgotten because of ``max_episodes`` or ``idle_ttl``."""
        # One entry holds an episode and its lock, so a concurrent reset() cannot separate them. Insertion order
        # is use order when bounded (the least recently used first), so eviction looks at the front only.
        self._episodes: OrderedDict[str, tuple[EpisodeHistory, threading.Lock]] = OrderedDict()
        self._used: dict[str, float] = {}
        self._empty: dict[int, HistoryView] = {}
        self._guard = threading.Lock()

    def _get(self, episode: str, k: int) -> tuple[EpisodeHistory, threading.Lock]:
        """The episode's entry, created if it is new (for writes that create it: record_step)."""
        entry = self._episodes.get(episode)
        if entry is None or self._bounded:
            with self._guard:
                entry = self._episodes.get(episode)
                if entry is None:
                    entry = (EpisodeHistory(k, window=self._window), threading.Lock())
                    self._episodes[episode] = entry
                if self._bounded:
                    self._touch(episode)
        if entry[0].k != k:
            raise InvalidInputError(f"episode {episode!r} has {entry[0].k} actions; this guard has {k}")
        return entry

    def _find(self, episode: str, k: int) -> tuple[EpisodeHistory, threading.Lock] | None:
        """The episode's entry if it exists (never created: reads and rewards do not make episodes)."""
        entry = self._episodes.get(episode)
        if entry is not None and self._bounded:
            with self._guard:
                entry = self._episodes.get(episode)
                if entry is not None:
                    self._touch(episode)
        if entry is not None and entry[0].k != k:
            raise InvalidInputError(f"episode {episode!r} has {entry[0].k} actions; this guard has {k}")
        return entry

    def _touch(self, episode: str) -> None:
        """Mark the episode used now and evict what the bounds say must go (under ``_guard``)."""
        now = self._clock()
        self._episodes.move_to_end(episode)
        self._used[episode] = now
        episodes = self._episodes
        if self.idle_ttl is not None:
            horizon = now - self.idle_ttl
            while episodes:
                oldest = next(iter(episodes))
                if oldest == episode or self._used.get(oldest, now) >= horizon:
                    break
                self._forget(oldest)
        if self.max_episodes is not None:
            while len(episodes) > self.max_episodes:
                self._forget(next(iter(episodes)))

    def _forget(self, episode: str) -> None:
        self._episodes.pop(episode, None)
        self._used.pop(episode, None)
        self.evictions += 1

    def view(self, episode: str, k: int) -> HistoryView:
        """The episode's statistics now (the empty view for an unknown episode, which is not created)."""
        entry = self._find(episode, k)
        if entry is None:
            empty = self._empty.get(k)
            if empty is None:
                empty = HistoryView.empty(k)  # frozen: one per action count serves every unknown episode
                if len(self._empty) < 64:
                    self._empty[k] = empty
            return empty
        history, lock = entry
        with lock:
            return history.view()

    def record_step(
        self,
        episode: str,
        k: int,
        action: int,
        *,
        interventions: int = 0,
        extra_agent_calls: int = 0,
        explored: bool = False,
    ) -> int:
        """Append an executed action with what guarding it cost; returns its step index."""
        history, lock = self._get(episode, k)
        with lock:
            return history.add_step(
                action, interventions=interventions, extra_agent_calls=extra_agent_calls, explored=explored
            )

    def record_reward(self, episode: str, k: int, reward: float, *, step: int | None = None) -> int:
        """Attach a reward to the episode's oldest unrewarded step (or ``step``); an unknown episode is an error."""
        entry = self._find(episode, k)
        if entry is None:
            raise InvalidInputError("no step of this episode is waiting for a reward")
        history, lock = entry
        with lock:
            return history.add_reward(reward, step)

    def record_call(self, episode: str, k: int, step: int, name: str, arguments: Mapping[str, Any] | None) -> None:
        """Record the call executed at ``step`` (recorded with :meth:`record_step` just before)."""
        history, lock = self._get(episode, k)
        with lock:
            history.call_log.add(step, name, arguments)

    def record_step_call(
        self,
        episode: str,
        k: int,
        action: int,
        name: str,
        arguments: Mapping[str, Any] | None,
        *,
        interventions: int = 0,
        extra_agent_calls: int = 0,
        explored: bool = False,
    ) -> int:
        """:meth:`record_step` and :meth:`record_call` of that step under one lock; returns the step's index."""
        history, lock = self._get(episode, k)
        with lock:
            return history.add_step(
                action,
                interventions=interventions,
                extra_agent_calls=extra_agent_calls,
                explored=explored,
                call=(name, arguments),
            )

    def record_outcome(
        self, episode: str, k: int, *, result: str | None, error: str | None, step: int | None = None
    ) -> int:
        """Attach a result or an error to the latest call waiting for one (or ``step``); returns its step."""
        entry = self._find(episode, k)
        if entry is None:
            raise InvalidInputError(f"no call of episode {episode!r} is waiting for an outcome")
        history, lock = entry
        with lock:
            return history.call_log.add_outcome(result, error, step)

    def new_user_message(self, episode: str, k: int) -> None:
        """A new user message arrived: the episode's loop counters start again (an unknown episode: nothing)."""
        entry = self._find(episode, k)
        if entry is not None:
            history, lock = entry
            with lock:
                history.call_log.new_user_message()

    def reset(self, episode: str) -> None:
        """Forget an episode."""
        with self._guard:
            self._episodes.pop(episode, None)
            self._used.pop(episode, None)

    def episodes(self) -> Iterator[str]:
        """Episode ids currently held."""
        return iter(list(self._episodes))

    def steps(self, episode: str) -> Sequence[StepRecord]:
        """The episode's executed steps (a copy)."""
        entry = self._episodes.get(episode)
        if entry is None:
            return []
        with entry[1]:
            return list(entry[0].steps)
