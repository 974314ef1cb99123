#!/usr/bin/env python
"""Alice-in-Wonderland with the real Gemma 3 270M: generate outputs, then score the answer-vs-reasoning check.

Two steps, both seeded and reproducible:

``generate``: ask the model ``--n`` AIW questions (``guardrail_bench.envs.aiw_questions(n, seed)``, the prompt
``guardrail_bench.prompts.aiw_prompt``) and write one JSON line per output (question, N, M, the correct answer,
the model's text) to ``--out``. Labels are added by hand afterwards (see benchmarks/tests/data/aiw_labelled.jsonl and
docs/benchmarks.md for the labelling rules).

``evaluate``: read a labelled file and report the model's accuracy (answer == M + 1) and the precision and
recall of :func:`guardrail_bench.aiw.check_answer` (flag: the final ``### Answer: n`` contradicts the number
the reasoning concluded) against the hand labels.

    .venv/bin/python scripts/bench_aiw.py generate --n 48 --seed 0 --out /tmp/aiw_raw.jsonl
    .venv/bin/python scripts/bench_aiw.py evaluate benchmarks/tests/data/aiw_labelled.jsonl
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path


def generate(args: argparse.Namespace) -> int:
    """Run the model on ``args.n`` questions and write the raw outputs."""
    from guardrail_bench.envs import aiw_questions
    from guardrail_bench.llm import LlamaCppAgent
    from guardrail_bench.prompts import aiw_prompt

    agent = LlamaCppAgent(seed=args.seed, temperature=args.temperature, max_tokens=args.max_tokens)
    agent.load()
    started = time.perf_counter()
    rows = []
    for index, item in enumerate(aiw_questions(args.n, seed=args.seed)):
        output = agent(aiw_prompt(item.n_brothers, item.m_sisters))
        rows.append(
            {
                "id": index,
                "question": item.text,
                "n_brothers": item.n_brothers,
                "m_sisters": item.m_sisters,
                "correct_answer": item.answer,
                "output": output,
            }
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {len(rows)} outputs to {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """Score the check against the hand labels and print accuracy, precision and recall."""
    from guardrail_bench.aiw import evaluate_labelled, load_labelled

    report = evaluate_labelled(load_labelled(args.labelled))
    print(report.format())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the subcommand and run it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="run the model and write raw outputs")
    gen.add_argument("--n", type=int, default=48)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--temperature", type=float, default=0.7)
    gen.add_argument("--max-tokens", type=int, default=96)
    gen.add_argument("--out", type=Path, required=True)
    gen.set_defaults(func=generate)
    ev = sub.add_parser("evaluate", help="score the answer-vs-reasoning check against hand labels")
    ev.add_argument("labelled", type=Path)
    ev.set_defaults(func=evaluate)
    args = parser.parse_args(argv)
    print("$ " + shlex.join(["python", "scripts/bench_aiw.py", *(sys.argv[1:] if argv is None else argv)]))
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
