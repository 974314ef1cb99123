"""Benchmark the lexical rationale reader: what one read costs, at scale and on hostile text.

Prints (median and p99 in microseconds, best of ``--repeat`` runs per item):

- every rationale of the labelled corpus (tests/data/rationale_corpus), with its own action space, read three ways,
  because the reader remembers what it read (see :func:`forget`): a *first* read, of a text whose phrases it has
  not read (what each window reads as and what each clause grounds to forgotten; what each word earns in the
  space kept, as an agent's words recur from step to step: the headline figure); a *cold* read, with the words
  forgotten too (the first rationale an agent's space ever sees); and a *repeated* read of the same text;
- one tool-agent rationale against catalogues of 20 and of 500 tools (names and descriptions made up, seeded);
- rationales of growing length (1, 10, 100 KB; ``max_chars`` raised so all of it is read), with the time per KB,
  which stays flat when reading is linear in the rationale's length.

Usage::

    .venv/bin/python scripts/bench_reader.py [--repeat 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from guardrail import actions
from guardrail.actions import ActionSpace
from guardrail.rationale import LexicalReader, _grounding, _lexical

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "rationale_corpus"
VERBS = ["get", "list", "search", "create", "update", "delete", "send", "run", "check", "export"]
NOUNS = ["order", "invoice", "customer", "ticket", "report", "user", "file", "event", "metric", "alert", "page"]
RATIONALE = (
    "The customer says the March invoice was charged twice. Before refunding anything I want the invoice history, "
    "so I'll list the customer's invoices first and then decide whether a refund is warranted."
)


Read = Literal["first", "cold", "repeated"]


def forget(space: ActionSpace, *, words: bool) -> None:
    """Clear the reader's memos of phrases (the window readings, the space's clause groundings) and, with
    ``words``, of words (stems, concepts, what each word earns in the space); the space's vocabulary stays built.
    These are private memos of the reader, named here so that a timed read cannot be a remembered one."""
    _lexical._judge.cache_clear()
    vocabulary = _grounding.vocabulary(space)
    vocabulary.ground.cache_clear()  # type: ignore[attr-defined]
    if words:
        vocabulary.word.cache_clear()  # type: ignore[attr-defined]
        _grounding._keys.cache_clear()
        actions.stem.cache_clear()


def best_of(reader: LexicalReader, text: str, space: ActionSpace, repeat: int, *, read: Read = "repeated") -> float:
    """The fastest of ``repeat`` reads, in microseconds: ``"first"`` and ``"cold"`` reads :func:`forget` before
    each, ``"repeated"`` reads the text again."""
    reader(text, space)  # build the space's vocabulary
    times = []
    for _ in range(repeat):
        if read != "repeated":
            forget(space, words=read == "cold")
        started = time.perf_counter_ns()
        reader(text, space)
        times.append((time.perf_counter_ns() - started) / 1000)
    return min(times)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of ``values``."""
    return float(np.percentile(values, q))


def catalogue(size: int, rng: np.random.Generator) -> ActionSpace:
    """``size`` made-up tools, always including list_invoices and refund_charge."""
    names = {"list_invoices": "List a customer's invoices.", "refund_charge": "Refund one charge to the card."}
    while len(names) < size:
        verb, noun, area = rng.choice(VERBS), rng.choice(NOUNS), f"svc{int(rng.integers(0, 10_000))}"
        names.setdefault(f"{area}.{verb}_{noun}", f"{verb.capitalize()} a {noun} in {area}.")
    return ActionSpace(list(names), descriptions=names)


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("$", shlex.join([".venv/bin/python", "scripts/bench_reader.py", *(sys.argv[1:] if argv is None else argv)]))
    reader = LexicalReader()
    items = [
        json.loads(line)
        for path in sorted(CORPUS.glob("*/*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    spaces = [ActionSpace(item["actions"], descriptions=item["descriptions"]) for item in items]
    for read in get_args(Read):
        times = [
            best_of(reader, item["rationale"], space, args.repeat, read=read)
            for item, space in zip(items, spaces, strict=True)
        ]
        print(
            f"corpus, {read} read: {len(times)} rationales, median {statistics.median(times):.0f} µs,"
            f" p99 {percentile(times, 99):.0f} µs, max {max(times):.0f} µs"
        )
    rng = np.random.default_rng(args.seed)
    at = {size: best_of(reader, RATIONALE, catalogue(size, rng), args.repeat, read="first") for size in (20, 500)}
    print(f"tool catalogue: 20 tools {at[20]:.0f} µs, 500 tools {at[500]:.0f} µs ({at[500] / at[20]:.2f}x)")
    long_reader = LexicalReader(max_chars=10_000_000)
    space = ActionSpace(["red", "blue", "green"])
    unit = "red has a mean of 0.4 after 3 pulls, blue is untried. "
    for size in (1_000, 10_000, 100_000):
        text = (unit * (size // len(unit) + 1))[:size] + " So I choose blue."
        spent = best_of(long_reader, text, space, max(1, args.repeat // 2), read="first")
        print(f"length {size // 1000:>4} KB: {spent / 1000:8.1f} ms, {spent / (size / 1000):7.0f} µs per KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
