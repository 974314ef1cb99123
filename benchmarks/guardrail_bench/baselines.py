"""Baseline policies for the bandit benchmarks, and a vectorised runner.

Multi-armed bandit policies (:class:`UCB1`, :class:`UniformRandom`, :class:`EpsilonGreedy`,
:class:`Greedy`) are small frozen dataclasses with two methods:

- ``select(view, rng) -> int``: one episode, from a :class:`~guardrail_bench.envs.BanditView`;
- ``select_batch(counts, means, rng) -> actions``: many episodes at once, ``counts``/``means`` of shape
  ``(n, k)`` (``means`` NaN for untried arms), returning shape ``(n,)``.

``select`` is ``select_batch`` on one row, so the two always agree. **Ties** (equal UCB indices, equal
means, several untried arms) are broken uniformly at random with the given ``rng``, never by index, so
no arm position is favoured; pass a seeded Generator for reproducibility.

:func:`run_baseline` plays a policy on ``n_bandits`` bandits at once and returns a :class:`BanditRun`
(arrays of shape ``(n_bandits, T)``). For a given ``seed`` every policy faces the same bandits and the same
random streams, so their regrets compare pairwise.

For the contextual bandit: :class:`LinUCB` (disjoint LinUCB, Li et al. 2010; ``alpha=0`` is the greedy
ridge-regression policy) and :func:`run_contextual_baseline`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from guardrail import ConfigurationError
from guardrail_bench.envs import BanditBatch, BanditSpec, BanditView, ContextualBandit, ContextualSpec, split_seed
from guardrail_bench.metrics import MeanCI, coverage, cumulative_regret, mean_ci, ucb_values

__all__ = [
    "BASELINES",
    "UCB1",
    "BanditPolicy",
    "BanditRun",
    "EpsilonGreedy",
    "Greedy",
    "LinUCB",
    "UniformRandom",
    "make_baseline",
    "random_argmax",
    "run_baseline",
    "run_contextual_baseline",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def random_argmax(values: npt.ArrayLike, rng: np.random.Generator) -> IntArray:
    """Row-wise argmax of ``values`` ``(n, k)``, ties broken uniformly at random; shape ``(n,)``."""
    arr = np.atleast_2d(np.asarray(values, dtype=np.float64))
    top = arr == arr.max(axis=1, keepdims=True)
    keys = np.where(top, rng.random(arr.shape), -1.0)
    return np.asarray(np.argmax(keys, axis=1), dtype=np.int64)


@runtime_checkable
class BanditPolicy(Protocol):
    """A multi-armed bandit policy usable one episode at a time and batched."""

    def select(self, view: BanditView, rng: np.random.Generator) -> int:
        """The arm to pull next in one episode."""
        ...

    def select_batch(self, counts: IntArray, means: FloatArray, rng: np.random.Generator) -> IntArray:
        """The arm to pull next in each of ``n`` episodes (``counts``/``means`` shape ``(n, k)``)."""
        ...


class _BatchPolicy:
    """Shared ``select``: the batched rule on a single row."""

    __slots__ = ()

    def select_batch(self, counts: IntArray, means: FloatArray, rng: np.random.Generator) -> IntArray:
        raise NotImplementedError

    def select(self, view: BanditView, rng: np.random.Generator) -> int:
        """The arm to pull next in the episode ``view`` describes."""
        counts = np.asarray(view.counts, dtype=np.int64)[None, :]
        means = np.asarray(view.means, dtype=np.float64)[None, :]
        return int(self.select_batch(counts, means, rng)[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class UCB1(_BatchPolicy):
    """UCB1: the arm with the highest ``mean + c*sqrt(ln t / n)``; untried arms first (infinite index).

    ``c = 1`` by default, the index that defines the paper's "optimal action" in
    :mod:`guardrail_bench.metrics` (so this baseline's choices are exactly the optimal actions).
    Textbook UCB1 is ``c = sqrt(2)``.
    """

    c: float = 1.0

    def __post_init__(self) -> None:
        if not (self.c >= 0 and math.isfinite(self.c)):
            raise ConfigurationError(f"c must be a non-negative number; got {self.c}")

    def select_batch(self, counts: IntArray, means: FloatArray, rng: np.random.Generator) -> IntArray:
        """Row-wise UCB argmax, random among ties (so a random untried arm while any is untried)."""
        return random_argmax(ucb_values(counts, means, c=self.c), rng)


@dataclass(frozen=True, slots=True, kw_only=True)
class UniformRandom(_BatchPolicy):
    """Every arm with probability ``1/k`` at every step (the paper's lower reference)."""

    def select_batch(self, counts: IntArray, means: FloatArray, rng: np.random.Generator) -> IntArray:
        """A uniformly random arm per row."""
        n, k = np.shape(counts)
        return np.asarray(rng.integers(0, k, size=n), dtype=np.int64)


def _greedy_batch(counts: IntArray, means: FloatArray, rng: np.random.Generator) -> IntArray:
    """The best empirical mean among tried arms (random among ties; any arm on a row with none tried)."""
    tried = np.asarray(counts) > 0
    values = np.where(tried, np.asarray(means, dtype=np.float64), -np.inf)
    values = np.where(tried.any(axis=1, keepdims=True), values, 0.0)
    return random_argmax(values, rng)


@dataclass(frozen=True, slots=True, kw_only=True)
class Greedy(_BatchPolicy):
    """Pure exploitation: try ``n_initial`` distinct random arms, then always the best empirical mean.

    With ``n_initial=1`` this always takes the paper's "greedy action" (after a random first step).
    """

    n_initial: int = 1

    def __post_init__(self) -> None:
        if self.n_initial < 1:
            raise ConfigurationError(f"n_initial must be >= 1; got {self.n_initial}")

    def select_batch(self, counts: IntArray, means: FloatArray, rng: np.random.Generator) -> IntArray:
        """A random untried arm on rows with fewer than ``n_initial`` tried arms, else the greedy arm."""
        counts_arr = np.asarray(counts)
        greedy = _greedy_batch(counts_arr, means, rng)
        exploring = (counts_arr > 0).sum(axis=1) < self.n_initial
        untried_pick = random_argmax(np.where(counts_arr == 0, 1.0, 0.0), rng)
        return np.where(exploring, untried_pick, greedy).astype(np.int64)


@dataclass(frozen=True, slots=True, kw_only=True)
class EpsilonGreedy(_BatchPolicy):
    """With probability ``epsilon`` a uniformly random arm, otherwise the greedy arm (the paper: 0.1)."""

    epsilon: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise ConfigurationError(f"epsilon must be in [0, 1]; got {self.epsilon}")

    def select_batch(self, counts: IntArray, means: FloatArray, rng: np.random.Generator) -> IntArray:
        """Per row: explore with probability ``epsilon``, else exploit."""
        n, k = np.shape(counts)
        explore = rng.random(n) < self.epsilon
        random_arms = rng.integers(0, k, size=n)
        return np.where(explore, random_arms, _greedy_batch(counts, means, rng)).astype(np.int64)


BaselineName = Literal["ucb", "random", "epsilon_greedy", "greedy"]

#: Baselines by name, with their default settings.
BASELINES: dict[str, BanditPolicy] = {
    "ucb": UCB1(),
    "random": UniformRandom(),
    "epsilon_greedy": EpsilonGreedy(),
    "greedy": Greedy(),
}


def make_baseline(name: str) -> BanditPolicy:
    """The baseline called ``name`` (one of :data:`BASELINES`)."""
    try:
        return BASELINES[name]
    except KeyError:
        raise ConfigurationError(f"unknown baseline {name!r}; choose one of {sorted(BASELINES)}") from None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BanditRun:
    """The record of ``n`` episodes of ``T`` steps.

    Attributes:
        name: what played (a baseline or agent name).
        actions: executed arm per step, ``(n, T)`` int.
        rewards: reward per step, ``(n, T)``.
        regret: *cumulative* regret, ``(n, T)``.
        coverage: ``C_t``, fraction of arms tried by step ``t`` inclusive, ``(n, T)``.
        means: the bandits' arm means, ``(n, k)`` (for the contextual runner: per-step expected rewards are
            not kept, and ``means`` is empty with shape ``(n, 0)``).
    """

    name: str
    actions: IntArray
    rewards: FloatArray
    regret: FloatArray
    coverage: FloatArray
    means: FloatArray

    @property
    def n_episodes(self) -> int:
        """Number of episodes (rows)."""
        return int(self.actions.shape[0])

    @property
    def horizon(self) -> int:
        """Steps per episode."""
        return int(self.actions.shape[1])

    def final_regret(self) -> MeanCI:
        """Cumulative regret at ``T``: mean over episodes and 95% CI."""
        return mean_ci(self.regret[:, -1])

    def final_coverage(self) -> MeanCI:
        """Coverage at ``T``: mean over episodes and 95% CI."""
        return mean_ci(self.coverage[:, -1])


def _check_run_args(n_bandits: int, seed: int) -> None:
    if n_bandits < 1:
        raise ConfigurationError(f"n_bandits must be >= 1; got {n_bandits}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigurationError(f"seed must be an int; got {seed!r}")


def run_baseline(
    name: str | BanditPolicy, spec: BanditSpec | None = None, n_bandits: int = 64, seed: int = 0
) -> BanditRun:
    """Play a baseline (a name in :data:`BASELINES` or a policy object) on ``n_bandits`` bandits of ``spec``.

    >>> run = run_baseline("ucb", BanditSpec(k=5, horizon=20), n_bandits=8, seed=1)
    >>> run.actions.shape, run.coverage[:, -1].min()
    ((8, 20), np.float64(1.0))
    """
    _check_run_args(n_bandits, seed)
    policy = make_baseline(name) if isinstance(name, str) else name
    label = name if isinstance(name, str) else type(name).__name__
    chosen_spec = spec if spec is not None else BanditSpec()
    env_rng, reward_rng, policy_rng = split_seed(int(seed))
    batch = BanditBatch(chosen_spec, n_bandits, seed=env_rng)
    k, horizon = chosen_spec.k, chosen_spec.horizon
    counts = np.zeros((n_bandits, k), dtype=np.int64)
    sums = np.zeros((n_bandits, k), dtype=np.float64)
    actions = np.zeros((n_bandits, horizon), dtype=np.int64)
    rewards = np.zeros((n_bandits, horizon), dtype=np.float64)
    rows = np.arange(n_bandits)
    for t in range(horizon):
        means = np.full((n_bandits, k), np.nan)
        np.divide(sums, counts, out=means, where=counts > 0)
        chosen = policy.select_batch(counts, means, policy_rng)
        reward = batch.pull(chosen, reward_rng)
        actions[:, t] = chosen
        rewards[:, t] = reward
        counts[rows, chosen] += 1
        sums[rows, chosen] += reward
    return BanditRun(
        name=label,
        actions=actions,
        rewards=rewards,
        regret=cumulative_regret(actions, batch.means),
        coverage=coverage(actions, k),
        means=batch.means,
    )


# ============================================================================================ contextual


class LinUCB:
    """Disjoint LinUCB (Li et al., 2010): per arm a ridge regression ``theta_a``; choose the arm with the
    highest ``x . theta_a + alpha * sqrt(x' A_a^-1 x)``. ``alpha = 0`` is the greedy ridge policy.

    Holds one episode's state: call :meth:`reset` between episodes (or build a new one).
    """

    def __init__(self, k: int, d: int, *, alpha: float = 1.0, ridge: float = 1.0) -> None:
        if k < 1 or d < 1:
            raise ConfigurationError(f"k and d must be >= 1; got k={k}, d={d}")
        if not (alpha >= 0 and math.isfinite(alpha)):
            raise ConfigurationError(f"alpha must be a non-negative number; got {alpha}")
        if not ridge > 0:
            raise ConfigurationError(f"ridge must be > 0; got {ridge}")
        self.k, self.d, self.alpha, self.ridge = k, d, alpha, ridge
        self.a_matrices: FloatArray = np.zeros((k, d, d))
        self.b_vectors: FloatArray = np.zeros((k, d))
        self.reset()

    def reset(self) -> None:
        """Forget everything learned (a new episode)."""
        self.a_matrices = np.repeat(np.eye(self.d)[None, :, :] * self.ridge, self.k, axis=0)
        self.b_vectors = np.zeros((self.k, self.d))

    def scores(self, features: npt.ArrayLike) -> FloatArray:
        """The LinUCB index of every arm for ``features`` (shape ``(k,)``)."""
        x = np.asarray(features, dtype=np.float64)
        theta = np.linalg.solve(self.a_matrices, self.b_vectors[:, :, None])[:, :, 0]
        a_inv_x = np.linalg.solve(self.a_matrices, np.broadcast_to(x[None, :, None], (self.k, self.d, 1)))[:, :, 0]
        width = np.sqrt(np.maximum(a_inv_x @ x, 0.0))
        return np.asarray(theta @ x + self.alpha * width, dtype=np.float64)

    def select(self, features: npt.ArrayLike, rng: np.random.Generator) -> int:
        """The arm with the highest index (random among ties)."""
        return int(random_argmax(self.scores(features)[None, :], rng)[0])

    def update(self, arm: int, features: npt.ArrayLike, reward: float) -> None:
        """Record that ``arm`` earned ``reward`` for ``features``."""
        x = np.asarray(features, dtype=np.float64)
        self.a_matrices[arm] += np.outer(x, x)
        self.b_vectors[arm] += reward * x


def run_contextual_baseline(
    name: Literal["linucb", "greedy", "random"],
    spec: ContextualSpec | None = None,
    n_episodes: int = 64,
    seed: int = 0,
    *,
    alpha: float = 1.0,
) -> BanditRun:
    """Play ``"linucb"`` (with ``alpha``), ``"greedy"`` (LinUCB with ``alpha=0``) or ``"random"`` on
    ``n_episodes`` contextual bandits; regret is against each user's best expected reward."""
    _check_run_args(n_episodes, seed)
    if name not in ("linucb", "greedy", "random"):
        raise ConfigurationError(f"unknown contextual baseline {name!r}; choose 'linucb', 'greedy' or 'random'")
    chosen_spec = spec if spec is not None else ContextualSpec()
    env_rng, reward_rng, policy_rng = split_seed(int(seed))
    k, horizon = chosen_spec.k, chosen_spec.horizon
    actions = np.zeros((n_episodes, horizon), dtype=np.int64)
    rewards = np.zeros((n_episodes, horizon), dtype=np.float64)
    regret = np.zeros((n_episodes, horizon), dtype=np.float64)
    for episode in range(n_episodes):
        env_seed = int(env_rng.integers(2**63 - 1))
        env = ContextualBandit(chosen_spec, seed=env_seed)
        learner = LinUCB(k, chosen_spec.d, alpha=0.0 if name == "greedy" else alpha)
        for t in range(horizon):
            _, x = env.context(t)
            arm = int(policy_rng.integers(k)) if name == "random" else learner.select(x, policy_rng)
            reward = env.reward(arm, x, reward_rng)
            learner.update(arm, x, reward)
            actions[episode, t], rewards[episode, t] = arm, reward
            regret[episode, t] = env.regret(arm, x)
    return BanditRun(
        name=name,
        actions=actions,
        rewards=rewards,
        regret=np.cumsum(regret, axis=1),
        coverage=coverage(actions, k),
        means=np.zeros((n_episodes, 0)),
    )
