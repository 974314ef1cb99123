"""Play bandit episodes with an agent behind a Guard, and measure them as PAPER.md defines.

The unguarded baseline is a Guard too (``Observe()`` only, the paper's random-arm fallback), so both arms of a
comparison go through the same parser and write the same telemetry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from guardrail.bench.envs import BanditSpec, BanditView, MultiArmedBandit
from guardrail.bench.metrics import classify_action
from guardrail.bench.prompts import bandit_prompt
from guardrail.exceptions import ConfigurationError
from guardrail.guard import Guard, StepResult

__all__ = [
    "BanditPrompter",
    "EpisodeTrace",
    "RunSummary",
    "SimulatedBanditAgent",
    "play_bandit_episode",
    "run_bandits",
    "summarize_traces",
]

#: The paper's rule: an invalid action executes a random arm and earns this reward.
INVALID_REWARD = -5.0


class BanditPrompter:
    """Prompts for the button bandit: notes and re-ask feedback go before the closing ``Think:``."""

    _END = "\nThink:"

    def _split(self, observation: Any) -> tuple[str, str]:
        text = str(observation)
        return (text[: -len(self._END)], self._END) if text.endswith(self._END) else (text, "")

    def reask(self, observation: Any, last_output: Any, feedback: str) -> str:
        """The original prompt, the latest failed answer, the feedback, then ``Think:`` again."""
        body, end = self._split(observation)
        return f"{body}\nYour previous answer was:\n{last_output}\nFeedback: {feedback}{end or self._END}"

    def annotate(self, observation: Any, note: str) -> str:
        """The note (e.g. a context summary) just before ``Think:``."""
        body, end = self._split(observation)
        return f"{body}\n{note}{end}"


class _Profile(Protocol):
    def respond(self, view: BanditView, rng: np.random.Generator, *, reask_feedback: str | None = None) -> str: ...


class SimulatedBanditAgent:
    """Wraps a simulated profile as an ``agent(prompt) -> str`` that answers for the episode's current view.

    The runner sets ``view`` before each step; a prompt carrying feedback is answered as a re-ask.
    """

    def __init__(self, profile: _Profile, rng: np.random.Generator, *, name: str = "simulated") -> None:
        self.profile = profile
        self.rng = rng
        self.name = name
        self.view: BanditView | None = None

    def __call__(self, prompt: str) -> str:
        """The profile's answer for the current view."""
        if self.view is None:
            raise ConfigurationError("SimulatedBanditAgent.view must be set before it is called")
        feedback = prompt.rsplit("\nFeedback: ", 1)[1] if "\nFeedback: " in prompt else None
        return self.profile.respond(self.view, self.rng, reask_feedback=feedback)


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeTrace:
    """One episode: per-step arrays plus the guard's results."""

    actions: npt.NDArray[np.int64]
    rewards: npt.NDArray[np.float64]
    regret: npt.NDArray[np.float64]  # per-step regret of the executed arm (best mean - its mean)
    coverage: npt.NDArray[np.float64]  # C_t after each step
    results: tuple[StepResult, ...]
    rationale_correct: npt.NDArray[np.bool_]  # the first answer's rationale named a UCB argmax
    rationale_named: npt.NDArray[np.bool_]  # the first answer's rationale named an action at all
    category: tuple[str, ...]  # greedy / optimal / other, of the first answer's action (invalid: "invalid")

    @property
    def cumulative_regret(self) -> float:
        """Total regret over the episode."""
        return float(self.regret.sum())


