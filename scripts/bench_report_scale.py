"""`guardrail report` at scale: time the table and the HTML page on 10^6 synthetic events.

    .venv/bin/python scripts/bench_report_scale.py [--events 1000000] [--seed 0] [--keep DIR]

Writes ``--events`` seeded synthetic events (half step events, half reward events: a 10-arm bandit played for
50-step episodes by an unguarded and a guarded agent, with knowing-doing gaps, re-asks, overrides, invalid
answers and rewards at realistic rates, timestamps increasing) to a temporary JSONL file, then runs the real
command line twice, each in a fresh process, and times it end to end:

- ``guardrail report FILE --by agent`` (the table; target under 10 s),
- ``guardrail report FILE --by agent --html OUT.html`` (the page with its pictures; target under 30 s).

Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARMS = [f"arm_{i}" for i in range(10)]
STEPS = 50
TARGETS = {"table": 10.0, "html": 30.0}


def _episode(rng: random.Random, agent: str, index: int, clock: float) -> tuple[list[str], float]:
    """The lines of one episode (a step event and a reward event per step) and the clock after it."""
    guarded = agent == "guarded"
    run_id = f"bench-{agent}"
    episode = f"{agent}-{index}"
    means = {arm: rng.gauss(0.0, 1.0) for arm in ARMS}
    counts: dict[str, int] = {}
    lines: list[str] = []
    for t in range(STEPS):
        clock += rng.uniform(0.05, 0.4)
        said = rng.choice(ARMS)
        invalid = rng.random() < 0.02
        first = None if invalid else (said if rng.random() < 0.4 else rng.choice(ARMS))
        findings: list[dict[str, object]] = []
        corrections: list[dict[str, object]] = []
        final = first
        calls = 1
        if invalid:
            findings.append({"kind": "invalid_action", "score": 1.0, "detail": "no legal action in the output"})
        elif first != said:
            findings.append(
                {
                    "kind": "knowing_doing_gap",
                    "score": round(rng.uniform(0.6, 1.0), 2),
                    "detail": f"the rationale recommends {said!r} but the action is {first!r}",
                    "actions": [first, said],
                    "data": {"evidence": f"so I will pick {said}"},
                }
            )
            if guarded:
                calls = 2
                second = said if rng.random() < 0.5 else first
                corrections.append(
                    {"policy": "ReAsk", "kind": "reask", "from_action": first, "to_action": second, "attempts": 1}
                )
                final = second
                if second != said:
                    corrections.append(
                        {"policy": "OverrideToRationale", "kind": "override", "from_action": second, "to_action": said}
                    )
                    final = said
        if final is None:
            final = rng.choice(ARMS)
            corrections.append({"policy": "fallback", "kind": "fallback", "to_action": final, "reason": "random"})
        counts[final] = counts.get(final, 0) + 1
        step = {
            "schema_version": 1,
            "type": "step",
            "event_id": f"{rng.getrandbits(128):032x}",
            "run_id": run_id,
            "episode": episode,
            "step": t,
            "timestamp": clock,
            "status": "ok",
            "agent": agent,
            "format": "action_eq",
            "raw": f"{said} has the best average reward so far, so I will pick {said}.\nACTION={first or 'purple'}",
            "rationale": f"{said} has the best average reward so far, so I will pick {said}.",
            "raw_action": first or "purple",
            "parsed_action": first,
            "rationale_action": said,
            "rationale_confidence": 0.95,
            "final_rationale_action": said,
            "findings": findings,
            "corrections": corrections,
            "final_action": final,
            "agent_calls": calls,
            "agent_latency_s": 0.2 * calls,
            "guard_latency_s": 0.0001,
            "coverage": len(counts) / len(ARMS),
            "counts": dict(counts),
            "policies": ["ReAsk", "OverrideToRationale"] if guarded else ["Observe"],
        }
        lines.append(json.dumps({k: v for k, v in step.items() if v is not None}))
        reward = {
            "schema_version": 1,
            "type": "reward",
            "event_id": f"{rng.getrandbits(128):032x}",
            "run_id": run_id,
            "episode": episode,
            "step": t,
            "timestamp": clock + 0.01,
            "reward": round(rng.gauss(means[final], 1.0), 4),
        }
        lines.append(json.dumps(reward))
    return lines, clock


def generate(path: Path, n_events: int, seed: int) -> tuple[int, int]:
    """Write ``n_events`` events (episodes alternate between the agents); returns (events, step events)."""
    rng = random.Random(seed)
    written = steps = 0
    clock = 1.75e9
    index = 0
    with path.open("w", encoding="utf-8") as out:
        while written < n_events:
            lines, clock = _episode(rng, "guarded" if index % 2 else "unguarded", index // 2, clock)
            lines = lines[: n_events - written]
            out.write("\n".join(lines) + "\n")
            written += len(lines)
            steps += sum(1 for line in lines if '"type": "step"' in line)
            index += 1
    return written, steps


def _timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) the command took, end to end in a fresh interpreter; its output is discarded.

    The CPU time says what the wall time would be on an idle machine; on a shared one the two differ.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    """Generate, time the table and the page, print the figures; 1 if a target was missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the events and the page into this directory and keep them")
    parser.add_argument("--reuse", action="store_true", help="with --keep: time the events already there")
    args = parser.parse_args(argv)
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]))
    print(f"python {sys.version.split()[0]}; cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        events = where / "events.jsonl"
        started = time.perf_counter()
        if args.reuse and events.exists():
            with events.open("rb") as handle:
                kinds = [b'"type": "step"' in line for line in handle]
            n, steps = len(kinds), sum(kinds)
            verb = "reusing"
        else:
            n, steps = generate(events, args.events, args.seed)
            verb = "generated"
        print(
            f"{verb} {n:,} events ({steps:,} steps, {n - steps:,} rewards; "
            f"{events.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        command = [sys.executable, "-m", "guardrail.cli", "report", str(events), "--by", "agent"]
        page = where / "report.html"
        figures = {
            "table": _timed(command),
            "html": _timed([*command, "--html", str(page)]),
        }
        size = page.stat().st_size
    missed = False
    for name, (wall, cpu) in figures.items():
        ok = wall < TARGETS[name]
        missed = missed or not ok
        verdict = "met" if ok else "MISSED"
        print(f"{name:>5}: {wall:6.2f} s wall, {cpu:6.2f} s CPU  (target < {TARGETS[name]:g} s: {verdict})")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"page: {size / 1e6:.2f} MB")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
