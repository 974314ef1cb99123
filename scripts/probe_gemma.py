"""Probe the local Gemma 3 270M: does it follow the bandit and AIW formats, and does it act against its text?

Runs the real model (llama.cpp, 2 threads) on random bandit prompts (5 colour arms, random histories) and on
Alice-in-Wonderland prompts, and prints:

- how often the output has a parseable ``ACTION=<legal arm>`` line (``### Answer: <n>`` for AIW);
- how often the text before that line names a different arm than the action (a rough regex reader: the arm
  after "try/press/choose/pick", else the last arm named), i.e. the knowing-doing gap the library catches;
- how often the action is the greedy arm, the most frequent arm in the context, or an untried arm;
- for AIW, how often the answer is right (M + 1) and how often it contradicts the reasoning's last number;
- wall time per call and generated tokens per second; and a few sample outputs.

Usage::

    .venv/bin/python scripts/probe_gemma.py --seed 0 --bandit 30 --aiw 20
"""

from __future__ import annotations

import argparse
import re
import shlex
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from guardrail_bench.llm import LlamaCppAgent
from guardrail_bench.prompts import AIW_ANSWER_PREFIX, aiw_answer, aiw_prompt, bandit_prompt

ARMS = ("red", "blue", "green", "yellow", "purple")
_ACTION = re.compile(r"ACTION\s*=\s*\**\s*([A-Za-z_]+)", re.IGNORECASE)
_ARM = re.compile(r"\b(" + "|".join(ARMS) + r")\b", re.IGNORECASE)
_VERBS = r"try|tried|press|pressed|pressing|choose|chose|pick|picked|select|play|go with|stick with"
_RECOMMEND = re.compile(r"\b(?:" + _VERBS + r")\s+(?:the\s+)?(" + "|".join(ARMS) + r")\b", re.IGNORECASE)
_ANSWER = re.compile(re.escape(AIW_ANSWER_PREFIX) + r"\s*(-?\d+)")
_NUMBER = re.compile(r"-?\d+")


@dataclass
class Timing:
    """Wall time and generated tokens per call."""

    seconds: list[float] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    output_tokens: list[int] = field(default_factory=list)

    def add(self, agent: LlamaCppAgent) -> None:
        self.seconds.append(agent.last_elapsed)
        self.prompt_tokens.append(agent.last_usage.input_tokens)
        self.output_tokens.append(agent.last_usage.output_tokens)


def random_history(rng: np.random.Generator) -> list[tuple[str, float]]:
    """A random 3-20 step history on a Gaussian bandit (mu ~ U(0, 1), sigma = 1), biased towards one arm
    so that a most-frequent arm exists."""
    means = rng.uniform(0.0, 1.0, size=len(ARMS))
    favourite = int(rng.integers(len(ARMS)))
    tried = rng.choice(len(ARMS), size=int(rng.integers(2, len(ARMS) + 1)), replace=False)
    length = int(rng.integers(3, 21))
    history = []
    for _ in range(length):
        arm = favourite if rng.random() < 0.5 else int(rng.choice(tried))
        history.append((ARMS[arm], float(rng.normal(means[arm], 1.0))))
    return history


def read_bandit(text: str) -> tuple[str | None, str | None, str | None]:
    """(action, recommended arm, last arm named) from one output; None where absent or illegal."""
    matches = list(_ACTION.finditer(text))
    if not matches:
        return None, None, None
    last = matches[-1]
    action = last.group(1).lower()
    rationale = text[: last.start()]
    recommended = [m.group(1).lower() for m in _RECOMMEND.finditer(rationale)]
    named = [m.group(1).lower() for m in _ARM.finditer(rationale)]
    return (
        action if action in ARMS else None,
        recommended[-1] if recommended else None,
        named[-1] if named else None,
    )


def history_facts(history: list[tuple[str, float]]) -> tuple[str, str, set[str]]:
    """(greedy arm, most frequent arm, untried arms) of a history."""
    rewards: dict[str, list[float]] = {}
    for arm, reward in history:
        rewards.setdefault(arm, []).append(reward)
    greedy = max(rewards, key=lambda arm: statistics.fmean(rewards[arm]))
    frequent = Counter(arm for arm, _ in history).most_common(1)[0][0]
    return greedy, frequent, set(ARMS) - set(rewards)


def pct(part: int, whole: int) -> str:
    """``part/whole (xx%)``."""
    return f"{part}/{whole} ({100.0 * part / whole:.0f}%)" if whole else f"{part}/0"


