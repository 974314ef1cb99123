"""Benchmark environments: the paper's button bandit, a contextual bandit, tic-tac-toe and AIW questions.

Every environment is built from a seed (an ``int``) or a ``numpy.random.Generator``; every stochastic
method (a reward draw, an opponent's move) takes a Generator, so runs are reproducible.

- :class:`BanditSpec` / :class:`MultiArmedBandit` / :class:`BanditBatch`: the multi-armed "button" bandit
  of Schmied et al. (2025): Gaussian rewards ``N(mu, sigma)`` with ``mu ~ U(0, 1)``, or BanditBench-style
  Bernoulli arms (best ``0.5 + gap/2``, the others ``0.5 - gap/2``). Arms are named by colour (the first
  ``k`` of :data:`COLOUR_NAMES`, in that fixed order; the means are random, so the order carries no
  information) or ``arm_1..arm_k``.
- :class:`BanditView`: what an agent sees of its own episode (names, counts, means, the action sequence).
- :class:`ContextualSpec` / :class:`ContextualBandit`: users described in text with a genre-affinity
  feature vector, movies as arms, linear rewards ``x . theta_a + noise``.
- :class:`TicTacToe`: the agent against a ``"random"`` or perfect ``"minimax"`` opponent.
- :func:`aiw_questions`: "Alice in Wonderland" items (answer ``M + 1``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from guardrail import ConfigurationError
from guardrail_bench.metrics import empirical_means, greedy_set, optimal_set, ucb_values

__all__ = [
    "COLOUR_NAMES",
    "INVALID_ACTION_REWARD",
    "MOVE_NAMES",
    "MOVIE_TITLES",
    "SPACED_NAMES",
    "AIWItem",
    "BanditBatch",
    "BanditSpec",
    "BanditView",
    "ContextualBandit",
    "ContextualSpec",
    "MultiArmedBandit",
    "TicTacToe",
    "TicTacToeResult",
    "aiw_questions",
    "as_generator",
    "minimax_move",
    "split_seed",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Seed = int | np.random.Generator

#: Button names for colour-named arms, in the order they are used (arm ``i`` is ``COLOUR_NAMES[i]``).
COLOUR_NAMES: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "purple", "orange", "pink", "brown", "black", "white",
    "grey", "cyan", "magenta", "teal", "olive", "navy", "maroon", "lime", "gold", "silver",
)  # fmt: skip

#: Arm names with spaces, for prompts unlike the paper's (``naming="spaced"``; arm ``i`` is ``SPACED_NAMES[i]``).
SPACED_NAMES: tuple[str, ...] = (
    "dark blue", "light green", "bright red", "pale yellow", "deep purple",
    "burnt orange", "hot pink", "dusty brown", "jet black", "snow white",
)  # fmt: skip

#: The paper's penalty: an invalid action executes a random arm and earns this reward instead.
INVALID_ACTION_REWARD = -5.0


def as_generator(seed: Seed) -> np.random.Generator:
    """A Generator from an ``int`` seed, or the Generator itself (shared, not copied)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigurationError(f"seed must be an int or a numpy.random.Generator; got {seed!r}")
    return np.random.default_rng(int(seed))


