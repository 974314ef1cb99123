"""Named policy presets and agents for ``guardrail bench``, and the bandit suite that plays them.

A *configuration* is an agent behind a guard with one policy preset (or a baseline policy, which needs no
guard). :func:`run_bandit_suite` plays every (agent, preset) pair and every baseline on the same seeded bandits
and returns one :class:`~guardrail_bench.runner.RunSummary` per configuration.

Presets (:data:`PRESETS`), each a list of policies in the order the guard tries them:

=================== ==========================================================================================
``none``            ``[Observe()]``: unguarded; an invalid answer executes a random arm with reward -5
``reask-override``  ``[ReAsk(max_attempts=2), OverrideToRationale()]``: re-ask once on a gap or an invalid
                    answer (skipping futile re-asks, the default), then act on the rationale
``reask-always``    the same with ``ReAsk(max_attempts=2, adaptive=None)``: re-ask on every such step
``plan``            the full plan, correction then exploration (:data:`FULL_PLAN`)
``plan-reask-always`` the full plan with a re-ask on every gap or invalid step
``override``        ``[OverrideToRationale()]``
``try-all``         ``[TryAllFirst()]``
``eps-greedy``      ``[EpsilonGreedy(epsilon=0.1)]``
``ucb-explore``     ``[UCBExplore(margin=0.5)]``
``self-consistency````[SelfConsistency(samples=5)]`` on gap, invalid, frequency and greediness findings
``context-summary`` ``[ContextSummary()]``: per-arm counts and means in the prompt (changes prompts only)
``best``            the best combination, chosen on held-out seeds (see :data:`BEST_COMBINATION` and
                    ``scripts/bench_select_best.py``)
=================== ==========================================================================================

Agents (:func:`make_text_agent`): the simulated profiles ``knowing-doing``, ``frequency-bias``, ``greedy``
(:mod:`guardrail_bench.simulators`; simulations, not models; the frequency-biased one copies with probability
0.95, which measures the paper's 96% frequent-action share), ``gemma`` (Gemma 3 270M in-process, extra
``local``), and an OpenAI-compatible server given by its URL. Baselines (:data:`BASELINE_AGENTS`): ``ucb``
(UCB1, c = 1), ``random``, ``epsilon-greedy`` (0.1), ``greedy-baseline``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from guardrail import ConfigurationError, FrequencyBias, Greediness, Guard, InvalidAction, KnowingDoingGap, Redaction
from guardrail import EpsilonGreedy as EpsilonGreedyPolicy
from guardrail.detectors.base import DetectorLike
from guardrail.policies import (
    ContextSummary,
    Observe,
    OverrideToRationale,
    PolicyLike,
    ReAsk,
    SelfConsistency,
    TryAllFirst,
    UCBExplore,
)
from guardrail.telemetry.sinks import Sink
from guardrail_bench.baselines import UCB1, EpsilonGreedy, Greedy, UniformRandom
from guardrail_bench.envs import BanditSpec
from guardrail_bench.prompts import bandit_prompt
from guardrail_bench.runner import (
    BanditPolicyLike,
    BanditPromptFn,
    EpisodeTrace,
    RunSummary,
    SimulatedBanditAgent,
    bandit_guard,
    run_bandits,
    run_policy_bandits,
)
from guardrail_bench.simulators import FrequencyBiasProfile, GreedyProfile, KnowingDoingProfile

__all__ = [
    "BASELINE_AGENTS",
    "BEST_CANDIDATES",
    "BEST_COMBINATION",
    "FULL_PLAN",
    "PRESETS",
    "SIMULATED_PROFILES",
    "AgentSpec",
    "LLMSettings",
    "SuiteResult",
    "bandit_detectors",
    "make_text_agent",
    "parse_agent",
    "parse_presets",
    "run_bandit_suite",
]

_EXPLORATION_KINDS = frozenset({"frequency_bias", "greediness", "knowing_doing_gap", "invalid_action"})


def bandit_detectors() -> list[DetectorLike]:
    """The four detectors every bandit configuration runs (findings are recorded even when unguarded)."""
    return [KnowingDoingGap(), InvalidAction(), FrequencyBias(), Greediness()]


#: The best combination: try every arm once, then keep the agent's action unless its empirical mean is more
#: than 0.2 below the best mean (UCB with c = 0 is the empirical mean), else override to the best mean.
#: Chosen on held-out seeds 1-4 over all three simulated profiles (docs/benchmarks.md, "How the best
#: combination was chosen"); the reported tables use seed 0.
BEST_COMBINATION: Callable[[], list[PolicyLike]] = lambda: [TryAllFirst(), UCBExplore(c=0.0, margin=0.2)]  # noqa: E731

#: The full plan: the knowing-doing correction (a re-ask on a gap or an invalid answer, skipping futile re-asks),
#: then the best exploration combination on the answer it leaves. No override to the rationale: the
#: rationale's pick (the UCB arm, c = 1) would undo the exploration's (the best mean, c = 0), and measured with
#: it the plan's regret is back at the unguarded level (docs/benchmarks.md).
FULL_PLAN: Callable[[], list[PolicyLike]] = lambda: [ReAsk(max_attempts=2), *BEST_COMBINATION()]  # noqa: E731

#: Policy presets by name: ``name -> (description, factory)``; a factory builds fresh policies per run.
PRESETS: dict[str, tuple[str, Callable[[], list[PolicyLike]]]] = {
    "none": ("Observe() (unguarded)", lambda: [Observe()]),
    "reask-override": (
        "ReAsk(max_attempts=2), OverrideToRationale()",
        lambda: [ReAsk(max_attempts=2), OverrideToRationale()],
    ),
    "reask-always": (
        "ReAsk(max_attempts=2, adaptive=None), OverrideToRationale()",
        lambda: [ReAsk(max_attempts=2, adaptive=None), OverrideToRationale()],
    ),
    "plan": ("ReAsk(max_attempts=2), TryAllFirst(), UCBExplore(c=0, margin=0.2)", FULL_PLAN),
    "plan-reask-always": (
        "ReAsk(max_attempts=2, adaptive=None), TryAllFirst(), UCBExplore(c=0, margin=0.2)",
        lambda: [ReAsk(max_attempts=2, adaptive=None), *BEST_COMBINATION()],
    ),
    "override": ("OverrideToRationale()", lambda: [OverrideToRationale()]),
    "try-all": ("TryAllFirst()", lambda: [TryAllFirst()]),
    "eps-greedy": ("EpsilonGreedy(epsilon=0.1)", lambda: [EpsilonGreedyPolicy(epsilon=0.1)]),
    "ucb-explore": ("UCBExplore(margin=0.5)", lambda: [UCBExplore(margin=0.5)]),
    "self-consistency": (
        "SelfConsistency(samples=5) on gap/invalid/frequency/greediness findings",
        lambda: [SelfConsistency(samples=5, answers=_EXPLORATION_KINDS)],
    ),
    "context-summary": ("ContextSummary()", lambda: [ContextSummary()]),
    "best": ("TryAllFirst(), UCBExplore(c=0, margin=0.2)", BEST_COMBINATION),
}

#: Candidate combinations compared by ``scripts/bench_select_best.py`` to choose :data:`BEST_COMBINATION`.
BEST_CANDIDATES: dict[str, Callable[[], list[PolicyLike]]] = {
    "TryAllFirst + UCBExplore(c=0, margin=0.1)": lambda: [TryAllFirst(), UCBExplore(c=0.0, margin=0.1)],
    "TryAllFirst + UCBExplore(c=0, margin=0.2)": lambda: [TryAllFirst(), UCBExplore(c=0.0, margin=0.2)],
    "TryAllFirst + UCBExplore(c=0, margin=0.3)": lambda: [TryAllFirst(), UCBExplore(c=0.0, margin=0.3)],
    "TryAllFirst + UCBExplore(c=0.25, margin=0.2)": lambda: [TryAllFirst(), UCBExplore(c=0.25, margin=0.2)],
    "TryAllFirst + UCBExplore(c=0.5, margin=0.3)": lambda: [TryAllFirst(), UCBExplore(c=0.5, margin=0.3)],
    "TryAllFirst + UCBExplore(c=1, margin=0.5)": lambda: [TryAllFirst(), UCBExplore(c=1.0, margin=0.5)],
    "OverrideToRationale + TryAllFirst + UCBExplore(c=0, margin=0.2)": lambda: [
        OverrideToRationale(),
        TryAllFirst(),
        UCBExplore(c=0.0, margin=0.2),
    ],
    "TryAllFirst + EpsilonGreedy(0.1)": lambda: [TryAllFirst(), EpsilonGreedyPolicy(epsilon=0.1)],
}

#: The simulated profiles by agent name (simulations calibrated to docs/background.md, not models).
SIMULATED_PROFILES: dict[str, tuple[str, Callable[[], Any]]] = {
    "knowing-doing": ("simulated knowing-doing profile (Gemma2-27B rates)", KnowingDoingProfile),
    # copy_probability 0.95 measures a 95.6-96.0% frequent-action share over seeds 0-3 (paper: 96%); the
    # simulator's default 0.9 measures 90.7%, more than 3 points short.
    "frequency-bias": (
        "simulated frequency-biased profile (Gemma2-2B, copies its most frequent action w.p. 0.95)",
        lambda: FrequencyBiasProfile(copy_probability=0.95),
    ),
    "greedy": ("simulated greedy profile (tries 2 arms, then exploits)", GreedyProfile),
}

#: Baseline policies by agent name (no text, no guard).
BASELINE_AGENTS: dict[str, tuple[str, Callable[[], BanditPolicyLike]]] = {
    "ucb": ("UCB1 (c = 1)", lambda: UCB1(c=1.0)),
    "random": ("uniform random", UniformRandom),
    "epsilon-greedy": ("epsilon-greedy (epsilon = 0.1)", lambda: EpsilonGreedy(epsilon=0.1)),
    "greedy-baseline": ("greedy (one random arm, then the best mean)", Greedy),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMSettings:
    """Sampling settings of a real LLM agent (``gemma`` or an OpenAI-compatible URL)."""

    temperature: float = 0.7
    max_tokens: int = 96
    n_threads: int = 2
    model: str = "gemma3-270m"
    api_key: str | None = None
    chat: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSpec:
    """A parsed ``--agent`` value.

    ``kind`` is ``"simulated"``, ``"baseline"``, ``"gemma"`` or ``"openai"``; ``name`` the label in tables;
    ``url`` the base URL for ``"openai"``.
    """

    kind: str
    name: str
    description: str
    url: str | None = None


def parse_agent(value: str) -> AgentSpec:
    """Read one ``--agent`` value: a profile, a baseline, ``gemma``, or an ``http(s)://`` base URL."""
    text = value.strip()
    if text in SIMULATED_PROFILES:
        return AgentSpec(kind="simulated", name=text, description=SIMULATED_PROFILES[text][0])
    if text in BASELINE_AGENTS:
        return AgentSpec(kind="baseline", name=text, description=BASELINE_AGENTS[text][0])
    if text == "gemma":
        return AgentSpec(kind="gemma", name="gemma", description="Gemma 3 270M (Q4_K_M) via llama.cpp, few-shot")
    if text.startswith(("http://", "https://")):
        return AgentSpec(kind="openai", name="openai", description=f"OpenAI-compatible server at {text}", url=text)
    choices = [*SIMULATED_PROFILES, *BASELINE_AGENTS, "gemma", "http(s)://HOST/v1"]
    raise ConfigurationError(f"unknown agent {value!r}; choose one of {', '.join(choices)}")


