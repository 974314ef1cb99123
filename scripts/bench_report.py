"""Report throughput: write N realistic telemetry events to a temporary JSONL file and time ``summarize``.

    .venv/bin/python scripts/bench_report.py [--events 1000000] [--seed 0] [--by agent] [--keep PATH]

The events imitate a 10-arm bandit benchmark (50-step episodes, two agents ``unguarded`` and ``guarded``, a
reward event after every step, rationales of a few hundred characters, findings and corrections at realistic
rates). They are written with ``json.dumps`` of plain dicts (not pydantic), so generating is fast too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path

import guardrail.telemetry.read as read_module
from guardrail.telemetry.report import render, summarize_files

ARMS = [f"arm{i}" for i in range(10)]
STEPS_PER_EPISODE = 50


def _step(
    rng: random.Random, run_id: str, agent: str, episode: str, t: int, counts: dict[str, int]
) -> dict[str, object]:
    guarded = agent == "guarded"
    said = rng.choice(ARMS)
    first = said if rng.random() < 0.55 else rng.choice(ARMS)
    invalid = rng.random() < 0.03
    findings: list[dict[str, object]] = []
    corrections: list[dict[str, object]] = []
    parsed = None if invalid else first
    if invalid:
        findings.append({"kind": "invalid_action", "score": 1.0, "detail": "no action was found in the output"})
    elif first != said:
        findings.append(
            {
                "kind": "knowing_doing_gap",
                "score": 0.9,
                "detail": f"the rationale recommends {said!r} but the action is {first!r}",
                "actions": [first, said],
                "data": {"evidence": f"so I should choose {said}"},
            }
        )
    if rng.random() < 0.1:
        findings.append({"kind": "frequency_bias", "score": 0.6, "detail": "repeated", "actions": [first or said]})
    final = first if first is not None and not invalid else rng.choice(ARMS)
    calls = 1
    if guarded and findings:
        calls = 2
        corrections.append({"policy": "ReAsk", "kind": "reask", "from_action": parsed, "to_action": said})
        final = said
    elif invalid:
        corrections.append({"policy": "fallback", "kind": "fallback", "to_action": final, "reason": "random"})
    counts[final] = counts.get(final, 0) + 1
    event: dict[str, object] = {
        "schema_version": 1,
        "type": "step",
        "event_id": f"{rng.getrandbits(128):032x}",
        "run_id": run_id,
        "episode": episode,
        "step": t,
        "timestamp": 1.7e9 + t,
        "status": "ok",
        "agent": agent,
        "format": "action_eq",
        "raw": f"Step {t}. Means so far favour {said}; the UCB values rank {said} first, so I should choose {said}. "
        * 3
        + f"ACTION={first}",
        "rationale": f"The UCB values rank {said} first, so I should choose {said}. " * 3,
        "raw_action": first or "purple",
        "rationale_action": said,
        "rationale_confidence": 0.9,
        "final_rationale_action": said,
        "findings": findings,
        "corrections": corrections,
        "final_action": final,
        "agent_calls": calls,
        "agent_latency_s": 0.2 * calls,
        "guard_latency_s": 0.0001,
        "coverage": len(counts) / len(ARMS),
        "counts": dict(counts),
        "policies": ["ReAsk"] if guarded else [],
    }
    if parsed is not None:
        event["parsed_action"] = parsed
    return event


def generate(path: Path, n_events: int, seed: int) -> int:
    """Write about ``n_events`` events (steps and rewards, alternating); returns the number written."""
    rng = random.Random(seed)
    means = {}
    written = 0
    with path.open("w", encoding="utf-8") as out:
        episode_index = 0
        while written < n_events:
            agent = "guarded" if episode_index % 2 else "unguarded"
            run_id = f"bench-{agent}"
            episode = f"bandit-{episode_index // 2}"
            means = {arm: rng.random() for arm in ARMS}
            counts: dict[str, int] = {}
            lines = []
            for t in range(STEPS_PER_EPISODE):
                if written >= n_events:
                    break
                step = _step(rng, run_id, agent, episode, t, counts)
                lines.append(json.dumps(step))
                written += 1
                if written < n_events:
                    reward = rng.gauss(means[str(step["final_action"])], 1.0)
                    lines.append(
                        json.dumps(
                            {
                                "schema_version": 1,
                                "type": "reward",
                                "event_id": f"{rng.getrandbits(128):032x}",
                                "run_id": run_id,
                                "episode": episode,
                                "step": t,
                                "timestamp": 1.7e9 + t + 0.5,
                                "reward": reward,
                            }
                        )
                    )
                    written += 1
            out.write("\n".join(lines) + "\n")
            episode_index += 1
    return written


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code (1 if the target time was missed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--by", choices=["episode", "agent", "policy", "run"], default="agent")
    parser.add_argument("--target-seconds", type=float, default=30.0)
    parser.add_argument("--stdlib-json", action="store_true", help="use json.loads even if orjson is installed")
    parser.add_argument("--keep", type=Path, help="write the events here and keep them (default: a temp file)")
    args = parser.parse_args(argv)
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]))
    if args.stdlib_json:
        read_module.loads = json.loads
    loader = read_module.loads
    print(
        f"json loader: {getattr(loader, '__module__', '?')}.{getattr(loader, '__name__', '?')}; cpus: {os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "events.jsonl"
        started = time.perf_counter()
        n = generate(path, args.events, args.seed)
        generated = time.perf_counter() - started
        size = path.stat().st_size
        print(f"generated {n:,} events ({size / 1e6:.0f} MB) in {generated:.1f} s -> {path}")
        started = time.perf_counter()
        summary = summarize_files(path, by=args.by)
        elapsed = time.perf_counter() - started
    print(render(summary), end="")
    print(f"summarised {n:,} events in {elapsed:.2f} s: {n / elapsed:,.0f} events/s ({size / 1e6 / elapsed:.0f} MB/s)")
    ok = elapsed < args.target_seconds
    print(f"target < {args.target_seconds:g} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
