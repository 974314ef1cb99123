"""Play bandit episodes with an agent behind a Guard, and measure them as docs/background.md defines.

The unguarded baseline is a Guard too (``Observe()`` only, the paper's random-arm fallback), so both arms of a
comparison go through the same parser and write the same telemetry.

Two invalid-action rates are kept apart:

- ``first_invalid_rate`` (also ``invalid_rate``): steps whose *first* answer named no legal action;
- ``executed_invalid_rate``: steps where no legal action came from the agent or from a correction, so the
  guard's fallback executed a random arm with the paper's -5 reward. A re-ask or an override that supplies a
  legal action makes a step valid; only the fallback counts here.

Baseline policies (UCB, random, ...) play the *same* bandits and reward noise as the guarded agents
(:func:`run_policy_bandits`), so every row of a table compares pairwise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from guardrail import ConfigurationError, Guard, Redaction, StepResult
from guardrail.detectors.base import DetectorLike
from guardrail.policies.base import PolicyLike
from guardrail.telemetry.sinks import Sink
from guardrail_bench.costs import FixCost, per_unit
from guardrail_bench.envs import BanditSpec, BanditView, MultiArmedBandit
from guardrail_bench.metrics import KnowingDoingTable, classify_action, frequency_fractions, knowing_doing_table
from guardrail_bench.prompts import bandit_prompt

__all__ = [
    "INVALID_REWARD",
    "BanditPolicyLike",
    "BanditPromptFn",
    "BanditPrompter",
    "EpisodeTrace",
    "RunSummary",
    "SimulatedBanditAgent",
    "bandit_guard",
    "bandit_seeds",
    "play_bandit_episode",
    "play_policy_episode",
    "run_bandits",
    "run_policy_bandits",
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


def bandit_guard(
    arm_names: Sequence[str],
    policies: Sequence[PolicyLike],
    *,
    seed: int,
    detectors: Sequence[DetectorLike] | None = None,
    telemetry: str | Path | Sink | None = None,
    run_id: str | None = None,
    redaction: Redaction | None = None,
) -> Guard:
    """The Guard every bandit run uses: the paper's random-arm fallback and prompts that end in ``Think:``."""
    return Guard(
        actions=arm_names,
        detectors=detectors,
        policies=policies,
        telemetry=telemetry,
        fallback="random",  # the paper's rule: an invalid action executes a random arm (reward -5)
        seed=seed,
        prompter=BanditPrompter(),
        run_id=run_id,
        redaction=redaction,
    )


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
    k: int = 0  # number of arms (0: unknown, for traces built by hand)
    executed_invalid: npt.NDArray[np.bool_] | None = None  # the fallback executed a random arm (reward -5)
    wall_seconds: float = 0.0  # wall time of the episode, agent calls included
    guarded: bool = True  # False for a baseline policy (no agent text, no guard)

    @property
    def steps(self) -> int:
        """Number of steps played."""
        return int(self.actions.shape[0])

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
    prompt: BanditPromptFn = bandit_prompt,
) -> EpisodeTrace:
    """Play one episode: prompt, guarded step, execute, reward. Invalid (fallback) steps earn -5.

    ``prompt`` builds each step's prompt (default the paper's :func:`~guardrail_bench.prompts.bandit_prompt`).
    """
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
    executed_invalid: list[bool] = []
    started = time.perf_counter()
    for _ in range(horizon):
        view = BanditView.from_history(names, actions, rewards)
        if isinstance(agent, SimulatedBanditAgent):
            agent.view = view
        history = [(names[a], r) for a, r in zip(actions, rewards, strict=True)]
        result = guard.step(agent, prompt(names, history, few_shot=few_shot), episode=episode)
        arm = guard.actions.index(result.action) if result.action is not None else int(rng.integers(len(names)))
        fell_back = result.action is None or any(c.kind == "fallback" for c in result.corrections)
        executed_invalid.append(fell_back)
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
        k=len(names),
        executed_invalid=np.asarray(executed_invalid, dtype=np.bool_),
        wall_seconds=time.perf_counter() - started,
    )


class BanditPromptFn(Protocol):
    """Builds a step's prompt from the arm names and the ``(arm, reward)`` history (see ``bench.prompts``)."""

    def __call__(self, arm_names: Sequence[str], history: Sequence[tuple[str, float]], *, few_shot: bool = ...) -> str:
        """The prompt text."""
        ...


