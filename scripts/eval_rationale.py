"""Measure a rationale reader on the labelled set ``tests/data/rationales.jsonl``.

Prints the command, the counts, precision (correct non-None predictions / non-None predictions), recall
(correct non-None predictions / items whose expected action is not None) and every miss. Deterministic (nothing
random). Exit code 0 whatever the figures; the gate lives in ``tests/test_rationale.py``.

Usage::

    .venv/bin/python scripts/eval_rationale.py [--data tests/data/rationales.jsonl] [--min-confidence 0.5]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guardrail.actions import ActionSpace
from guardrail.rationale import LexicalReader, RationaleReader, read_rationale

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "rationales.jsonl"


@dataclass(frozen=True, slots=True)
class Scores:
    """Counts and figures of one reader on one labelled set."""

    items: int
    expected_some: int
    predicted_some: int
    correct_some: int
    correct_none: int
    misses: tuple[tuple[dict[str, Any], str | None], ...]

    @property
    def precision(self) -> float:
        """Correct non-None predictions over non-None predictions (1.0 when there are none)."""
        return self.correct_some / self.predicted_some if self.predicted_some else 1.0

    @property
    def recall(self) -> float:
        """Correct non-None predictions over items that expect an action (1.0 when there are none)."""
        return self.correct_some / self.expected_some if self.expected_some else 1.0


def load(path: Path = DEFAULT_DATA) -> list[dict[str, Any]]:
    """The labelled items, one JSON object per non-empty line."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def evaluate(items: list[dict[str, Any]], reader: RationaleReader | None = None) -> Scores:
    """Run ``reader`` (default :class:`LexicalReader`) over ``items`` and score it."""
    predicted_some = correct_some = correct_none = expected_some = 0
    misses: list[tuple[dict[str, Any], str | None]] = []
    for item in items:
        reading = read_rationale(item["rationale"], ActionSpace(item["actions"]), reader)
        expected = item["expected"]
        expected_some += expected is not None
        predicted_some += reading.action is not None
        if reading.action == expected:
            if expected is None:
                correct_none += 1
            else:
                correct_some += 1
        else:
            misses.append((item, reading.action))
    return Scores(len(items), expected_some, predicted_some, correct_some, correct_none, tuple(misses))


def main(argv: list[str] | None = None) -> int:
    """Print the figures and the misses; always exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--min-confidence", type=float, default=0.5)
    args = parser.parse_args(argv)
    print("$", shlex.join([".venv/bin/python", "scripts/eval_rationale.py", *(sys.argv[1:] if argv is None else argv)]))
    items = load(args.data)
    scores = evaluate(items, LexicalReader(min_confidence=args.min_confidence))
    print(
        f"items: {scores.items}  expecting an action: {scores.expected_some}  expecting none: "
        f"{scores.items - scores.expected_some}"
    )
    print(
        f"predicted an action: {scores.predicted_some}  correct actions: {scores.correct_some}  "
        f"correct none: {scores.correct_none}"
    )
    print(f"precision: {scores.precision:.3f}  recall: {scores.recall:.3f}")
    for split in ("holdout", "holdout2"):
        part = evaluate([i for i in items if split in i["tags"]], LexicalReader(min_confidence=args.min_confidence))
        if part.items:
            print(
                f"  split {split!r} ({part.items} items, written after the reader, then used to tune it): "
                f"precision {part.precision:.3f}  recall {part.recall:.3f}"
            )
    print(f"misses: {len(scores.misses)}")
    for item, got in scores.misses:
        print(f"- {item['id']} expected={item['expected']!r} got={got!r} tags={item['tags']}")
        print(f"    {item['rationale'][:300]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
