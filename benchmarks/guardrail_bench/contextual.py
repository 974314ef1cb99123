"""Guarded runs on the contextual bandit: users described in text, movies as arms, linear rewards.

The reference sets mirror the multi-armed definitions (docs/background.md), with LinUCB in place of UCB: at each step a
reference disjoint LinUCB learner, fed the *executed* history, gives the **greedy** action (the ridge
estimate's argmax, ``alpha = 0``) and the **optimal** action (the LinUCB argmax, ``alpha = 1``). A rationale is
correct when it names the LinUCB argmax. Regret is against each user's best expected reward.

:class:`SimulatedContextualAgent` is a **simulation**, not a model: it keeps the same ridge estimates, writes a
rationale naming the LinUCB choice with probability ``rationale_correct_rate`` (0.9; otherwise a random other
movie) and then acts greedily on its own estimates with probability ``act_greedy`` (0.9; otherwise it does what
its rationale said). It is the contextual analogue of the knowing-doing profile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from guardrail import ConfigurationError, Guard, StepResult
from guardrail_bench.baselines import LinUCB
from guardrail_bench.envs import ContextualBandit, ContextualSpec
from guardrail_bench.metrics import classify_action
from guardrail_bench.runner import EpisodeTrace, RunSummary, summarize_traces

__all__ = [
    "ContextualAgentLike",
    "SimulatedContextualAgent",
    "contextual_prompt",
    "play_contextual_episode",
    "run_contextual",
]


def _top(values: npt.NDArray[np.float64]) -> frozenset[int]:
    return frozenset(int(a) for a in np.flatnonzero(values == values.max()))


def contextual_prompt(
    titles: Sequence[str], user: str, history: Sequence[tuple[str, str, float]], *, max_history: int = 8
) -> str:
    """A movie-recommendation prompt: the catalogue, the last ``max_history`` (user, movie, reward) steps, the
    current user, and an open ``Think:``; the answer ends with ``ACTION=<movie>``."""
    shown = history[-max_history:]
    start = len(history) - len(shown) + 1
    lines = [
        f"Step={start + i} {who} -> Action={movie} Reward={reward:.2f}" for i, (who, movie, reward) in enumerate(shown)
    ]
    return "\n\n".join(
        [
            f"Task: recommend one movie to each user. Movies: {', '.join(titles)}. The reward says how much the "
            "user liked it. Think briefly, then end with ACTION=<movie>.",
            "Now:\nHistory:\n"
            + ("\n".join(lines) if lines else "(no recommendations yet)")
            + f"\nUser: {user}\nThink:",
        ]
    )


class ContextualAgentLike:
    """What the runner needs of a simulated contextual agent: ``features`` set before a call, ``update`` after."""

    features: npt.NDArray[np.float64] | None

    def __call__(self, prompt: str) -> str:
        """The answer text."""
        raise NotImplementedError

    def update(self, arm: int, features: npt.NDArray[np.float64], reward: float) -> None:
        """Learn from the executed step."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Settings:
    rationale_correct_rate: float
    act_greedy: float


