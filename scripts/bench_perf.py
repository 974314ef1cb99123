"""Benchmark the guard's own cost: overhead per step, JSONL events per second. See docs/performance.md.

.venv/bin/python scripts/bench_perf.py                 # the full grid: 5/20/100 actions x 10/10^3/10^5 steps
.venv/bin/python scripts/bench_perf.py --quick         # a smaller run (fewer steps, no 10^5 history)

The grid is the hardest configuration (a free-text rationale read by the lexical reader, all four detectors);
a second table compares the output styles and detector sets at 20 actions and a 10^3-step history.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from guardrail_bench.perf import (
    DetectorSet,
    OutputStyle,
    OverheadResult,
    ReaderChoice,
    format_table,
    machine_description,
    measure_jsonl_throughput,
    measure_step_overhead,
)

TARGET_MEDIAN_US = 50.0
TARGET_EVENTS_PER_SECOND = 50_000.0


def main(argv: list[str] | None = None) -> int:
    """Run the grid, print the command line, a table and the targets; exit 0 whatever the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, nargs="+", default=[5, 20, 100])
    parser.add_argument("--history", type=int, nargs="+", default=[10, 1_000, 100_000])
    parser.add_argument("--steps", type=int, default=3000, help="measured steps per case")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--events", type=int, default=100_000, help="events for the JSONL throughput")
    parser.add_argument("--dir", default=None, help="where the JSONL files go (default: a temp dir; use tmpfs)")
    parser.add_argument("--quick", action="store_true", help="500 steps, histories 10 and 10^3, 20,000 events")
    parser.add_argument("--no-styles", action="store_true", help="skip the output-style / detector-set comparison")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.warmup, args.events, args.history = 500, 50, 20_000, [10, 1_000]
    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]))
    print(f"machine: {machine_description()}\n")
    results = []
    for actions in args.actions:
        for history in args.history:
            results.append(
                measure_step_overhead(
                    actions=actions, history=history, steps=args.steps, warmup=args.warmup, directory=args.dir
                )
            )
    throughput = measure_jsonl_throughput(events=args.events, directory=args.dir)
    print(format_table(results, throughput))
    print()
    styles: list[OverheadResult] = []
    if not args.no_styles:
        cases: tuple[tuple[OutputStyle, DetectorSet, ReaderChoice], ...] = (
            ("text", "all", "lexical"),
            ("text", "default", "lexical"),
            ("json", "all", "lexical"),
            ("json", "default", "lexical"),
            ("text", "all", "none"),  # everything but the lexical reading: splits the cost in two
            ("text", "default", "none"),
        )
        for output, detectors, reader in cases:
            styles.append(
                measure_step_overhead(
                    actions=20,
                    history=1_000,
                    steps=args.steps,
                    warmup=args.warmup,
                    directory=args.dir,
                    output=output,
                    detectors=detectors,
                    reader=reader,
                )
            )
        print("Output styles and detector sets, 20 actions, 10^3-step history:\n")
        print(format_table(styles))
        print()
    for r in [r for r in styles if r.reader == "lexical"] or [
        r for r in results if r.actions == 20 and r.history == 1_000
    ]:
        verdict = "meets" if r.median_us <= TARGET_MEDIAN_US else "misses"
        print(
            f"20 actions, 10^3 history, {r.output} output, {r.detectors} detectors: median {r.median_us:.1f} µs "
            f"({verdict} the {TARGET_MEDIAN_US:g} µs target)"
        )
    for actions in args.actions:
        row = [r for r in results if r.actions == actions]
        if len(row) > 1:
            spread = max(r.median_us for r in row) / min(r.median_us for r in row)
            print(f"{actions} actions: slowest / fastest median across histories = {spread:.2f}x (target <= 2x)")
    verdict = "meets" if throughput.events_per_second >= TARGET_EVENTS_PER_SECOND else "misses"
    print(
        f"JSONL: {throughput.events_per_second:,.0f} events/s ({verdict} the {TARGET_EVENTS_PER_SECOND:,.0f}/s target)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
