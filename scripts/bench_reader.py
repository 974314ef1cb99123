"""Per-call cost of the default rationale reader (``LexicalReader``), in microseconds.

Three cases: the perf benchmark's rationale (20 actions a0..a19), the mean over the labelled items of
``tests/data/rationales.jsonl`` (those scored by scripts/eval_rationale.py, each with its own action space), and a
long (~700 character) UCB recap with a decision. Each figure is the median, over ``--repeats`` repeats, of the mean
per call within a repeat (the minimum is printed too: on a busy machine it is the steadier figure).

``--compare PATH`` loads another copy of ``guardrail/rationale.py`` (say ``git show HEAD:guardrail/rationale.py``)
and times it interleaved with the current one, so that both see the same machine load.

Usage::

    .venv/bin/python scripts/bench_reader.py [--repeats 15] [--compare /tmp/rationale_orig.py]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from guardrail import rationale
from guardrail.actions import ActionSpace
from guardrail.bench.perf import action_names, consistent_answer

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "rationales.jsonl"

LONG = (
    "Looking at the history so far: a0 was pulled 3 times with mean 0.41 (UCB 1.23); a1 was pulled 2 times with "
    "mean 0.12 (UCB 1.07); a2 was pulled 4 times, mean 0.55, UCB 1.26; a3 has not been tried yet; a4 gave 0.3 "
    "and 0.1, which is disappointing; a5 and a6 are roughly tied around 0.5. a8 is worse than a7 on every pull, "
    "and a9 looks risky given its variance. Step 12: a7 gave 0.9. Step 13: a7 gave 0.8. The empirical means "
    "favour a7, but a3 is untried, so its UCB is infinite in principle; still, the instructions say to exploit "
    "once every arm has enough pulls, and a3 was ruled out by the operator. Rather than a3, the data points to "
    "a7. Weighing exploration against exploitation, a7 has the highest UCB among the arms I may use, so I will "
    "choose a7 again this round."
)


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("_compared_rationale", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _cases(module: ModuleType) -> dict[str, tuple[Callable[[], object], int]]:
    """Case name -> (a function that makes ``calls`` reader calls, calls)."""
    reader = module.LexicalReader()
    space = ActionSpace(action_names(20))
    short = consistent_answer("a7").split("\n")[0]
    with DATA.open(encoding="utf-8") as handle:
        items = [json.loads(line) for line in handle if line.strip()]
    labelled = [(str(item["rationale"]), ActionSpace(item["actions"])) for item in items]

    def benchmark() -> None:
        for _ in range(200):
            reader(short, space)

    def over_items() -> None:
        for text, own in labelled:
            reader(text, own)

    def long() -> None:
        for _ in range(50):
            reader(LONG, space)

    return {
        "benchmark rationale": (benchmark, 200),
        f"labelled items (mean of {len(labelled)})": (over_items, len(labelled)),
        f"long rationale ({len(LONG)} chars)": (long, 50),
    }


_FRESH = """
import json, sys, time
t0 = time.perf_counter()
from guardrail.actions import ActionSpace
from guardrail.bench.perf import action_names, consistent_answer
from guardrail.rationale import LexicalReader
t1 = time.perf_counter()
LexicalReader()(consistent_answer("a7").split("\\n")[0], ActionSpace(action_names(20)))
t2 = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as handle:
    for line in handle:
        if line.strip():
            item = json.loads(line)
            LexicalReader()(item["rationale"], ActionSpace(item["actions"]))
t3 = time.perf_counter()
print(f"{(t2 - t1) * 1e3:.1f} {(t3 - t2) * 1e3:.1f}")
"""


def _one_off_costs() -> str:
    """Import time of guardrail.rationale, first call and first pass over the labelled items, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _FRESH, str(DATA)], capture_output=True, text=True, check=True
    )
    own = next(line for line in done.stderr.splitlines() if line.split("|")[-1].strip() == "guardrail.rationale")
    first, labelled = done.stdout.split()
    return (
        f"one-off: import of guardrail.rationale {int(own.split('|')[0].split(':')[1]) / 1000:.1f} ms (own time), "
        f"first call {first} ms, then first pass over the labelled items {labelled} ms (compiles the other scans)"
    )


def main(argv: list[str] | None = None) -> int:
    """Print the command line and the per-call figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--compare", type=Path, help="another rationale.py to time beside the current one")
    args = parser.parse_args(argv)
    print("$", shlex.join([".venv/bin/python", "scripts/bench_reader.py", *(sys.argv[1:] if argv is None else argv)]))
    print(_one_off_costs())
    modules = {"current": rationale}
    if args.compare is not None:
        modules["compared"] = _load(args.compare)
    cases = {label: _cases(module) for label, module in modules.items()}
    timings: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for label, module_cases in cases.items():  # interleaved: both see the same load
            for name, (run, calls) in module_cases.items():
                start = time.perf_counter_ns()
                run()
                timings.setdefault((label, name), []).append((time.perf_counter_ns() - start) / calls / 1000)
    for name in cases["current"]:
        for label in cases:
            values = timings[label, name]
            print(f"{name:32} {label:9} median {statistics.median(values):7.2f} µs/call   min {min(values):7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