class SimulatedContextualAgent(ContextualAgentLike):
    """A simulated LLM on the contextual bandit (see the module docstring). ``agent(prompt) -> text``."""

    def __init__(
        self,
        titles: Sequence[str],
        d: int,
        rng: np.random.Generator,
        *,
        rationale_correct_rate: float = 0.9,
        act_greedy: float = 0.9,
        alpha: float = 1.0,
    ) -> None:
        for name, value in (("rationale_correct_rate", rationale_correct_rate), ("act_greedy", act_greedy)):
            if not 0.0 <= value <= 1.0:
                raise ConfigurationError(f"{name} must be in [0, 1]; got {value}")
        self.titles = tuple(titles)
        self.rng = rng
        self.settings = _Settings(rationale_correct_rate=rationale_correct_rate, act_greedy=act_greedy)
        self.learner = LinUCB(len(self.titles), d, alpha=alpha)
        self.alpha = alpha
        self.features = None
        self.name = "simulated-contextual"

    def __call__(self, prompt: str) -> str:
        """A rationale naming (usually) the LinUCB choice, then an (often greedy) ACTION line."""
        del prompt
        if self.features is None:
            raise ConfigurationError("SimulatedContextualAgent.features must be set before it is called")
        x = self.features
        optimistic = self.learner.scores(x)
        estimate = self._estimate(x)
        linucb = int(self.rng.choice(sorted(_top(optimistic))))
        if self.rng.random() < self.settings.rationale_correct_rate or len(self.titles) == 1:
            named = linucb
        else:
            named = int(self.rng.choice([a for a in range(len(self.titles)) if a != linucb]))
        greedy = int(self.rng.choice(sorted(_top(estimate))))
        action = greedy if self.rng.random() < self.settings.act_greedy else named
        return (
            f"For this user the upper confidence bound is highest for {self.titles[named]}, "
            f"so I should recommend {self.titles[named]}.\nACTION={self.titles[action]}"
        )

    def _estimate(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        theta = np.linalg.solve(self.learner.a_matrices, self.learner.b_vectors[:, :, None])[:, :, 0]
        return np.asarray(theta @ x, dtype=np.float64)

    def update(self, arm: int, features: npt.NDArray[np.float64], reward: float) -> None:
        """Learn from the executed step."""
        self.learner.update(arm, features, reward)


def play_contextual_episode(
    *,
    env: ContextualBandit,
    agent: Callable[[str], Any] | None,
    guard: Guard | None,
    episode: str,
    rng: np.random.Generator,
    policy: LinUCB | None = None,
    policy_rng: np.random.Generator | None = None,
) -> EpisodeTrace:
    """One episode by a guarded text agent (``agent`` and ``guard``) or by a baseline ``policy``.

    Invalid steps (the guard's fallback) earn the paper's -5; ``rng`` draws reward noise.
    """
    from guardrail_bench.runner import INVALID_REWARD

    titles = env.arm_names
    k, horizon = env.k, env.spec.horizon
    reference = LinUCB(k, env.spec.d, alpha=1.0)
    actions: list[int] = []
    rewards: list[float] = []
    regret: list[float] = []
    coverage: list[float] = []
    results: list[StepResult] = []
    correct: list[bool] = []
    named: list[bool] = []
    category: list[str] = []
    invalid: list[bool] = []
    history: list[tuple[str, str, float]] = []
    started = time.perf_counter()
    for t in range(horizon):
        user, x = env.context(t)
        optimistic = reference.scores(x)
        greedy_set = _top(_ridge(reference, x))
        optimal = _top(optimistic)
        fell_back = False
        if policy is not None:
            arm = policy.select(x, policy_rng if policy_rng is not None else rng)
            category.append(classify_action(arm, greedy=greedy_set, optimal=optimal))
            correct.append(False)
            named.append(False)
        else:
            assert agent is not None
            assert guard is not None
            if isinstance(agent, ContextualAgentLike):
                agent.features = x
            result = guard.step(agent, contextual_prompt(titles, user, history), episode=episode)
            fell_back = result.action is None or any(c.kind == "fallback" for c in result.corrections)
            arm = titles.index(result.action) if result.action is not None else int(rng.integers(k))
            first = result.first_decision
            named.append(first.rationale_action is not None)
            correct.append(first.rationale_action is not None and titles.index(first.rationale_action) in optimal)
            category.append(
                "invalid"
                if first.action is None
                else classify_action(titles.index(first.action), greedy=greedy_set, optimal=optimal)
            )
            results.append(result)
        reward = INVALID_REWARD if fell_back else env.reward(arm, x, rng)
        if guard is not None:
            guard.record_reward(episode, reward)
        reference.update(arm, x, reward)
        if policy is not None:
            policy.update(arm, x, reward)
        elif isinstance(agent, ContextualAgentLike):
            agent.update(arm, x, reward)
        invalid.append(fell_back)
        history.append((f"User {t + 1}", titles[arm], reward))
        actions.append(arm)
        rewards.append(reward)
        regret.append(env.regret(arm, x))
        coverage.append(len(set(actions)) / k)
    return EpisodeTrace(
        actions=np.asarray(actions, dtype=np.int64),
        rewards=np.asarray(rewards, dtype=np.float64),
        regret=np.asarray(regret, dtype=np.float64),
        coverage=np.asarray(coverage, dtype=np.float64),
        results=tuple(results),
        rationale_correct=np.asarray(correct, dtype=np.bool_),
        rationale_named=np.asarray(named, dtype=np.bool_),
        category=tuple(category),
        k=0,  # the frequency fractions are defined for the context-free bandit only
        executed_invalid=np.asarray(invalid, dtype=np.bool_),
        wall_seconds=time.perf_counter() - started,
        guarded=policy is None,
    )


def _ridge(learner: LinUCB, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    theta = np.linalg.solve(learner.a_matrices, learner.b_vectors[:, :, None])[:, :, 0]
    return np.asarray(theta @ x, dtype=np.float64)


def run_contextual(
    *,
    name: str,
    spec: ContextualSpec,
    n_episodes: int,
    seed: int,
    make_guard: Callable[[], Guard] | None = None,
    make_agent: Callable[[int, np.random.Generator], Callable[[str], Any]] | None = None,
    baseline: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[RunSummary, list[EpisodeTrace]]:
    """Play ``n_episodes`` contextual episodes with a guarded agent, or with a baseline (``"linucb"``,
    ``"greedy"`` = LinUCB with alpha 0, ``"random"``). Episode ``i`` uses seeds ``(seed, i, j)``, so every
    configuration meets the same users, movies and reward noise."""
    if (baseline is None) == (make_agent is None):
        raise ConfigurationError("give either make_agent (with make_guard) or baseline")
    guard = make_guard() if make_guard is not None else None
    traces: list[EpisodeTrace] = []
    for i in range(n_episodes):
        env_rng, agent_rng, reward_rng = (np.random.default_rng([seed, i, j]) for j in range(3))
        env = ContextualBandit(spec, seed=env_rng)
        if baseline is not None:
            if baseline not in ("linucb", "greedy", "random"):
                raise ConfigurationError(f"unknown contextual baseline {baseline!r}")
            policy = LinUCB(spec.k, spec.d, alpha=0.0 if baseline == "greedy" else 1.0)
            if baseline == "random":
                policy = _RandomPolicy(spec.k, spec.d)
            trace = play_contextual_episode(
                env=env,
                agent=None,
                guard=None,
                episode=f"{name}-{i}",
                rng=reward_rng,
                policy=policy,
                policy_rng=agent_rng,
            )
        else:
            assert make_agent is not None
            trace = play_contextual_episode(
                env=env, agent=make_agent(i, agent_rng), guard=guard, episode=f"{name}-{i}", rng=reward_rng
            )
        traces.append(trace)
        if progress is not None:
            progress(i + 1)
    return summarize_traces(name, traces), traces


class _RandomPolicy(LinUCB):
    """Uniformly random movies (keeps LinUCB's interface)."""

    def select(self, features: npt.ArrayLike, rng: np.random.Generator) -> int:
        """A random arm."""
        return int(rng.integers(self.k))