def parse_presets(value: str) -> list[str]:
    """Comma-separated preset names, or ``all`` (every preset, ``none`` first)."""
    names = [part.strip() for part in value.split(",") if part.strip()]
    if names == ["all"]:
        return list(PRESETS)
    unknown = [name for name in names if name not in PRESETS]
    if unknown or not names:
        raise ConfigurationError(f"unknown policy preset(s) {unknown or value!r}; choose from {', '.join(PRESETS)}")
    return names


def make_text_agent(
    spec: AgentSpec, *, seed: int, settings: LLMSettings
) -> Callable[[int, np.random.Generator], Callable[[str], Any]]:
    """A factory ``(bandit index, rng) -> agent(prompt) -> text`` for a simulated or real LLM agent.

    Simulated agents draw from the per-bandit ``rng``. A real model is built once per call of this function
    (one configuration), seeded with ``seed``, so each configuration's sampling stream is reproducible on its
    own; the model is loaded on the first prompt.
    """
    if spec.kind == "simulated":
        profile = SIMULATED_PROFILES[spec.name][1]()

        def simulated(index: int, rng: np.random.Generator) -> Callable[[str], Any]:
            return SimulatedBanditAgent(profile, rng, name=spec.name)

        return simulated
    if spec.kind == "gemma":
        from guardrail_bench.llm import LlamaCppAgent

        model = LlamaCppAgent(
            seed=seed, temperature=settings.temperature, max_tokens=settings.max_tokens, n_threads=settings.n_threads
        )
        return lambda index, rng: model
    if spec.kind == "openai":
        from guardrail_bench.llm import ANSWER_LINE, OpenAICompatibleAgent

        assert spec.url is not None
        server = OpenAICompatibleAgent(
            spec.url,
            settings.model,
            api_key=settings.api_key,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            seed=seed,
            chat=settings.chat,
            stop_after_line=ANSWER_LINE,
        )
        return lambda index, rng: server
    raise ConfigurationError(f"agent {spec.name!r} is a baseline, not a text agent")


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteResult:
    """One configuration's outcome: which agent and preset, its summary, and (optionally) its episodes."""

    agent: str
    preset: str  # a preset name, or "baseline" for a baseline policy
    policies: str  # the policies as text
    summary: RunSummary
    traces: list[EpisodeTrace] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the summary's figures with the agent and preset."""
        return {"agent": self.agent, "preset": self.preset, "policies": self.policies, **self.summary.as_dict()}