def play_bandit_episode(
    *,
    bandit: MultiArmedBandit,
    agent: Callable[[str], Any],
    guard: Guard,
    episode: str,
    horizon: int,
    rng: np.random.Generator,
    few_shot: bool = True,
) -> EpisodeTrace:
    """Play one episode: prompt, guarded step, execute, reward. Invalid (fallback) steps earn -5."""
    names = bandit.arm_names
    if tuple(guard.actions.names) != tuple(names):
        raise ConfigurationError("the guard's actions must be the bandit's arm names, in order")
    actions: list[int] = []
    rewards: list[float] = []
    regret: list[float] = []
    coverage: list[float] = []
    results: list[StepResult] = []
    correct: list[bool] = []
    named: list[bool] = []
    category: list[str] = []
    for _ in range(horizon):
        view = BanditView.from_history(names, actions, rewards)
        if isinstance(agent, SimulatedBanditAgent):
            agent.view = view
        history = [(names[a], r) for a, r in zip(actions, rewards, strict=True)]
        result = guard.step(agent, bandit_prompt(names, history, few_shot=few_shot), episode=episode)
        arm = guard.actions.index(result.action) if result.action is not None else int(rng.integers(len(names)))
        fell_back = any(c.kind == "fallback" for c in result.corrections)
        reward = INVALID_REWARD if fell_back else bandit.pull(arm, rng)
        guard.record_reward(episode, reward)
        first = result.first_decision
        optimal = view.optimal_set()
        named.append(first.rationale_action is not None)
        correct.append(first.rationale_action is not None and names.index(first.rationale_action) in optimal)
        category.append(
            "invalid"
            if first.action is None
            else classify_action(names.index(first.action), greedy=view.greedy_set(), optimal=optimal)
        )
        actions.append(arm)
        rewards.append(reward)
        regret.append(bandit.regret(arm))
        coverage.append(len(set(actions)) / len(names))
        results.append(result)
    return EpisodeTrace(
        actions=np.asarray(actions, dtype=np.int64),
        rewards=np.asarray(rewards, dtype=np.float64),
        regret=np.asarray(regret, dtype=np.float64),
        coverage=np.asarray(coverage, dtype=np.float64),
        results=tuple(results),
        rationale_correct=np.asarray(correct, dtype=np.bool_),
        rationale_named=np.asarray(named, dtype=np.bool_),
        category=tuple(category),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """Figures over many episodes, as PAPER.md defines them."""

    name: str
    episodes: int
    horizon: int
    regret_mean: float
    regret_ci95: float
    coverage_final: float
    kd_agreement: float | None  # executed action == the final answer's rationale action, where it names one
    interventions_per_step: float
    agent_calls_per_step: float
    invalid_rate: float  # first answers with no legal action
    knowing_doing_table: dict[str, dict[str, float]] = field(default_factory=dict)
    regret_curve: tuple[float, ...] = ()
    coverage_curve: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "episodes": self.episodes,
            "horizon": self.horizon,
            "regret_mean": self.regret_mean,
            "regret_ci95": self.regret_ci95,
            "coverage_final": self.coverage_final,
            "kd_agreement": self.kd_agreement,
            "interventions_per_step": self.interventions_per_step,
            "agent_calls_per_step": self.agent_calls_per_step,
            "invalid_rate": self.invalid_rate,
            "knowing_doing_table": self.knowing_doing_table,
            "regret_curve": list(self.regret_curve),
            "coverage_curve": list(self.coverage_curve),
        }


def summarize_traces(name: str, traces: Sequence[EpisodeTrace]) -> RunSummary:
    """Aggregate episodes: mean cumulative regret with a 95% CI, coverage, agreement, costs, the 2x2 table."""
    if not traces:
        raise ConfigurationError("summarize_traces needs at least one episode")
    totals = np.array([t.cumulative_regret for t in traces])
    steps = sum(len(t.results) for t in traces)
    agree = [r.action == r.decision.rationale_action for t in traces for r in t.results if r.decision.rationale_action]
    interventions = sum(sum(1 for c in r.corrections if c.applied) for t in traces for r in t.results)
    calls = sum(r.agent_calls for t in traces for r in t.results)
    invalid = sum(1 for t in traces for c in t.category if c == "invalid")
    table = {"rationale_correct": dict.fromkeys(("greedy", "optimal", "other"), 0.0)}
    table["rationale_wrong"] = dict.fromkeys(("greedy", "optimal", "other"), 0.0)
    for trace in traces:
        for ok, kind in zip(trace.rationale_correct, trace.category, strict=True):
            if kind != "invalid":
                table["rationale_correct" if ok else "rationale_wrong"][kind] += 100.0 / steps
    ci = 1.96 * float(totals.std(ddof=1)) / math.sqrt(len(totals)) if len(totals) > 1 else 0.0
    return RunSummary(
        name=name,
        episodes=len(traces),
        horizon=len(traces[0].results),
        regret_mean=float(totals.mean()),
        regret_ci95=ci,
        coverage_final=float(np.mean([t.coverage[-1] for t in traces])),
        kd_agreement=sum(agree) / len(agree) if agree else None,
        interventions_per_step=interventions / steps,
        agent_calls_per_step=calls / steps,
        invalid_rate=invalid / steps,
        knowing_doing_table={row: {k: round(v, 2) for k, v in cells.items()} for row, cells in table.items()},
        regret_curve=tuple(np.mean([np.cumsum(t.regret) for t in traces], axis=0).tolist()),
        coverage_curve=tuple(np.mean([t.coverage for t in traces], axis=0).tolist()),
    )


def run_bandits(
    *,
    name: str,
    make_guard: Callable[[], Guard],
    make_agent: Callable[[int, np.random.Generator], Callable[[str], Any]],
    spec: BanditSpec,
    n_bandits: int = 64,
    seed: int = 0,
    few_shot: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[RunSummary, list[EpisodeTrace]]:
    """Play ``n_bandits`` seeded bandits with one guard; bandit i uses seeds derived from (seed, i).

    The same seed gives every configuration the same bandits and reward noise, so configurations compare
    pairwise.
    """
    guard = make_guard()
    traces: list[EpisodeTrace] = []
    for i in range(n_bandits):
        bandit_rng, agent_rng, reward_rng = (np.random.default_rng([seed, i, j]) for j in range(3))
        bandit = MultiArmedBandit(spec, seed=bandit_rng)
        trace = play_bandit_episode(
            bandit=bandit,
            agent=make_agent(i, agent_rng),
            guard=guard,
            episode=f"{name}-{i}",
            horizon=spec.horizon,
            rng=reward_rng,
            few_shot=few_shot,
        )
        traces.append(trace)
        if progress is not None:
            progress(i + 1)
    return summarize_traces(name, traces), traces
