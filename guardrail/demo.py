"""``guardrail demo``: the knowing-doing gap on a 10-arm bandit, unguarded and then guarded.

The agent is a *simulation* (``KnowingDoingProfile``), calibrated to PAPER.md's Gemma2-27B figures: its
rationale names the UCB arm on ~90% of steps and, given that, it acts greedily ~64% of the time. No network,
no model download.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from guardrail.bench.envs import BanditSpec
from guardrail.bench.runner import RunSummary, SimulatedBanditAgent, bandit_guard, run_bandits
from guardrail.bench.simulators import KnowingDoingProfile
from guardrail.guard import Guard
from guardrail.policies import Observe, OverrideToRationale, PolicyLike, ReAsk
from guardrail.telemetry.report import render, summarize_files

__all__ = ["register", "run_demo"]


def _guard(name: str, telemetry: Path, seed: int, *, guarded: bool, arms: tuple[str, ...]) -> Guard:
    policies: list[PolicyLike] = [ReAsk(max_attempts=2), OverrideToRationale()] if guarded else [Observe()]
    return bandit_guard(arms, policies, seed=seed, telemetry=telemetry, run_id=name)


def run_demo(*, seed: int = 0, bandits: int = 64, horizon: int = 50, arms: int = 10, telemetry: Path) -> int:
    """Play the same bandits unguarded and guarded; print a table and where the telemetry went."""
    spec = BanditSpec(k=arms, horizon=horizon, reward="gaussian", sigma=1.0, naming="colour")
    profile = KnowingDoingProfile()
    telemetry.parent.mkdir(parents=True, exist_ok=True)
    telemetry.unlink(missing_ok=True)
    started = time.perf_counter()
    print(
        f"guardrail demo: {arms}-arm Gaussian bandit (sigma=1, T={horizon}), {bandits} bandits, seed {seed}\n"
        "agent: a simulated LLM with PAPER.md's Gemma2-27B knowing-doing gap (its rationale names the UCB arm\n"
        "       on ~90% of steps; given that, it acts greedily ~64% of the time)\n"
    )
    summaries: list[RunSummary] = []
    for name, guarded in (("unguarded", False), ("guarded", True)):

        def make_agent(i: int, rng: np.random.Generator, name: str = name) -> Any:
            return SimulatedBanditAgent(profile, rng, name=name)

        def make_guard(name: str = name, guarded: bool = guarded) -> Guard:
            return _guard(name, telemetry, seed, guarded=guarded, arms=spec.arm_names)

        summary, _ = run_bandits(
            name=name,
            make_guard=make_guard,
            make_agent=make_agent,
            spec=spec,
            n_bandits=bandits,
            seed=seed,
        )
        summaries.append(summary)
    unguarded, guarded_summary = summaries
    rows = [
        ("policies", "Observe()", "ReAsk(max_attempts=2), OverrideToRationale()"),
        ("cumulative regret (mean ± 95% CI)", *(f"{s.regret_mean:.2f} ± {s.regret_ci95:.2f}" for s in summaries)),
        ("rationale-action agreement", *(f"{(s.kd_agreement or 0):.1%}" for s in summaries)),
        ("interventions per step", *(f"{s.interventions_per_step:.3f}" for s in summaries)),
        ("agent calls per step", *(f"{s.agent_calls_per_step:.3f}" for s in summaries)),
        ("coverage at T", *(f"{s.coverage_final:.1%}" for s in summaries)),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  {'unguarded':<22}  guarded")
    for label, left, right in rows:
        print(f"{label:<{width}}  {left:<22}  {right}")
    change = 1 - guarded_summary.regret_mean / unguarded.regret_mean if unguarded.regret_mean else 0.0
    print(f"\nregret change: {-change:+.1%}   ({time.perf_counter() - started:.1f} s)")
    print(f"\ntelemetry: {telemetry}")
    print("the same figures from the telemetry (what `guardrail report` prints):\n")
    print(render(summarize_files([telemetry], by="agent")))
    print(f"\nread it again with:  guardrail report {telemetry} --by agent")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="the knowing-doing gap on a 10-arm bandit, unguarded vs guarded (simulated agent, offline)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds bandits, rewards, agent and guard (default 0)")
    parser.add_argument("--bandits", type=int, default=64, help="bandits to play (default 64, as in PAPER.md)")
    parser.add_argument("--horizon", type=int, default=50, help="steps per bandit (default 50)")
    parser.add_argument("--arms", type=int, default=10, help="arms per bandit (default 10)")
    parser.add_argument(
        "--telemetry", type=Path, default=Path("guardrail-demo-events.jsonl"), help="where to write the events"
    )
    parser.set_defaults(
        func=lambda args: run_demo(
            seed=args.seed, bandits=args.bandits, horizon=args.horizon, arms=args.arms, telemetry=args.telemetry
        )
    )


if __name__ == "__main__":
    sys.exit(run_demo(telemetry=Path("guardrail-demo-events.jsonl")))