def _close(make_agent: Callable[[int, np.random.Generator], Callable[[str], Any]]) -> None:
    """Free a real model's resources (a real agent factory returns one shared model; simulations have none)."""
    close = getattr(make_agent(0, np.random.default_rng(0)), "close", None)
    if callable(close):
        close()


def _progress(
    on_progress: Callable[[str, int, int], None] | None, label: str, total: int
) -> Callable[[int], None] | None:
    """A per-episode callback that reports ``(label, done, total)``."""
    if on_progress is None:
        return None
    report = on_progress

    def step(done: int) -> None:
        report(label, done, total)

    return step


def run_bandit_suite(
    *,
    agents: Sequence[AgentSpec],
    presets: Sequence[str],
    spec: BanditSpec,
    n_bandits: int,
    seed: int,
    telemetry: Sink | None = None,
    settings: LLMSettings | None = None,
    few_shot: bool = True,
    keep_traces: bool = False,
    on_progress: Callable[[str, int, int], None] | None = None,
    prompt: BanditPromptFn = bandit_prompt,
) -> list[SuiteResult]:
    """Play every text agent with every preset, and every baseline agent once, on the same bandits.

    Args:
        agents: parsed ``--agent`` values; baselines ignore ``presets``.
        presets: names in :data:`PRESETS`.
        spec: the bandit family (arms, horizon, reward, sigma).
        n_bandits: bandits (episodes) per configuration; bandit ``i`` is seeded from ``(seed, i)``.
        seed: the master seed (bandits, reward noise, agents, guard).
        telemetry: a sink every guard writes to (run id ``"{agent}/{preset}"``); None writes nothing.
        settings: sampling settings of real LLM agents.
        few_shot: include the worked examples in the bandit prompt.
        keep_traces: keep every episode (for plots); otherwise only summaries are returned.
        on_progress: called ``(label, done, total)`` after each episode.
        prompt: builds each step's prompt (default the paper's; ``foreign_bandit_prompt`` for another wording).
    """
    llm = settings or LLMSettings()
    results: list[SuiteResult] = []
    for agent in agents:
        if agent.kind == "baseline":
            label = agent.name
            policy = BASELINE_AGENTS[agent.name][1]()
            summary, traces = run_policy_bandits(
                name=label,
                policy=policy,
                spec=spec,
                n_bandits=n_bandits,
                seed=seed,
                progress=_progress(on_progress, label, n_bandits),
            )
            results.append(
                SuiteResult(
                    agent=agent.name,
                    preset="baseline",
                    policies=agent.description,
                    summary=summary,
                    traces=traces if keep_traces else [],
                )
            )
            continue
        for preset in presets:
            description, factory = PRESETS[preset]
            label = f"{agent.name}/{preset}"

            def make_guard(factory: Callable[[], list[PolicyLike]] = factory, label: str = label) -> Guard:
                return bandit_guard(
                    spec.arm_names,
                    factory(),
                    seed=seed,
                    detectors=bandit_detectors(),
                    telemetry=telemetry,
                    redaction=Redaction(max_chars=300),
                    run_id=label,
                )

            make_agent = make_text_agent(agent, seed=seed, settings=llm)
            summary, traces = run_bandits(
                name=label,
                make_guard=make_guard,
                make_agent=make_agent,
                spec=spec,
                n_bandits=n_bandits,
                seed=seed,
                few_shot=few_shot,
                progress=_progress(on_progress, label, n_bandits),
                prompt=prompt,
            )
            _close(make_agent)
            results.append(
                SuiteResult(
                    agent=agent.name,
                    preset=preset,
                    policies=description,
                    summary=summary,
                    traces=traces if keep_traces else [],
                )
            )
    return results
