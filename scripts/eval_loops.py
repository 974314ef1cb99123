"""Loop detection on the labelled traces: precision, recall and flagged-within-one-step, per kind and overall.

Each trace is replayed through a real Guard (see guardrail.loop_traces) with the default ``Loops()`` detector;
dev and test side by side:

    python scripts/eval_loops.py [--dev tests/data/loop_traces/dev.jsonl] [--test tests/data/loop_traces/test.jsonl]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from guardrail.loop_traces import LOOP_KINDS, NON_LOOP_KINDS, KindScore, load_traces, replay, score

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "loop_traces"


def _cell(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def _row(name: str, scores: list[KindScore | None]) -> str:
    cells = []
    for s in scores:
        if s is None or s.traces == 0:
            cells.append(f"{'':>5} {'':>5} {'':>6} {'':>6} {'':>6}")
        else:
            cells.append(
                f"{s.traces:5d} {s.flagged:5d} {_cell(s.precision)} {_cell(s.recall)} {_cell(s.within_one_rate)}"
            )
    return f"{name:<14} " + " | ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=Path, default=DATA / "dev.jsonl")
    parser.add_argument("--test", type=Path, default=DATA / "test.jsonl")
    args = parser.parse_args()
    paths = (("dev", args.dev), ("test", args.test))
    splits = {name: [replay(t) for t in load_traces(path)] for name, path in paths if path.exists()}
    header = " | ".join(f"{name + ' n':>5} {'flag':>5} {'prec':>6} {'recall':>6} {'win1':>6}" for name in splits)
    print(f"{'kind':<14} {header}")
    for kind in (*LOOP_KINDS, *NON_LOOP_KINDS):
        print(_row(kind, [score([r for r in rs if r.kind == kind]) for rs in splits.values()]))
    print(_row("overall", [score(rs) for rs in splits.values()]))
    for name, rs in splits.items():
        overall = score(rs)
        named = sum(1 for r in rs if r.loop and r.pattern == r.kind)
        print(
            f"{name}: misses (not within one step) {overall.misses or 'none'}; "
            f"false alarms {overall.false_alarms or 'none'}; pattern named as labelled {named}/{overall.loops}"
        )


if __name__ == "__main__":
    main()
