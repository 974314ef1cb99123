"""What each exploration policy buys, and what it costs, on simulated frequency-biased and greedy agents.

Seeded and reproducible: the same --seed gives every configuration the same bandits and reward noise.
Setting (docs/background.md): 10-arm Gaussian bandit, mu ~ U(0, 1), sigma = 1, T = 50, 64 bandits.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from guardrail import (
    ContextSummary,
    EpsilonGreedy,
    FrequencyBias,
    Greediness,
    Guard,
    InvalidAction,
    KnowingDoingGap,
    Observe,
    OverrideToRationale,
    ReAsk,
    SelfConsistency,
    TryAllFirst,
    UCBExplore,
)
from guardrail.detectors import DetectorLike
from guardrail.policies.base import PolicyLike
from guardrail_bench.baselines import run_baseline
from guardrail_bench.envs import BanditSpec
from guardrail_bench.output import cost_cells
from guardrail_bench.runner import (
    EpisodeTrace,
    RunSummary,
    SimulatedBanditAgent,
    bandit_guard,
    run_bandits,
    summarize_traces,
)
from guardrail_bench.simulators import FrequencyBiasProfile, GreedyProfile, KnowingDoingProfile

DETECTORS: list[DetectorLike] = [KnowingDoingGap(), InvalidAction(), FrequencyBias(), Greediness()]
EXPLORATION_KINDS = frozenset({"frequency_bias", "greediness"})

CONFIGS: dict[str, Callable[[], list[PolicyLike]]] = {
    "unguarded (Observe)": lambda: [Observe()],
    "ReAsk + OverrideToRationale": lambda: [ReAsk(max_attempts=2), OverrideToRationale()],
    "TryAllFirst": lambda: [TryAllFirst()],
    "EpsilonGreedy(0.1)": lambda: [EpsilonGreedy(epsilon=0.1)],
    "UCBExplore(margin=0.5)": lambda: [UCBExplore(margin=0.5)],
    "SelfConsistency(5) on bias findings": lambda: [SelfConsistency(samples=5, answers=EXPLORATION_KINDS)],
    "ContextSummary": lambda: [ContextSummary()],
    # Try every arm once, then follow the best mean unless the agent is within 0.2 of it (explore-then-exploit).
    "TryAllFirst + UCBExplore(c=0, margin=0.2)": lambda: [TryAllFirst(), UCBExplore(c=0.0, margin=0.2)],
}
PROFILES: dict[str, Callable[[], Any]] = {
    "frequency-biased (copies its most frequent action w.p. 0.9)": lambda: FrequencyBiasProfile(copy_probability=0.9),
    "greedy (tries two arms, then exploits)": lambda: GreedyProfile(n_initial=2),
    "knowing-doing (27B profile)": lambda: KnowingDoingProfile(),
}


def run(profile_name: str, config_name: str, *, spec: BanditSpec, bandits: int, seeds: Sequence[int]) -> RunSummary:
    """One configuration over ``bandits`` bandits per seed, pooled over the seeds."""
    profile = PROFILES[profile_name]()
    traces: list[EpisodeTrace] = []
    for seed in seeds:
        traces.extend(_run_seed(profile, config_name, spec=spec, bandits=bandits, seed=seed))
    return summarize_traces(config_name, traces)


def _run_seed(profile: Any, config_name: str, *, spec: BanditSpec, bandits: int, seed: int) -> list[EpisodeTrace]:

    def make_guard() -> Guard:
        return bandit_guard(spec.arm_names, CONFIGS[config_name](), seed=seed, detectors=DETECTORS)

    def make_agent(i: int, rng: np.random.Generator) -> SimulatedBanditAgent:
        return SimulatedBanditAgent(profile, rng)

    _, traces = run_bandits(
        name=config_name, make_guard=make_guard, make_agent=make_agent, spec=spec, n_bandits=bandits, seed=seed
    )
    return traces


def table(rows: Sequence[tuple[str, RunSummary]], unguarded: RunSummary) -> str:
    lines = [
        "| configuration | regret (mean ± 95% CI) | vs unguarded | coverage at T | interventions / step "
        "| extra agent calls / step | changed steps | extra calls / changed step | extra calls / regret removed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in rows:
        change = s.regret_mean / unguarded.regret_mean - 1
        costs = " | ".join(cost_cells(s, unguarded, tokens=False))
        lines.append(
            f"| {name} | {s.regret_mean:.2f} ± {s.regret_ci95:.2f} | {change:+.0%} | {s.coverage_final:.0%} "
            f"| {s.interventions_per_step:.3f} | {s.agent_calls_per_step - 1:.3f} | {costs} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds to pool (default: 0)")
    parser.add_argument("--profiles", nargs="+", choices=sorted(PROFILES), help="only these profiles")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), help="only these configurations")
    parser.add_argument("--bandits", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    print("$ python scripts/bench_exploration.py " + shlex.join(sys.argv[1:] if argv is None else list(argv)))
    spec = BanditSpec(k=10, horizon=50, reward="gaussian", sigma=1.0, naming="colour")
    started = time.perf_counter()
    baselines = {
        name: run_baseline(name, spec, n_bandits=args.bandits, seed=args.seeds[0]) for name in ("ucb", "random")
    }
    print(
        f"\n10-arm Gaussian bandit, sigma=1, T=50, {args.bandits} bandits per seed, seeds {args.seeds} pooled "
        f"({args.bandits * len(args.seeds)} bandits). Baselines (seed {args.seeds[0]}): "
        + ", ".join(f"{n.upper()} regret {b.final_regret()}" for n, b in baselines.items())
    )
    print("ContextSummary changes prompts only; the simulated agents ignore their prompt, so it cannot help them.")
    out: dict[str, Any] = {"seeds": args.seeds, "bandits": args.bandits, "profiles": {}}
    configs = ["unguarded (Observe)", *[c for c in (args.configs or CONFIGS) if c != "unguarded (Observe)"]]
    for profile_name in args.profiles or PROFILES:
        rows = [(name, run(profile_name, name, spec=spec, bandits=args.bandits, seeds=args.seeds)) for name in configs]
        unguarded = rows[0][1]
        print(f"\n### {profile_name}\n")
        print(table(rows, unguarded))
        out["profiles"][profile_name] = {name: s.as_dict() for name, s in rows}
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