def split_seed(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Three independent generators from one seed: (bandit means, reward noise, the agent or policy).

    Runners use these so that, for one seed, every policy and agent faces the same bandits and the same
    reward noise stream, and their results compare pairwise.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigurationError(f"seed must be an int; got {seed!r}")
    env_seq, reward_seq, policy_seq = np.random.SeedSequence(int(seed)).spawn(3)
    return np.random.default_rng(env_seq), np.random.default_rng(reward_seq), np.random.default_rng(policy_seq)


# ============================================================================================ bandit


@dataclass(frozen=True, slots=True, kw_only=True)
class BanditSpec:
    """A family of multi-armed bandits.

    Attributes:
        k: number of arms (the paper uses 5, 10, 20); colour naming allows at most 20.
        horizon: steps per episode ``T`` (the paper: 50).
        reward: ``"gaussian"`` (``N(mu, sigma)``, ``mu ~ U(0, 1)``) or ``"bernoulli"``.
        sigma: Gaussian reward noise (the paper: 0.1, 1 or 3; main plots 1).
        gap: Bernoulli gap between the best arm (``0.5 + gap/2``) and the others (``0.5 - gap/2``);
            BanditBench's easy setting is 0.5, hard 0.2 (Krishnamurthy et al.'s 0.6 vs 0.4).
        naming: ``"colour"`` (red, green, ...), ``"numbered"`` (arm_1 .. arm_k) or ``"spaced"`` (two-word
            names: dark blue, light green, ...; at most 10).
    """

    k: int = 10
    horizon: int = 50
    reward: Literal["gaussian", "bernoulli"] = "gaussian"
    sigma: float = 1.0
    gap: float = 0.2
    naming: Literal["colour", "numbered", "spaced"] = "colour"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigurationError(f"k must be >= 1; got {self.k}")
        if self.horizon < 1:
            raise ConfigurationError(f"horizon must be >= 1; got {self.horizon}")
        if self.reward not in ("gaussian", "bernoulli"):
            raise ConfigurationError(f"reward must be 'gaussian' or 'bernoulli'; got {self.reward!r}")
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ConfigurationError(f"sigma must be a positive number; got {self.sigma}")
        if not 0 < self.gap <= 1:
            raise ConfigurationError(f"gap must be in (0, 1]; got {self.gap}")
        if self.naming not in ("colour", "numbered", "spaced"):
            raise ConfigurationError(f"naming must be 'colour', 'numbered' or 'spaced'; got {self.naming!r}")
        if self.naming == "spaced" and self.k > len(SPACED_NAMES):
            raise ConfigurationError(f"spaced naming has {len(SPACED_NAMES)} names; got k={self.k}")
        if self.naming == "colour" and self.k > len(COLOUR_NAMES):
            raise ConfigurationError(
                f"colour naming has {len(COLOUR_NAMES)} names; use naming='numbered' for k={self.k}"
            )

    @property
    def arm_names(self) -> tuple[str, ...]:
        """The arm names, index ``i`` naming arm ``i``."""
        if self.naming == "colour":
            return COLOUR_NAMES[: self.k]
        if self.naming == "spaced":
            return SPACED_NAMES[: self.k]
        return tuple(f"arm_{i + 1}" for i in range(self.k))

    def draw_means(self, rng: np.random.Generator, n: int = 1) -> FloatArray:
        """Arm means for ``n`` bandits, shape ``(n, k)``."""
        if self.reward == "gaussian":
            return rng.uniform(0.0, 1.0, size=(n, self.k))
        means = np.full((n, self.k), 0.5 - self.gap / 2)
        best = rng.integers(0, self.k, size=n)
        means[np.arange(n), best] = 0.5 + self.gap / 2
        return means

    def draw_rewards(self, means: FloatArray, rng: np.random.Generator) -> FloatArray:
        """One reward per entry of ``means`` (the chosen arms' means), same shape."""
        if self.reward == "gaussian":
            return rng.normal(means, self.sigma)
        return (rng.random(means.shape) < means).astype(np.float64)


class MultiArmedBandit:
    """One bandit instance.

    >>> bandit = MultiArmedBandit(BanditSpec(k=5), seed=1)
    >>> bandit.arm_names
    ('red', 'green', 'blue', 'yellow', 'purple')
    >>> bandit.regret(bandit.best_arm)
    0.0
    """

    def __init__(self, spec: BanditSpec | None = None, *, seed: Seed = 0) -> None:
        self.spec = spec if spec is not None else BanditSpec()
        self.means: FloatArray = self.spec.draw_means(as_generator(seed), 1)[0]

    @classmethod
    def from_means(cls, means: npt.ArrayLike, spec: BanditSpec | None = None) -> MultiArmedBandit:
        """A bandit with the given arm means (``spec.k`` is taken from ``len(means)`` when no spec is given)."""
        values = np.asarray(means, dtype=np.float64)
        if values.ndim != 1 or values.size < 1:
            raise ConfigurationError(f"means must be a non-empty 1-D sequence; got shape {values.shape}")
        naming: Literal["colour", "numbered"] = "numbered" if values.size > len(COLOUR_NAMES) else "colour"
        chosen = spec if spec is not None else BanditSpec(k=values.size, naming=naming)
        if chosen.k != values.size:
            raise ConfigurationError(f"spec.k={chosen.k} but {values.size} means were given")
        bandit = cls.__new__(cls)
        bandit.spec = chosen
        bandit.means = values.copy()
        return bandit

    @property
    def k(self) -> int:
        """Number of arms."""
        return self.spec.k

    @property
    def arm_names(self) -> tuple[str, ...]:
        """The arm names, index ``i`` naming arm ``i``."""
        return self.spec.arm_names

    @property
    def best_arm(self) -> int:
        """Index of the arm with the highest mean (lowest index on ties)."""
        return int(np.argmax(self.means))

    def _check_arm(self, arm_index: int) -> int:
        if isinstance(arm_index, bool) or not isinstance(arm_index, (int, np.integer)):
            raise ConfigurationError(f"arm_index must be an int; got {arm_index!r}")
        if not 0 <= arm_index < self.k:
            raise ConfigurationError(f"arm_index must be in 0..{self.k - 1}; got {arm_index}")
        return int(arm_index)

    def pull(self, arm_index: int, rng: np.random.Generator) -> float:
        """Draw one reward of arm ``arm_index``."""
        arm = self._check_arm(arm_index)
        return float(self.spec.draw_rewards(self.means[arm : arm + 1], rng)[0])

    def regret(self, arm_index: int) -> float:
        """``best mean - mean[arm_index]`` (0 for the best arm)."""
        arm = self._check_arm(arm_index)
        return float(self.means.max() - self.means[arm])


class BanditBatch:
    """``n_bandits`` independent bandits of one spec, stepped together (arrays of shape ``(n, ...)``).

    ``BanditBatch(spec, n, seed=s).means[i]`` is bandit ``i``; the same seed gives the same bandits.
    """

    def __init__(self, spec: BanditSpec | None = None, n_bandits: int = 64, *, seed: Seed = 0) -> None:
        if n_bandits < 1:
            raise ConfigurationError(f"n_bandits must be >= 1; got {n_bandits}")
        self.spec = spec if spec is not None else BanditSpec()
        self.means: FloatArray = self.spec.draw_means(as_generator(seed), n_bandits)

    @property
    def n_bandits(self) -> int:
        """Number of bandits."""
        return int(self.means.shape[0])

    @property
    def arm_names(self) -> tuple[str, ...]:
        """The arm names, shared by every bandit of the batch."""
        return self.spec.arm_names

    @property
    def best_arms(self) -> IntArray:
        """The best arm of each bandit, shape ``(n,)``."""
        return np.asarray(np.argmax(self.means, axis=1), dtype=np.int64)

    def bandit(self, index: int) -> MultiArmedBandit:
        """Bandit ``index`` as a :class:`MultiArmedBandit`."""
        return MultiArmedBandit.from_means(self.means[index], self.spec)

    def pull(self, actions: npt.ArrayLike, rng: np.random.Generator) -> FloatArray:
        """One reward per bandit for ``actions`` (shape ``(n,)``), shape ``(n,)``."""
        acts = np.asarray(actions, dtype=np.int64)
        if acts.shape != (self.n_bandits,):
            raise ConfigurationError(f"actions must have shape ({self.n_bandits},); got {acts.shape}")
        if acts.min() < 0 or acts.max() >= self.spec.k:
            raise ConfigurationError(f"actions must be arm indices in 0..{self.spec.k - 1}")
        chosen = self.means[np.arange(self.n_bandits), acts]
        return self.spec.draw_rewards(chosen, rng)

    def regret(self, actions: npt.ArrayLike) -> FloatArray:
        """Per-bandit regret of ``actions`` (shape ``(n,)``)."""
        acts = np.asarray(actions, dtype=np.int64)
        return np.asarray(self.means.max(axis=1) - self.means[np.arange(self.n_bandits), acts], dtype=np.float64)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BanditView:
    """What an agent sees of its own episode at step ``t`` (before acting).

    Attributes:
        arm_names: the arm names, index ``i`` naming arm ``i``.
        counts: pulls per arm so far, shape ``(k,)``.
        means: empirical mean reward per arm, NaN for untried arms, shape ``(k,)``.
        t: the step about to be taken (0-based; equals ``counts.sum()``).
        actions: the arm indices chosen so far, oldest first.
    """

    arm_names: tuple[str, ...]
    counts: IntArray
    means: FloatArray
    t: int
    actions: tuple[int, ...] = field(default=())

    @classmethod
    def from_history(cls, arm_names: Sequence[str], actions: Sequence[int], rewards: Sequence[float]) -> BanditView:
        """The view after the given steps (``actions[i]`` earned ``rewards[i]``)."""
        names = tuple(arm_names)
        if len(actions) != len(rewards):
            raise ConfigurationError(f"{len(actions)} actions but {len(rewards)} rewards")
        k = len(names)
        counts = np.zeros(k, dtype=np.int64)
        sums = np.zeros(k, dtype=np.float64)
        for action, reward in zip(actions, rewards, strict=True):
            if not 0 <= action < k:
                raise ConfigurationError(f"action {action} is not an arm index in 0..{k - 1}")
            counts[action] += 1
            sums[action] += reward
        return cls(
            arm_names=names,
            counts=counts,
            means=empirical_means(counts, sums),
            t=len(actions),
            actions=tuple(int(a) for a in actions),
        )

    @property
    def k(self) -> int:
        """Number of arms."""
        return len(self.arm_names)

    def ucb(self, c: float = 1.0) -> FloatArray:
        """UCB index per arm (``inf`` for untried arms); see :func:`guardrail_bench.metrics.ucb_values`."""
        return ucb_values(self.counts, self.means, c=c)

    def greedy_set(self) -> frozenset[int]:
        """Arms with the highest empirical mean among tried arms (empty at step 0)."""
        return greedy_set(self.counts, self.means)

    def optimal_set(self, c: float = 1.0) -> frozenset[int]:
        """UCB argmax arms (every untried arm while any is untried)."""
        return optimal_set(self.counts, self.means, c=c)

    def untried(self) -> tuple[int, ...]:
        """Arms never chosen."""
        return tuple(int(a) for a in np.flatnonzero(self.counts == 0))


# ============================================================================================ contextual bandit

#: Arm (item) names of the contextual bandit: invented movie titles.
MOVIE_TITLES: tuple[str, ...] = (
    "Star Harbor", "The Quiet Orchard", "Neon Detective", "Laughing Matters", "Iron Tide",
    "Paper Moons", "The Last Lighthouse", "Robot Recess", "Midnight Tango", "Desert Signal",
    "Cold Equations", "Summer of Kites", "The Vault Job", "Ghosts of Elm Street Station", "Velvet Skies",
    "Orbit Nine", "Small Town Hearts", "The Long Chase", "Clockwork Garden", "Second Sunrise",
)  # fmt: skip

_GENRES: tuple[str, ...] = (
    "action", "comedy", "drama", "romance", "sci-fi", "horror", "documentary", "animation", "thriller", "musicals",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextualSpec:
    """A linear contextual bandit: ``r = x . theta_a + N(0, noise_sigma)``.

    Attributes:
        k: number of items (arms), at most ``len(MOVIE_TITLES)`` (20).
        d: feature dimension: genre affinities in ``[0, 1]`` (at most 10 genres).
        horizon: users (steps) per episode.
        noise_sigma: reward noise.
    """

    k: int = 10
    d: int = 5
    horizon: int = 50
    noise_sigma: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.k <= len(MOVIE_TITLES):
            raise ConfigurationError(f"k must be in 1..{len(MOVIE_TITLES)}; got {self.k}")
        if not 1 <= self.d <= len(_GENRES):
            raise ConfigurationError(f"d must be in 1..{len(_GENRES)}; got {self.d}")
        if self.horizon < 1:
            raise ConfigurationError(f"horizon must be >= 1; got {self.horizon}")
        if not (self.noise_sigma >= 0 and math.isfinite(self.noise_sigma)):
            raise ConfigurationError(f"noise_sigma must be a non-negative number; got {self.noise_sigma}")


_AFFINITY = ("dislikes", "is lukewarm on", "likes", "loves")  # features in [0, .25), [.25, .5), [.5, .75), [.75, 1]


def _describe_user(index: int, age: int, features: FloatArray, genres: Sequence[str]) -> str:
    groups: dict[str, list[str]] = {verb: [] for verb in reversed(_AFFINITY)}
    for genre, value in zip(genres, features.tolist(), strict=True):
        groups[_AFFINITY[min(int(value * 4), 3)]].append(genre)
    parts = [f"{verb} {' and '.join(names)}" for verb, names in groups.items() if names]
    return f"User {index + 1}, age {age}: " + ", ".join(parts) + "."


class ContextualBandit:
    """One contextual-bandit episode: ``horizon`` users (drawn up front from the seed) and ``k`` movies.

    >>> env = ContextualBandit(ContextualSpec(k=3, d=5, horizon=2), seed=0)
    >>> text, x = env.context(0)
    >>> text.startswith("User 1, age ") and x.shape == (5,)
    True
    """

    def __init__(self, spec: ContextualSpec | None = None, *, seed: Seed = 0) -> None:
        self.spec = spec if spec is not None else ContextualSpec()
        rng = as_generator(seed)
        s = self.spec
        self.arm_names: tuple[str, ...] = MOVIE_TITLES[: s.k]
        self.feature_names: tuple[str, ...] = _GENRES[: s.d]
        #: Item parameters, shape ``(k, d)``.
        self.theta: FloatArray = rng.normal(0.0, 1.0 / math.sqrt(s.d), size=(s.k, s.d))
        #: User features per step, shape ``(horizon, d)``.
        self.features: FloatArray = rng.uniform(0.0, 1.0, size=(s.horizon, s.d))
        ages = rng.integers(18, 71, size=s.horizon)
        self._texts = tuple(
            _describe_user(t, int(ages[t]), self.features[t], self.feature_names) for t in range(s.horizon)
        )

    @property
    def k(self) -> int:
        """Number of arms."""
        return self.spec.k

    def context(self, t: int) -> tuple[str, FloatArray]:
        """The user of step ``t``: a text description and its feature vector (shape ``(d,)``)."""
        if not 0 <= t < self.spec.horizon:
            raise ConfigurationError(f"t must be in 0..{self.spec.horizon - 1}; got {t}")
        return self._texts[t], self.features[t].copy()

    def expected(self, arm: int, features: npt.ArrayLike) -> float:
        """Expected reward ``x . theta_arm``."""
        if not 0 <= arm < self.k:
            raise ConfigurationError(f"arm must be in 0..{self.k - 1}; got {arm}")
        return float(np.asarray(features, dtype=np.float64) @ self.theta[arm])

    def expected_all(self, features: npt.ArrayLike) -> FloatArray:
        """Expected reward of every arm, shape ``(k,)``."""
        return np.asarray(self.theta @ np.asarray(features, dtype=np.float64), dtype=np.float64)

    def reward(self, arm: int, features: npt.ArrayLike, rng: np.random.Generator) -> float:
        """One noisy reward of ``arm`` for the user ``features``."""
        return self.expected(arm, features) + float(rng.normal(0.0, self.spec.noise_sigma))

    def best_arm(self, features: npt.ArrayLike) -> int:
        """The arm with the highest expected reward for ``features``."""
        return int(np.argmax(self.expected_all(features)))

    def regret(self, arm: int, features: npt.ArrayLike) -> float:
        """Best expected reward minus ``arm``'s, for ``features``."""
        expected = self.expected_all(features)
        return float(expected.max() - expected[arm])


# ============================================================================================ tic-tac-toe

#: Cell names, index ``i`` naming cell ``i`` of the row-major board: letter = column (``a`` left ..
#: ``c`` right), digit = row (``1`` top .. ``3`` bottom). So ``a1`` is top-left, ``b2`` the centre.
MOVE_NAMES: tuple[str, ...] = ("a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3")

_LINES: tuple[tuple[int, int, int], ...] = (
    (0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6),
)  # fmt: skip

Board = tuple[str, ...]


def _winner(board: Board) -> str | None:
    for a, b, c in _LINES:
        if board[a] and board[a] == board[b] == board[c]:
            return board[a]
    return None


def _other(mark: str) -> str:
    return "O" if mark == "X" else "X"


@functools.cache
def _negamax(board: Board, mark: str) -> tuple[int, tuple[int, ...]]:
    """(score for ``mark`` to move, best cells). Win = 10 - plies, so faster wins and slower losses rank higher."""
    empty = [i for i, cell in enumerate(board) if not cell]
    best_score = -100
    best: list[int] = []
    for cell in empty:
        child = (*board[:cell], mark, *board[cell + 1 :])
        if _winner(child) == mark:
            score = 10
        elif all(child):
            score = 0
        else:
            score = -_negamax(child, _other(mark))[0]
            score = score - 1 if score > 0 else score + 1 if score < 0 else 0
        if score > best_score:
            best_score, best = score, [cell]
        elif score == best_score:
            best.append(cell)
    return best_score, tuple(best)


def _check_board(board: Sequence[str]) -> Board:
    cells = tuple(str(cell).strip().upper() for cell in board)
    if len(cells) != 9 or any(cell not in ("", "X", "O") for cell in cells):
        raise ConfigurationError("a board is 9 cells, each 'X', 'O' or ''")
    return cells


def minimax_move(board: Sequence[str], mark: str, rng: np.random.Generator | None = None) -> str:
    """A perfect move for ``mark`` (``"X"``/``"O"``) on ``board`` (9 cells, row-major, ``""`` for empty).

    Memoised. Among equally good moves: the first in :data:`MOVE_NAMES` order, or a random one with ``rng``.
    """
    cells = _check_board(board)
    if mark not in ("X", "O"):
        raise ConfigurationError(f"mark must be 'X' or 'O'; got {mark!r}")
    if _winner(cells) is not None or all(cells):
        raise ConfigurationError("the game is over; there is no move to make")
    _, best = _negamax(cells, mark)
    choice = best[int(rng.integers(len(best)))] if rng is not None else best[0]
    return MOVE_NAMES[choice]


@dataclass(frozen=True, slots=True, kw_only=True)
class TicTacToeResult:
    """The outcome of one :meth:`TicTacToe.play`: reward (+1 win, 0 draw, -1 loss; 0 while going on)."""

    reward: float
    done: bool
    opponent_move: str | None


class TicTacToe:
    """Tic-tac-toe for an agent against a ``"random"`` or perfect ``"minimax"`` opponent.

    ``X`` moves first; with ``agent_mark="O"`` the opponent's first move is made on :meth:`reset`.
    Moves are named ``a1``..``c3`` (see :data:`MOVE_NAMES`).

    >>> game = TicTacToe(opponent="minimax", seed=0)
    >>> game.legal_moves()[:3]
    ('a1', 'b1', 'c1')
    """

    def __init__(
        self,
        *,
        opponent: Literal["random", "minimax"] = "minimax",
        agent_mark: Literal["X", "O"] = "X",
        seed: Seed = 0,
    ) -> None:
        if opponent not in ("random", "minimax"):
            raise ConfigurationError(f"opponent must be 'random' or 'minimax'; got {opponent!r}")
        if agent_mark not in ("X", "O"):
            raise ConfigurationError(f"agent_mark must be 'X' or 'O'; got {agent_mark!r}")
        self.opponent = opponent
        self.agent_mark: str = agent_mark
        self.opponent_mark: str = _other(agent_mark)
        self._rng = as_generator(seed)
        self.board: Board = ("",) * 9
        self.reset()

    def reset(self) -> None:
        """Start a new game (the opponent moves first if it plays ``X``)."""
        self.board = ("",) * 9
        if self.opponent_mark == "X":
            self._opponent_move()

    @property
    def winner(self) -> str | None:
        """``"X"`` or ``"O"`` once someone has three in a row, else None."""
        return _winner(self.board)

    @property
    def done(self) -> bool:
        """Whether the game is over (a win or a full board)."""
        return self.winner is not None or all(self.board)

    @property
    def draw(self) -> bool:
        """Whether the game ended without a winner."""
        return self.done and self.winner is None

    @property
    def reward(self) -> float:
        """+1 if the agent won, -1 if it lost, 0 for a draw or an unfinished game."""
        winner = self.winner
        return 0.0 if winner is None else 1.0 if winner == self.agent_mark else -1.0

    def legal_moves(self) -> tuple[str, ...]:
        """Names of the empty cells (none once the game is over)."""
        if self.done:
            return ()
        return tuple(MOVE_NAMES[i] for i, cell in enumerate(self.board) if not cell)

    def _place(self, cell: int, mark: str) -> None:
        self.board = (*self.board[:cell], mark, *self.board[cell + 1 :])

    def _opponent_move(self) -> str:
        if self.opponent == "minimax":
            move = minimax_move(self.board, self.opponent_mark, self._rng)
        else:
            legal = self.legal_moves()
            move = legal[int(self._rng.integers(len(legal)))]
        self._place(MOVE_NAMES.index(move), self.opponent_mark)
        return move

    def play(self, move: str) -> TicTacToeResult:
        """Play the agent's ``move`` (a name in :meth:`legal_moves`), then the opponent's reply if any."""
        name = move.strip().lower()
        if name not in self.legal_moves():
            raise ConfigurationError(f"illegal move {move!r}; legal moves: {', '.join(self.legal_moves()) or 'none'}")
        self._place(MOVE_NAMES.index(name), self.agent_mark)
        reply = None if self.done else self._opponent_move()
        return TicTacToeResult(reward=self.reward if self.done else 0.0, done=self.done, opponent_move=reply)

    def render(self) -> str:
        """The board as text: columns ``a b c``, rows ``1 2 3``, ``.`` for an empty cell."""
        rows = ["   a b c"]
        for r in range(3):
            cells = " ".join(self.board[r * 3 + c] or "." for c in range(3))
            rows.append(f"{r + 1}  {cells}")
        return "\n".join(rows)


# ============================================================================================ Alice in Wonderland


@dataclass(frozen=True, slots=True, kw_only=True)
class AIWItem:
    """One "Alice in Wonderland" question and its answer (``m_sisters + 1``)."""

    n_brothers: int
    m_sisters: int
    text: str
    answer: int


def aiw_questions(n: int, seed: Seed = 0, *, max_siblings: int = 6) -> list[AIWItem]:
    """``n`` AIW questions with ``N, M`` drawn uniformly from ``1..max_siblings``.

    >>> item = aiw_questions(1, seed=0)[0]
    >>> item.answer == item.m_sisters + 1
    True
    """
    if n < 0:
        raise ConfigurationError(f"n must be >= 0; got {n}")
    if max_siblings < 1:
        raise ConfigurationError(f"max_siblings must be >= 1; got {max_siblings}")
    rng = as_generator(seed)
    items: list[AIWItem] = []
    for _ in range(n):
        brothers = int(rng.integers(1, max_siblings + 1))
        sisters = int(rng.integers(1, max_siblings + 1))
        text = (
            f"Alice has {brothers} brothers and she also has {sisters} sisters. "
            "How many sisters does Alice's brother have?"
        )
        items.append(AIWItem(n_brothers=brothers, m_sisters=sisters, text=text, answer=sisters + 1))
    return items
