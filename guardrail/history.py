"""Per-episode history and the statistics detectors and policies read, kept incrementally.

Every update is O(1) in the episode's length (O(k) reads for k actions), so a 10^5-step episode costs
what a 10-step one does.
"""

from __future__ import annotations

import math
import operator
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from guardrail._frozen import filled
from guardrail.exceptions import ConfigurationError, InvalidInputError

__all__ = [
    "EpisodeHistory",
    "HistoryStore",
    "HistoryView",
    "InMemoryHistoryStore",
    "StepRecord",
    "check_reward",
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

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * self.k
            self.reward_counts = [0] * self.k
            self.reward_sums = [0.0] * self.k
        self.recent = deque(self.recent, maxlen=self.window)

    def add_step(self, action: int) -> int:
        """Append an executed action; returns its step index."""
        index = len(self.steps)
        self.steps.append(StepRecord(index, action))
        if self.counts[action] == 0:
            self.tried += 1
        self.counts[action] += 1
        self.run_length = self.run_length + 1 if self.recent and self.recent[-1] == action else 1
        self.recent.append(action)
        self.pending_reward.append(index)
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
        )


@dataclass(frozen=True, kw_only=True)  # no slots: the store builds one per step with ``filled``
class HistoryView:
    """Read-only statistics of one episode, as of the start of the current step.

    Actions are indices into the action space. ``counts`` counts choices; means use only rewarded steps.
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
        if window < 1:
            raise ConfigurationError(f"window must be >= 1, got {window}")
        if max_episodes is not None and (isinstance(max_episodes, bool) or max_episodes < 1):
            raise ConfigurationError(f"max_episodes must be >= 1 or None, got {max_episodes!r}")
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
            index = history.add_step(action)
            history.interventions += interventions
            history.extra_agent_calls += extra_agent_calls
            if explored:
                history.last_exploration_step = index
            return index

    def record_reward(self, episode: str, k: int, reward: float, *, step: int | None = None) -> int:
        """Attach a reward to the episode's oldest unrewarded step (or ``step``); an unknown episode is an error."""
        entry = self._find(episode, k)
        if entry is None:
            raise InvalidInputError("no step of this episode is waiting for a reward")
        history, lock = entry
        with lock:
            return history.add_reward(reward, step)

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