def probe_bandit(agent: LlamaCppAgent, rng: np.random.Generator, count: int, timing: Timing) -> None:
    """Run ``count`` bandit prompts and print the format and knowing-doing statistics."""
    parsed = differs_recommended = with_recommended = differs_named = with_named = 0
    greedy_hits = frequent_hits = untried_hits = untried_possible = 0
    samples: list[str] = []
    for index in range(count):
        history = random_history(rng)
        output = agent(bandit_prompt(ARMS, history))
        timing.add(agent)
        action, recommended, named = read_bandit(output)
        if index < 4:
            samples.append(output)
        if action is None:
            continue
        parsed += 1
        if recommended is not None:
            with_recommended += 1
            differs_recommended += recommended != action
        if named is not None:
            with_named += 1
            differs_named += named != action
        greedy, frequent, untried = history_facts(history)
        greedy_hits += action == greedy
        frequent_hits += action == frequent
        if untried:
            untried_possible += 1
            untried_hits += action in untried
    print(f"\n## Bandit ({count} prompts, 5 arms, random histories of 3-20 steps)")
    print(f"parseable ACTION=<legal arm>:                     {pct(parsed, count)}")
    print(f"rationale recommends an arm (try/press/pick X):   {pct(with_recommended, parsed)} of parsed")
    print(f"  ... and the ACTION differs from it:             {pct(differs_recommended, with_recommended)}")
    print(f"rationale names some arm:                         {pct(with_named, parsed)} of parsed")
    print(f"  ... and the last-named arm differs from ACTION: {pct(differs_named, with_named)}")
    print(f"ACTION = greedy arm (best empirical mean):        {pct(greedy_hits, parsed)}")
    print(f"ACTION = most frequent arm in the context:        {pct(frequent_hits, parsed)}")
    print(f"ACTION = an untried arm (when one exists):        {pct(untried_hits, untried_possible)}")
    for number, sample in enumerate(samples, start=1):
        print(f"--- bandit sample {number}:\n{sample.strip()}")


def probe_aiw(agent: LlamaCppAgent, rng: np.random.Generator, count: int, timing: Timing) -> None:
    """Run ``count`` AIW prompts and print the format, accuracy and self-contradiction statistics."""
    parsed = correct = contradicts = with_number = 0
    samples: list[str] = []
    for index in range(count):
        brothers, sisters = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        output = agent(aiw_prompt(brothers, sisters))
        timing.add(agent)
        if index < 4:
            right = aiw_answer(brothers, sisters)
            samples.append(f"(N={brothers}, M={sisters}, right={right})\n{output.strip()}")
        match = _ANSWER.search(output)
        if match is None:
            continue
        parsed += 1
        answer = int(match.group(1))
        correct += answer == aiw_answer(brothers, sisters)
        numbers = _NUMBER.findall(output[: match.start()])
        if numbers:
            with_number += 1
            contradicts += int(numbers[-1]) != answer
    print(f"\n## Alice in Wonderland ({count} prompts, N, M in 1..6)")
    print(f"parseable '{AIW_ANSWER_PREFIX} <n>':                 {pct(parsed, count)}")
    print(f"answer correct (M + 1):                           {pct(correct, parsed)} of parsed")
    print(f"reasoning ends in a number != the answer:         {pct(contradicts, with_number)}")
    for number, sample in enumerate(samples, start=1):
        print(f"--- AIW sample {number}: {sample}")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, load the model once, run both probes and print the timing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bandit", type=int, default=30, help="number of bandit prompts")
    parser.add_argument("--aiw", type=int, default=20, help="number of AIW prompts")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    print("$ " + " ".join(shlex.quote(part) for part in [sys.executable, *sys.argv]))

    rng = np.random.default_rng(args.seed)
    agent = LlamaCppAgent(
        seed=args.seed, temperature=args.temperature, max_tokens=args.max_tokens, n_threads=args.threads
    )
    started = time.perf_counter()
    agent.load()
    print(f"model: {agent.model_path} (loaded in {time.perf_counter() - started:.2f} s)")
    print(f"settings: temperature={args.temperature} max_tokens={args.max_tokens} threads={args.threads}")

    timing = Timing()
    probe_bandit(agent, rng, args.bandit, timing)
    probe_aiw(agent, rng, args.aiw, timing)

    calls = len(timing.seconds)
    if calls:
        total_seconds = sum(timing.seconds)
        print(f"\n## Timing ({calls} calls, {args.threads} threads)")
        print(f"wall time per call: mean {total_seconds / calls:.2f} s, max {max(timing.seconds):.2f} s")
        print(
            f"tokens per call: prompt mean {statistics.fmean(timing.prompt_tokens):.0f}, "
            f"generated mean {statistics.fmean(timing.output_tokens):.0f}"
        )
        print(f"generated tokens / wall second: {sum(timing.output_tokens) / total_seconds:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
