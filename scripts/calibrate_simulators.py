#!/usr/bin/env python
"""Check the simulated agents against the paper's figures (no guard, no model).

Runs each profile of :mod:`guardrail_bench.simulators` over 64 bandits x 50 steps (10 arms, Gaussian,
sigma = 1) and prints the measured knowing-doing table beside Schmied et al.'s, the frequent-action share
(on steps whose most frequent action is not greedy), coverage at T and cumulative regret, with the UCB and
uniform-random baselines for reference. Seeded; takes a few seconds.

    .venv/bin/python scripts/calibrate_simulators.py [--seed 0] [--bandits 64]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from guardrail_bench.baselines import run_baseline
from guardrail_bench.envs import BanditSpec
from guardrail_bench.metrics import PAPER_KNOWING_DOING_TABLE
from guardrail_bench.simulators import (
    FrequencyBiasProfile,
    GreedyProfile,
    KnowingDoingProfile,
    SimulatedAgent,
    run_simulated,
)


def main(argv: list[str] | None = None) -> int:
    """Run the calibration and print the report; returns 0 if the knowing-doing table is within 3 points."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=0, help="master seed (bandits, rewards, agents)")
    parser.add_argument("--bandits", type=int, default=64, help="bandits per run (the paper: 64)")
    parser.add_argument("--arms", type=int, default=10, help="arms per bandit")
    parser.add_argument("--horizon", type=int, default=50, help="steps per episode")
    parser.add_argument("--sigma", type=float, default=1.0, help="Gaussian reward noise")
    args = parser.parse_args(argv)

    print("$ " + shlex.join([sys.executable, *sys.argv]))
    started = time.perf_counter()
    spec = BanditSpec(k=args.arms, horizon=args.horizon, sigma=args.sigma)
    print(
        f"setting: {args.bandits} bandits x {spec.horizon} steps, {spec.k} arms, gaussian sigma={spec.sigma}, "
        f"seed={args.seed}; all agents are simulations, unguarded\n"
    )

    profiles: list[tuple[str, SimulatedAgent]] = [
        ("knowing-doing (27B)", KnowingDoingProfile()),
        # 0.95 is the copy probability that measures the paper's 96% (0.9, the issue-3 agent, measures ~91%).
        ("frequency bias (2B)", FrequencyBiasProfile(copy_probability=0.95)),
        ("greedy", GreedyProfile()),
    ]
    within = True
    for label, agent in profiles:
        result = run_simulated(agent, spec, args.bandits, args.seed, name=label)
        table = result.knowing_doing_table()
        fractions = result.frequency_fractions()
        print(f"== {label}: {type(agent).__name__}")
        if isinstance(agent, KnowingDoingProfile):
            print("knowing-doing table, % of steps (paper's Gemma2-27B in brackets):")
            print(table.format(PAPER_KNOWING_DOING_TABLE))
            difference = table.max_abs_difference()
            print(f"max |measured - paper| = {difference:.2f} points (target <= 3)")
            within = within and difference <= 3.0
        else:
            print("knowing-doing table, % of steps (the paper's figure for this model is not this table):")
            print(table.format(None))
        print(
            f"frequent-action share when frequent != greedy: {fractions.frequent:.3f} "
            f"(greedy {fractions.greedy:.3f}, other {fractions.other:.3f}; {fractions.n_steps} steps)"
        )
        if isinstance(agent, FrequencyBiasProfile):
            gap = abs(fractions.frequent - 0.96) * 100
            print(f"|measured - paper's 2B 96%| = {gap:.2f} points (target <= 3)")
            within = within and gap <= 3.0
        print(f"coverage at T: {result.run.final_coverage()}   cumulative regret at T: {result.run.final_regret()}\n")

    print("== baselines (same bandits and reward noise)")
    for name in ("ucb", "random", "epsilon_greedy", "greedy"):
        run = run_baseline(name, spec, args.bandits, args.seed)
        print(f"{name:>15}: regret at T {run.final_regret()!s:>14}   coverage at T {run.final_coverage()}")
    print(
        f"\npaper targets: 27B table above; 2B frequent share 0.96 (copy probability 0.95); "
        f"greedy coverage ~0.2 on 10 arms.\ndone in {time.perf_counter() - started:.1f} s"
    )
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