class BanditPolicyLike(Protocol):
    """A baseline bandit policy: ``select(view, rng) -> arm index`` (see :mod:`guardrail_bench.baselines`)."""

    def select(self, view: BanditView, rng: np.random.Generator) -> int:
        """The arm to pull next."""
        ...


def play_policy_episode(
    *,
    bandit: MultiArmedBandit,
    policy: BanditPolicyLike,
    horizon: int,
    rng: np.random.Generator,
    policy_rng: np.random.Generator | None = None,
) -> EpisodeTrace:
    """Play one episode with a baseline policy (no agent, no guard).

    ``rng`` draws the rewards (one draw per step, as for a guarded agent, so the noise stream is the same);
    ``policy_rng`` (default: ``rng``) the policy's own random choices.

    The policy's choices are the executed actions; the rationale fields are empty (a policy writes none).
    """
    names = bandit.arm_names
    actions: list[int] = []
    rewards: list[float] = []
    regret: list[float] = []
    coverage: list[float] = []
    category: list[str] = []
    started = time.perf_counter()
    for _ in range(horizon):
        view = BanditView.from_history(names, actions, rewards)
        arm = int(policy.select(view, policy_rng if policy_rng is not None else rng))
        category.append(classify_action(arm, greedy=view.greedy_set(), optimal=view.optimal_set()))
        reward = bandit.pull(arm, rng)
        actions.append(arm)
        rewards.append(reward)
        regret.append(bandit.regret(arm))
        coverage.append(len(set(actions)) / len(names))
    return EpisodeTrace(
        actions=np.asarray(actions, dtype=np.int64),
        rewards=np.asarray(rewards, dtype=np.float64),
        regret=np.asarray(regret, dtype=np.float64),
        coverage=np.asarray(coverage, dtype=np.float64),
        results=(),
        rationale_correct=np.zeros(horizon, dtype=np.bool_),
        rationale_named=np.zeros(horizon, dtype=np.bool_),
        category=tuple(category),
        k=len(names),
        executed_invalid=np.zeros(horizon, dtype=np.bool_),
        wall_seconds=time.perf_counter() - started,
        guarded=False,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """Figures over many episodes, as docs/background.md defines them."""

    name: str
    episodes: int
    horizon: int
    regret_mean: float
    regret_ci95: float
    coverage_final: float
    kd_agreement: float | None  # executed action == the final answer's rationale action, where it names one
    interventions_per_step: float
    agent_calls_per_step: float
    invalid_rate: float  # first answers with no legal action (the same as first_invalid_rate)
    knowing_doing_table: dict[str, dict[str, float]] = field(default_factory=dict)
    regret_curve: tuple[float, ...] = ()
    coverage_curve: tuple[float, ...] = ()
    executed_invalid_rate: float = 0.0  # steps where the fallback executed a random arm (reward -5)
    fallbacks: int = 0  # number of such steps
    regret_band: tuple[float, ...] = ()  # 95% CI half-width of the cumulative regret at each step
    coverage_band: tuple[float, ...] = ()  # 95% CI half-width of C_t at each step
    coverage_ci95: float = 0.0
    rationale_correct_rate: float | None = None  # first answers whose rationale named a UCB argmax
    rationale_named_rate: float | None = None  # first answers whose rationale named an arm at all
    frequency: dict[str, float | int] = field(default_factory=dict)  # frequent / greedy / other shares
    wall_seconds: float = 0.0
    guarded: bool = True
    changed_steps: int = 0  # steps whose executed action a correction (not the fallback) changed
    extra_calls: int = 0  # agent calls beyond one per step
    tokens: int | None = None  # agent tokens (input + output), where the agent reports them

    @property
    def changed_rate(self) -> float:
        """Share of steps whose executed action a correction changed."""
        return self.changed_steps / self.steps if self.steps else 0.0

    @property
    def extra_calls_per_changed_step(self) -> float | None:
        """Extra agent calls per step the guard changed (None when it changed none)."""
        return per_unit(self.extra_calls, self.changed_steps)

    def regret_removed(self, unguarded: RunSummary) -> float:
        """Regret per episode removed against ``unguarded`` (same bandits); negative when it got worse."""
        return unguarded.regret_mean - self.regret_mean

    def extra_calls_per_regret_removed(self, unguarded: RunSummary) -> float | None:
        """Extra agent calls spent per unit of regret removed against ``unguarded`` (None if none removed)."""
        return per_unit(self.extra_calls / max(self.episodes, 1), self.regret_removed(unguarded))

    def extra_tokens_per_changed_step(self, unguarded: RunSummary) -> float | None:
        """Tokens spent beyond ``unguarded``'s, per changed step (None when either reports no tokens)."""
        if self.tokens is None or unguarded.tokens is None:
            return None
        return per_unit(self.tokens - unguarded.tokens, self.changed_steps)

    @property
    def first_invalid_rate(self) -> float:
        """Steps whose first answer named no legal action (what the agent did before any correction)."""
        return self.invalid_rate

    @property
    def steps(self) -> int:
        """Steps played in all episodes."""
        return self.episodes * self.horizon

    def kd_table(self) -> KnowingDoingTable:
        """The knowing-doing table as a :class:`~guardrail_bench.metrics.KnowingDoingTable` (percent of steps)."""
        rows = [self.knowing_doing_table.get(r, {}) for r in ("rationale_correct", "rationale_wrong")]
        cells = tuple(tuple(float(row.get(c, 0.0)) for c in ("greedy", "optimal", "other")) for row in rows)
        return KnowingDoingTable(cells=cells, n_steps=self.steps)  # type: ignore[arg-type]

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
            "first_invalid_rate": self.invalid_rate,
            "executed_invalid_rate": self.executed_invalid_rate,
            "fallbacks": self.fallbacks,
            "coverage_ci95": self.coverage_ci95,
            "rationale_correct_rate": self.rationale_correct_rate,
            "rationale_named_rate": self.rationale_named_rate,
            "frequency": self.frequency,
            "wall_seconds": self.wall_seconds,
            "guarded": self.guarded,
            "changed_steps": self.changed_steps,
            "extra_calls": self.extra_calls,
            "tokens": self.tokens,
            "extra_calls_per_changed_step": self.extra_calls_per_changed_step,
            "knowing_doing_table": self.knowing_doing_table,
            "regret_curve": list(self.regret_curve),
            "regret_band": list(self.regret_band),
            "coverage_curve": list(self.coverage_curve),
            "coverage_band": list(self.coverage_band),
        }


