"""Measure a rationale reader on the labelled corpus (tests/data/rationale_corpus/{dev,test}/*.jsonl).

Prints, per split and family: items, precision (correct non-None readings / non-None readings), recall (correct
non-None readings / items whose label is an action), contradictions caught (items whose label is an action the agent
did not take, where the reading flags a gap: an action other than the one taken), and false gaps (items where the
agent took the labelled action, but the reading names another). Each figure with its counts. Then the same without
descriptions, and with a judge when ``--judge-url`` names a running OpenAI-compatible server. Misses are printed for
the dev split only (``--misses``): the test split is never looked at item by item. Deterministic; exits 0.

Usage::

    .venv/bin/python scripts/eval_rationale.py [--misses N] [--judge-url http://127.0.0.1:8000/v1]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrail.actions import ActionSpace
from guardrail.parsing import parse
from guardrail.rationale import LexicalReader, RationaleReader, read_rationale

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "rationale_corpus"
Item = dict[str, Any]


def load(split: str, corpus: Path = CORPUS) -> list[Item]:
    """Every item of one split (``dev`` or ``test``), in file order."""
    items: list[Item] = []
    for path in sorted((corpus / split).glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            items.extend(json.loads(line) for line in handle if line.strip())
    return items


def space_of(item: Item, *, descriptions: bool = True) -> ActionSpace:
    """The item's action space, with its descriptions unless asked not to."""
    return ActionSpace(item["actions"], descriptions=item.get("descriptions") or {} if descriptions else None)


def reading_of(item: Item, space: ActionSpace, reader: RationaleReader) -> tuple[str | None, float]:
    """What ``reader`` reads, and how sure it is: the raw output through ``parse`` where the item has one, else the
    rationale."""
    if item.get("output"):
        decision = parse(item["output"], space, reader=reader)
        return decision.rationale_action, decision.rationale_confidence
    reading = read_rationale(item["rationale"], space, reader)
    return reading.action, reading.confidence


@dataclass(frozen=True, slots=True)
class Scores:
    """Counts of one reader on a set of items."""

    items: int = 0
    labelled: int = 0  # label is an action
    predicted: int = 0  # reading is an action
    correct: int = 0  # reading == label, an action
    contradictions: int = 0  # label is an action the agent did not take
    caught: int = 0  # ... where the reading names an action other than the one taken
    consistent: int = 0  # the agent took the labelled action
    false_gaps: int = 0  # ... where the reading names another action

    def add(self, item: Item, got: str | None) -> Scores:
        """These counts with one more item."""
        expected, taken = item["expected"], item.get("taken")
        contradiction = expected is not None and taken != expected
        consistent = expected is not None and taken == expected
        flagged = got is not None and got != taken
        return Scores(
            self.items + 1,
            self.labelled + (expected is not None),
            self.predicted + (got is not None),
            self.correct + (got is not None and got == expected),
            self.contradictions + contradiction,
            self.caught + (contradiction and flagged),
            self.consistent + consistent,
            self.false_gaps + (consistent and flagged),
        )

    def row(self) -> str:
        """The figures, each with its counts."""

        def rate(num: int, den: int) -> str:
            return f"{num / den:6.3f} ({num}/{den})" if den else "     - (0/0)"

        return (
            f"n={self.items:<4} precision {rate(self.correct, self.predicted)}"
            f"  recall {rate(self.correct, self.labelled)}"
            f"  caught {rate(self.caught, self.contradictions)}  false gaps {rate(self.false_gaps, self.consistent)}"
        )


def evaluate(
    items: Iterable[Item],
    reader: RationaleReader,
    *,
    descriptions: bool = True,
    key: Callable[[Item], str] | None = None,
) -> tuple[dict[str, Scores], list[tuple[Item, str | None]]]:
    """Scores per family (and ``all``), and the misses."""
    scores: dict[str, Scores] = {}
    misses: list[tuple[Item, str | None]] = []
    for item in items:
        got, _ = reading_of(item, space_of(item, descriptions=descriptions), reader)
        for group in ("all", (key or (lambda i: i["family"]))(item)):
            scores[group] = scores.get(group, Scores()).add(item, got)
        if got != item["expected"]:
            misses.append((item, got))
    return scores, misses


def _print_table(title: str, splits: Sequence[tuple[str, dict[str, Scores]]]) -> None:
    print(f"\n{title}")
    for split, scores in splits:
        for family in sorted(scores, key=lambda f: (f == "all", f)):
            print(f"  {split:<4} {family:<7} {scores[family].row()}")


def main(argv: list[str] | None = None) -> int:
    """Print the tables (and dev misses); always exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--min-confidence", type=float, default=0.5)
    parser.add_argument("--misses", type=int, default=0, help="print this many dev misses")
    parser.add_argument("--judge-url", default=None, help="an OpenAI-compatible server for the judge cascade")
    args = parser.parse_args(argv)
    print("$", shlex.join([".venv/bin/python", "scripts/eval_rationale.py", *(sys.argv[1:] if argv is None else argv)]))
    reader = LexicalReader(min_confidence=args.min_confidence)
    splits = {split: load(split, args.corpus) for split in ("dev", "test")}
    results = {split: evaluate(items, reader) for split, items in splits.items()}
    _print_table("lexical reader, with descriptions", [(s, r[0]) for s, r in results.items()])
    plain = {split: evaluate(items, reader, descriptions=False)[0] for split, items in splits.items()}
    _print_table("lexical reader, names only (descriptions removed)", list(plain.items()))
    if args.judge_url:
        judged = _judge_tables(splits, args.judge_url, reader)
        _print_table("cascade: lexical reader, then the judge where it abstains", list(judged.items()))
    _print_calibration(splits, reader)
    dev_misses = results["dev"][1]
    print(f"\ndev misses: {len(dev_misses)}")
    for item, got in dev_misses[: args.misses]:
        print(f"- {item['id']} expected={item['expected']!r} got={got!r} taken={item.get('taken')!r} {item['tags']}")
        print(f"    {(item.get('output') or item['rationale'])[:400]!r}")
    return 0


def _print_calibration(splits: dict[str, list[Item]], reader: LexicalReader) -> None:
    """Precision of the readings at each confidence, per split: what a confidence threshold buys."""
    print("\ncalibration: precision of the readings at each confidence (and at or above it)")
    for split, items in splits.items():
        at: dict[float, list[int]] = {}
        for item in items:
            action, confidence = reading_of(item, space_of(item), reader)
            if action is not None:
                counts = at.setdefault(round(confidence, 2), [0, 0])
                counts[0] += 1
                counts[1] += action == item["expected"]
        for level in sorted(at, reverse=True):
            n, ok = at[level]
            above_n = sum(v[0] for c, v in at.items() if c >= level)
            above_ok = sum(v[1] for c, v in at.items() if c >= level)
            print(
                f"  {split:<4} {level:.2f}: {ok / n:.3f} ({ok}/{n})"
                f"   at or above: {above_ok / above_n:.3f} ({above_ok}/{above_n})"
            )


def _judge_tables(splits: dict[str, list[Item]], url: str, reader: RationaleReader) -> dict[str, dict[str, Scores]]:
    from langchain_openai import ChatOpenAI

    from guardrail import CascadeReader
    from guardrail_langchain import JudgeReader

    model = ChatOpenAI(base_url=url, api_key="unused", model="gemma3-270m", temperature=0.0, max_tokens=16)
    cascade = CascadeReader(reader, JudgeReader(model))
    return {split: evaluate(items, cascade)[0] for split, items in splits.items()}


if __name__ == "__main__":
    raise SystemExit(main())
