"""Benchmark metrics, with exactly the definitions of Schmied et al. (2025) (see docs/background.md).

Pure functions over arrays and sequences; nothing here holds state or draws random numbers.

Conventions
-----------
- Actions are arm indices ``0..k-1``. Arrays of a batch of episodes have shape ``(n_episodes, T)``; a single
  episode may be passed as a 1-D array of shape ``(T,)`` wherever a batch is accepted.
- The statistics of step ``t`` are those of the history *before* step ``t`` (steps ``0..t-1``).
- **Greedy action set**: the arms with the highest empirical mean among arms already tried (ties: all of
  them). Empty before the first step.
- **Optimal action set**: the arms with the highest UCB index ``mean + c*sqrt(ln t / n)`` with ``t`` the
  number of steps so far (at least 1) and ``n`` the arm's count; untried arms have an infinite index, so
  while any arm is untried the optimal set is *every* untried arm (and before the first step, every arm).
  ``c = 1`` by default, the same index as :meth:`guardrail.history.HistoryView.ucb`.
- **Frequent action set**: the most frequent action(s) in the history so far (ties: all). Empty at step 0.
- **Classification** of a step into ``greedy`` / ``optimal`` / ``other``, with priority *greedy first*:
  an action in the greedy set is ``greedy`` even when it is also in the optimal set; otherwise an action in
  the optimal set is ``optimal``; otherwise ``other``. Our reading of the paper's 2x2 table: its three
  columns partition the steps, and a step whose greedy and UCB actions coincide is counted under
  "greedy action" (so the "optimal" column is the *exploratory* use of UCB). A consequence: at step 0
  (no arm tried, greedy set empty, every arm optimal) every action is ``optimal``.
- **Rationale correct**: the arm the rationale recommends (the arm its own UCB values rank first) is in
  the optimal set. With several untried arms, naming any untried arm is correct.
- **Coverage** ``C_t``: the fraction of the ``k`` arms tried in steps ``0..t`` (inclusive).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from guardrail import ConfigurationError

__all__ = [
    "CATEGORIES",
    "PAPER_KNOWING_DOING_TABLE",
    "Category",
    "FrequencyFractions",
    "KnowingDoingTable",
    "MeanCI",
    "StepSets",
    "classify_action",
    "classify_episode",
    "coverage",
    "cumulative_regret",
    "empirical_means",
    "episode_step_sets",
    "frequency_fractions",
    "frequent_set",
    "greedy_set",
    "instant_regret",
    "invalid_action_rate",
    "k_min_frac",
    "knowing_doing_table",
    "mean_ci",
    "optimal_set",
    "suffix_failure_frequency",
    "ucb_values",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

Category = Literal["greedy", "optimal", "other"]

#: The three action categories, in the column order of the knowing-doing table.
CATEGORIES: tuple[Category, ...] = ("greedy", "optimal", "other")

#: Schmied et al.'s knowing-doing table for Gemma2-27B, percent of all steps:
#: rows (rationale correct, rationale wrong) x columns (greedy, optimal, other).
PAPER_KNOWING_DOING_TABLE: tuple[tuple[float, float, float], tuple[float, float, float]] = (
    (58.1, 21.6, 10.6),
    (7.2, 0.6, 2.0),
)


# --------------------------------------------------------------------------------------------- statistics


def empirical_means(counts: npt.ArrayLike, sums: npt.ArrayLike) -> FloatArray:
    """Mean reward per arm, ``sums / counts``; NaN where an arm has not been tried. Any leading shape."""
    counts_arr = np.asarray(counts, dtype=np.float64)
    sums_arr = np.asarray(sums, dtype=np.float64)
    out = np.full(np.broadcast_shapes(counts_arr.shape, sums_arr.shape), np.nan)
    np.divide(sums_arr, counts_arr, out=out, where=counts_arr > 0)
    return out


def ucb_values(counts: npt.ArrayLike, means: npt.ArrayLike, *, c: float = 1.0) -> FloatArray:
    """UCB index per arm: ``mean + c*sqrt(ln t / n)``, ``+inf`` for untried arms.

    ``counts`` and ``means`` have shape ``(..., k)``; ``t`` is the number of steps so far, ``counts.sum(-1)``
    (at least 1, so the bonus is 0 after a single step).
    """
    counts_arr = np.asarray(counts, dtype=np.float64)
    means_arr = np.asarray(means, dtype=np.float64)
    t = np.maximum(counts_arr.sum(axis=-1, keepdims=True), 1.0)
    tried = counts_arr > 0
    bonus = np.full(counts_arr.shape, np.inf)
    np.divide(c * np.sqrt(np.log(t)), np.sqrt(counts_arr), out=bonus, where=tried)
    return np.where(tried, means_arr + bonus, np.inf)


def greedy_set(counts: npt.ArrayLike, means: npt.ArrayLike) -> frozenset[int]:
    """Arms with the highest empirical mean among those tried (ties: all). Empty if none is tried."""
    counts_arr = np.asarray(counts)
    means_arr = np.asarray(means, dtype=np.float64)
    tried = counts_arr > 0
    if not tried.any():
        return frozenset()
    masked = np.where(tried, means_arr, -np.inf)
    return frozenset(int(a) for a in np.flatnonzero(masked == masked.max()))


def optimal_set(counts: npt.ArrayLike, means: npt.ArrayLike, *, c: float = 1.0) -> frozenset[int]:
    """Arms with the highest UCB index (ties: all). While any arm is untried: exactly the untried arms."""
    index = ucb_values(counts, means, c=c)
    return frozenset(int(a) for a in np.flatnonzero(index == index.max()))


def frequent_set(actions: Iterable[int]) -> frozenset[int]:
    """The most frequent action(s) among ``actions`` (ties: all). Empty for an empty history."""
    tally = Counter(int(a) for a in actions)
    if not tally:
        return frozenset()
    top = max(tally.values())
    return frozenset(a for a, n in tally.items() if n == top)


def classify_action(action: int, *, greedy: frozenset[int], optimal: frozenset[int]) -> Category:
    """``greedy`` if ``action`` is greedy, else ``optimal`` if it is a UCB argmax, else ``other``.

    Greedy has priority where the two sets share the action (see the module docstring).
    """
    if action in greedy:
        return "greedy"
    if action in optimal:
        return "optimal"
    return "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSets:
    """The reference action sets at one step, computed from the history before it."""

    greedy: frozenset[int]
    optimal: frozenset[int]
    frequent: frozenset[int]


def _check_episode(actions: npt.ArrayLike, rewards: npt.ArrayLike, k: int) -> tuple[IntArray, FloatArray]:
    if k < 1:
        raise ConfigurationError(f"k must be >= 1; got {k}")
    acts = np.asarray(actions, dtype=np.int64)
    rews = np.asarray(rewards, dtype=np.float64)
    if acts.ndim != 1 or acts.shape != rews.shape:
        raise ConfigurationError(
            f"one episode's actions and rewards must be 1-D and of the same length; got {acts.shape} and {rews.shape}"
        )
    if acts.size and (acts.min() < 0 or acts.max() >= k):
        raise ConfigurationError(f"actions must be arm indices in 0..{k - 1}")
    return acts, rews


def episode_step_sets(actions: npt.ArrayLike, rewards: npt.ArrayLike, k: int, *, c: float = 1.0) -> list[StepSets]:
    """The greedy, optimal and frequent sets at every step of one episode (1-D ``actions``/``rewards``)."""
    acts, rews = _check_episode(actions, rewards, k)
    counts = np.zeros(k, dtype=np.int64)
    sums = np.zeros(k, dtype=np.float64)
    tally: Counter[int] = Counter()
    out: list[StepSets] = []
    for action, reward in zip(acts.tolist(), rews.tolist(), strict=True):
        means = empirical_means(counts, sums)
        top = max(tally.values()) if tally else 0
        out.append(
            StepSets(
                greedy=greedy_set(counts, means),
                optimal=optimal_set(counts, means, c=c),
                frequent=frozenset(a for a, n in tally.items() if n == top),
            )
        )
        counts[action] += 1
        sums[action] += reward
        tally[action] += 1
    return out


def classify_episode(actions: npt.ArrayLike, rewards: npt.ArrayLike, k: int, *, c: float = 1.0) -> tuple[Category, ...]:
    """Each step of one episode classified as ``greedy`` / ``optimal`` / ``other`` (greedy first)."""
    acts, _ = _check_episode(actions, rewards, k)
    sets = episode_step_sets(actions, rewards, k, c=c)
    return tuple(
        classify_action(int(a), greedy=s.greedy, optimal=s.optimal) for a, s in zip(acts.tolist(), sets, strict=True)
    )


# --------------------------------------------------------------------------------------------- regret, coverage


def instant_regret(actions: npt.ArrayLike, means: npt.ArrayLike) -> FloatArray:
    """Per-step regret ``max(mu) - mu[action]``: actions ``(n, T)`` (or ``(T,)``), means ``(n, k)`` (or ``(k,)``)."""
    acts = np.asarray(actions, dtype=np.int64)
    mus = np.asarray(means, dtype=np.float64)
    if acts.ndim == 1:
        if mus.ndim != 1:
            raise ConfigurationError("a 1-D action sequence needs 1-D means")
        return np.asarray(mus.max() - mus[acts], dtype=np.float64)
    if mus.ndim != 2 or mus.shape[0] != acts.shape[0]:
        raise ConfigurationError(f"means must have shape (n, k) with n = {acts.shape[0]}; got {mus.shape}")
    chosen = np.take_along_axis(mus, acts, axis=1)
    return np.asarray(mus.max(axis=1, keepdims=True) - chosen, dtype=np.float64)


def cumulative_regret(actions: npt.ArrayLike, means: npt.ArrayLike) -> FloatArray:
    """Cumulative regret against the best arm, same shape as ``actions`` (see :func:`instant_regret`)."""
    return np.cumsum(instant_regret(actions, means), axis=-1)


def coverage(actions: npt.ArrayLike, k: int) -> FloatArray:
    """Action coverage ``C_t``: fraction of the ``k`` arms tried in steps ``0..t``; same shape as ``actions``.

    Negative entries (an invalid action that executed nothing) are not counted as trying an arm.
    """
    if k < 1:
        raise ConfigurationError(f"k must be >= 1; got {k}")
    acts = np.asarray(actions, dtype=np.int64)
    batch = np.atleast_2d(acts)
    n, horizon = batch.shape
    tried = np.zeros((n, k), dtype=bool)
    out = np.zeros((n, horizon), dtype=np.float64)
    rows = np.arange(n)
    for t in range(horizon):
        column = batch[:, t]
        valid = (column >= 0) & (column < k)
        tried[rows[valid], column[valid]] = True
        out[:, t] = tried.sum(axis=1) / k
    return out.reshape(acts.shape)


def suffix_failure_frequency(actions: npt.ArrayLike, best_arms: npt.ArrayLike) -> FloatArray:
    """Krishnamurthy et al.'s SuffFailFreq(t): the fraction of episodes that never pick their best arm in
    steps ``t..T-1``. ``actions`` ``(n, T)``, ``best_arms`` ``(n,)``; returns shape ``(T,)``."""
    acts = np.atleast_2d(np.asarray(actions, dtype=np.int64))
    best = np.atleast_1d(np.asarray(best_arms, dtype=np.int64))
    hits = acts == best[:, None]
    # picked_later[:, t] = any hit in t..T-1 (reverse cumulative or).
    picked_later = np.flip(np.logical_or.accumulate(np.flip(hits, axis=1), axis=1), axis=1)
    return np.asarray((~picked_later).mean(axis=0), dtype=np.float64)


def k_min_frac(actions: npt.ArrayLike, k: int) -> FloatArray:
    """Krishnamurthy et al.'s K*MinFrac(t): ``k * min_a N_a(t) / t`` averaged over episodes, shape ``(T,)``.

    ``N_a(t)`` counts the pulls of arm ``a`` in steps ``0..t``. 1 for a perfectly uniform policy, 0 while
    some arm is untried.
    """
    acts = np.atleast_2d(np.asarray(actions, dtype=np.int64))
    onehot = acts[:, :, None] == np.arange(k)[None, None, :]
    counts = np.cumsum(onehot, axis=1)
    steps = np.arange(1, acts.shape[1] + 1, dtype=np.float64)
    return np.asarray((k * counts.min(axis=2) / steps).mean(axis=0), dtype=np.float64)


def invalid_action_rate(actions: Iterable[object]) -> float:
    """Fraction of steps whose action is invalid: ``None`` or a negative integer (how runners mark them)."""
    values = list(actions)
    if not values:
        return 0.0
    invalid = sum(
        1 for a in values if a is None or (isinstance(a, (int, np.integer)) and not isinstance(a, bool) and a < 0)
    )
    return invalid / len(values)


# --------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowingDoingTable:
    """The knowing-doing 2x2 (really 2x3) table in percent of all steps.

    ``cells[0]`` is "rationale correct", ``cells[1]`` "rationale wrong"; columns follow :data:`CATEGORIES`
    (greedy, optimal, other). The six cells sum to 100 (for a non-empty table).
    """

    cells: tuple[tuple[float, float, float], tuple[float, float, float]]
    n_steps: int

    @property
    def rationale_correct(self) -> float:
        """Percent of steps whose rationale was correct."""
        return float(sum(self.cells[0]))

    def row_fractions(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """Each row normalised to sum to 1 (e.g. given a correct rationale: greedy, optimal, other)."""
        rows: list[tuple[float, float, float]] = []
        for row in self.cells:
            total = sum(row)
            rows.append((row[0] / total, row[1] / total, row[2] / total) if total else (math.nan,) * 3)
        return rows[0], rows[1]

    def max_abs_difference(
        self, other: KnowingDoingTable | Sequence[Sequence[float]] = PAPER_KNOWING_DOING_TABLE
    ) -> float:
        """The largest cell-wise difference in percentage points (default: against the paper's table)."""
        theirs = np.asarray(other.cells if isinstance(other, KnowingDoingTable) else other, dtype=np.float64)
        return float(np.abs(np.asarray(self.cells, dtype=np.float64) - theirs).max())

    def format(self, reference: Sequence[Sequence[float]] | None = PAPER_KNOWING_DOING_TABLE) -> str:
        """A small text table; with ``reference``, each cell is followed by the reference value."""
        header = f"{'':>18} {'greedy':>14} {'optimal':>14} {'other':>14}"
        lines = [header]
        for label, index in (("rationale correct", 0), ("rationale wrong", 1)):
            cells = []
            for column in range(3):
                value = f"{self.cells[index][column]:5.1f}"
                if reference is not None:
                    value += f" ({reference[index][column]:4.1f})"
                cells.append(f"{value:>14}")
            lines.append(f"{label:>18} " + " ".join(cells))
        return "\n".join(lines)


def knowing_doing_table(rationale_correct: Iterable[bool], categories: Iterable[Category]) -> KnowingDoingTable:
    """The knowing-doing table from per-step flags and categories (flattened, paired in order)."""
    flags = [bool(flag) for flag in rationale_correct]
    cats = list(categories)
    if len(flags) != len(cats):
        raise ConfigurationError(
            f"rationale_correct and categories must pair up; got {len(flags)} and {len(cats)} steps"
        )
    counts = np.zeros((2, 3), dtype=np.float64)
    column_of = {name: i for i, name in enumerate(CATEGORIES)}
    for flag, category in zip(flags, cats, strict=True):
        if category not in column_of:
            raise ConfigurationError(f"unknown category {category!r}; expected one of {CATEGORIES}")
        counts[0 if flag else 1, column_of[category]] += 1
    n = len(flags)
    percent = counts * (100.0 / n) if n else counts
    row0 = (float(percent[0, 0]), float(percent[0, 1]), float(percent[0, 2]))
    row1 = (float(percent[1, 0]), float(percent[1, 1]), float(percent[1, 2]))
    return KnowingDoingTable(cells=(row0, row1), n_steps=n)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyFractions:
    """Shares of actions on the steps where no most-frequent action is greedy (the paper's 96% figure).

    ``frequent + greedy + other == 1`` over ``n_steps`` such steps (all NaN if there are none).
    """

    frequent: float
    greedy: float
    other: float
    n_steps: int


def frequency_fractions(actions: npt.ArrayLike, rewards: npt.ArrayLike, k: int) -> FrequencyFractions:
    """Frequent / greedy / other fractions over the steps whose frequent set does not meet the greedy set.

    ``actions`` and ``rewards`` are one episode ``(T,)`` or a batch ``(n, T)``; steps are pooled. Step 0
    (no history, no frequent action) never counts. An action both frequent and greedy cannot occur on the
    counted steps, so the three shares partition them.
    """
    acts = np.atleast_2d(np.asarray(actions, dtype=np.int64))
    rews = np.atleast_2d(np.asarray(rewards, dtype=np.float64))
    tally = {"frequent": 0, "greedy": 0, "other": 0}
    for episode_actions, episode_rewards in zip(acts, rews, strict=True):
        sets = episode_step_sets(episode_actions, episode_rewards, k)
        for action, s in zip(episode_actions.tolist(), sets, strict=True):
            if not s.frequent or s.frequent & s.greedy:
                continue
            if action in s.frequent:
                tally["frequent"] += 1
            elif action in s.greedy:
                tally["greedy"] += 1
            else:
                tally["other"] += 1
    n = sum(tally.values())
    if n == 0:
        return FrequencyFractions(frequent=math.nan, greedy=math.nan, other=math.nan, n_steps=0)
    return FrequencyFractions(
        frequent=tally["frequent"] / n, greedy=tally["greedy"] / n, other=tally["other"] / n, n_steps=n
    )


# --------------------------------------------------------------------------------------------- summaries


@dataclass(frozen=True, slots=True, kw_only=True)
class MeanCI:
    """A mean with the half-width of its 95% confidence interval (normal approximation)."""

    mean: float
    half_width: float
    n: int

    @property
    def low(self) -> float:
        """Lower end of the interval."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the interval."""
        return self.mean + self.half_width

    def __str__(self) -> str:
        return f"{self.mean:.3g} ± {self.half_width:.2g}"


def mean_ci(values: npt.ArrayLike, *, z: float = 1.96) -> MeanCI:
    """Mean and ``z * sd / sqrt(n)`` (sample sd, ``ddof=1``) of the flattened ``values``.

    A single value has an undefined spread: its half-width is NaN. An empty input is an error.
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    if data.size == 0:
        raise ConfigurationError("mean_ci needs at least one value")
    if data.size == 1:
        return MeanCI(mean=float(data[0]), half_width=math.nan, n=1)
    spread = 0.0 if np.all(data == data[0]) else float(data.std(ddof=1))  # exact 0 for constant data
    half = z * spread / math.sqrt(data.size)
    return MeanCI(mean=float(data.mean()), half_width=half, n=int(data.size))