def _ci95(values: npt.NDArray[np.float64], axis: int = 0) -> npt.NDArray[np.float64]:
    """Normal-approximation 95% CI half-width along ``axis`` (0 for a single episode)."""
    n = values.shape[axis]
    if n < 2:
        return np.zeros(np.delete(values.shape, axis), dtype=np.float64)
    return np.asarray(1.96 * values.std(axis=axis, ddof=1) / math.sqrt(n), dtype=np.float64)


def summarize_traces(name: str, traces: Sequence[EpisodeTrace]) -> RunSummary:
    """Aggregate episodes: mean cumulative regret with a 95% CI, coverage, agreement, costs, the 2x2 table.

    Interventions are the applied corrections other than the fallback (re-asks, overrides, explorations,
    votes); the fallback is counted as an executed invalid action instead. Agent calls per step is 0 for a
    baseline policy.
    """
    if not traces:
        raise ConfigurationError("summarize_traces needs at least one episode")
    totals = np.array([t.cumulative_regret for t in traces])
    steps = sum(t.steps for t in traces)
    results = [r for t in traces for r in t.results]
    agree = [r.action == r.decision.rationale_action for r in results if r.decision.rationale_action]
    interventions = sum(sum(1 for c in r.corrections if c.applied and c.kind != "fallback") for r in results)
    calls = sum(r.agent_calls for r in results)
    cost = FixCost.of(results)
    invalid = sum(1 for t in traces for c in t.category if c == "invalid")
    fallbacks = sum(
        int(t.executed_invalid.sum())
        if t.executed_invalid is not None
        else sum(1 for r in t.results if any(c.kind == "fallback" for c in r.corrections))
        for t in traces
    )
    guarded = any(t.guarded for t in traces)
    flags = [bool(f) for t in traces for f in t.rationale_correct]
    cats = [c for t in traces for c in t.category]
    valid = [(f, c) for f, c in zip(flags, cats, strict=True) if c != "invalid"]
    table = {"rationale_correct": dict.fromkeys(("greedy", "optimal", "other"), 0.0)}
    table["rationale_wrong"] = dict.fromkeys(("greedy", "optimal", "other"), 0.0)
    if guarded and valid:
        measured = knowing_doing_table([f for f, _ in valid], [c for _, c in valid])  # type: ignore[misc]
        share = len(valid) / steps  # invalid first answers are in no cell: the table sums to 100 - invalid %
        for row, cells in zip(("rationale_correct", "rationale_wrong"), measured.cells, strict=True):
            for column, value in zip(("greedy", "optimal", "other"), cells, strict=True):
                table[row][column] = value * share
    k = max((t.k for t in traces), default=0)
    frequency: dict[str, float | int] = {}
    if k and len({t.steps for t in traces}) == 1:
        fr = frequency_fractions(np.stack([t.actions for t in traces]), np.stack([t.rewards for t in traces]), k)
        frequency = {"frequent": fr.frequent, "greedy": fr.greedy, "other": fr.other, "n_steps": fr.n_steps}
    same_length = len({t.steps for t in traces}) == 1
    cumulative = np.stack([np.cumsum(t.regret) for t in traces]) if same_length else None
    cover = np.stack([t.coverage for t in traces]) if same_length else None
    finals = np.array([t.coverage[-1] for t in traces])
    return RunSummary(
        name=name,
        episodes=len(traces),
        horizon=traces[0].steps,
        regret_mean=float(totals.mean()),
        regret_ci95=float(_ci95(totals)),
        coverage_final=float(finals.mean()),
        kd_agreement=sum(agree) / len(agree) if agree else None,
        interventions_per_step=interventions / steps,
        agent_calls_per_step=calls / steps,
        invalid_rate=invalid / steps,
        knowing_doing_table={row: {k_: round(v, 2) for k_, v in cells.items()} for row, cells in table.items()},
        regret_curve=tuple(cumulative.mean(axis=0).tolist()) if cumulative is not None else (),
        coverage_curve=tuple(cover.mean(axis=0).tolist()) if cover is not None else (),
        executed_invalid_rate=fallbacks / steps,
        fallbacks=fallbacks,
        regret_band=tuple(_ci95(cumulative).tolist()) if cumulative is not None else (),
        coverage_band=tuple(_ci95(cover).tolist()) if cover is not None else (),
        coverage_ci95=float(_ci95(finals)),
        rationale_correct_rate=(sum(flags) / steps) if guarded else None,
        rationale_named_rate=(sum(int(f) for t in traces for f in t.rationale_named) / steps) if guarded else None,
        frequency=frequency,
        wall_seconds=float(sum(t.wall_seconds for t in traces)),
        guarded=guarded,
        changed_steps=cost.changed_steps,
        extra_calls=cost.extra_calls,
        tokens=cost.tokens,
    )


def bandit_seeds(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """The generators of bandit ``index`` of a run seeded ``seed``: (bandit means, agent, rewards and fallback).

    Shared by :func:`run_bandits` and :func:`run_policy_bandits`, so agents and baselines face the same
    bandits and the same reward noise.
    """
    bandit_rng, agent_rng, reward_rng = (np.random.default_rng([seed, index, j]) for j in range(3))
    return bandit_rng, agent_rng, reward_rng


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
    prompt: BanditPromptFn = bandit_prompt,
) -> tuple[RunSummary, list[EpisodeTrace]]:
    """Play ``n_bandits`` seeded bandits with one guard; bandit i uses seeds derived from (seed, i).

    The same seed gives every configuration the same bandits and reward noise, so configurations compare
    pairwise.
    """
    guard = make_guard()
    traces: list[EpisodeTrace] = []
    for i in range(n_bandits):
        bandit_rng, agent_rng, reward_rng = bandit_seeds(seed, i)
        bandit = MultiArmedBandit(spec, seed=bandit_rng)
        trace = play_bandit_episode(
            bandit=bandit,
            agent=make_agent(i, agent_rng),
            guard=guard,
            episode=f"{name}-{i}",
            horizon=spec.horizon,
            rng=reward_rng,
            few_shot=few_shot,
            prompt=prompt,
        )
        traces.append(trace)
        if progress is not None:
            progress(i + 1)
    return summarize_traces(name, traces), traces


def run_policy_bandits(
    *,
    name: str,
    policy: BanditPolicyLike,
    spec: BanditSpec,
    n_bandits: int = 64,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[RunSummary, list[EpisodeTrace]]:
    """Play a baseline policy on the same ``n_bandits`` bandits and reward noise as :func:`run_bandits`."""
    traces: list[EpisodeTrace] = []
    for i in range(n_bandits):
        bandit_rng, agent_rng, reward_rng = bandit_seeds(seed, i)
        bandit = MultiArmedBandit(spec, seed=bandit_rng)
        traces.append(
            play_policy_episode(
                bandit=bandit, policy=policy, horizon=spec.horizon, rng=reward_rng, policy_rng=agent_rng
            )
        )
        if progress is not None:
            progress(i + 1)
    return summarize_traces(name, traces), traces
