"""The guard's own cost: overhead per step and telemetry throughput, with an instant agent.

An instant agent returns a fixed, consistent answer, so every measured microsecond is the guard's: parse, read
the rationale, detect, run the policies (which find nothing to correct, so no extra agent call is made), update
the history, build the event and write it to JSONL.

Two output styles: ``"text"`` ("... so I should choose X.\\nACTION=X", whose free-text rationale the lexical
reader reads) and ``"json"`` (a JSON object whose ``intended_action`` field states the rationale's action, so
no lexical reading is needed). Two detector sets: ``"all"`` four and the Guard's ``"default"`` two. With
``reader="none"`` the Guard is given a reader that returns the action the benchmark's rationale ends with,
without reading it: the step then does everything but the lexical reading, which splits the cost in two.

Histories are pre-filled with ``record_step``/``record_reward`` to the size under test. Each measured step
runs on an episode whose history has that size, give or take 10%: a small history is spread over many
pre-filled episodes, a large one takes one episode.

Used by ``scripts/bench_perf.py``; see docs/performance.md.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from guardrail import (
    ActionSpace,
    FrequencyBias,
    Greediness,
    Guard,
    InMemoryHistoryStore,
    InvalidAction,
    JsonlSink,
    KnowingDoingGap,
    OverrideToRationale,
    RationaleReading,
    ReAsk,
    StepEvent,
)
from guardrail.detectors import DetectorLike
from guardrail.rationale import NO_READING

__all__ = [
    "AGENT_CALL_SECONDS",
    "DetectorSet",
    "OutputStyle",
    "OverheadResult",
    "ReaderChoice",
    "ThroughputResult",
    "action_names",
    "consistent_answer",
    "consistent_json_answer",
    "format_table",
    "machine_description",
    "measure_jsonl_throughput",
    "measure_step_overhead",
    "prefill",
]

AGENT_CALL_SECONDS = 0.1
"""The LLM call the overhead is compared with: 100 ms."""

OutputStyle = Literal["text", "json"]
DetectorSet = Literal["all", "default"]
ReaderChoice = Literal["lexical", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OverheadResult:
    """Guard overhead per step for one (actions, history) case, in microseconds."""

    actions: int
    history: int
    steps: int
    output: OutputStyle = "text"
    detectors: DetectorSet = "all"
    reader: ReaderChoice = "lexical"
    median_us: float
    p90_us: float
    mean_us: float

    @property
    def ratio_to_agent_call(self) -> float:
        """The median overhead as a fraction of a 100 ms agent call."""
        return self.median_us * 1e-6 / AGENT_CALL_SECONDS


@dataclass(frozen=True, slots=True, kw_only=True)
class ThroughputResult:
    """JSONL sink throughput: serialise + write of ready-made step events."""

    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        """Events written per second."""
        return self.events / self.seconds if self.seconds > 0 else math.inf


def action_names(k: int) -> list[str]:
    """``k`` action names: ``a0 .. a{k-1}``."""
    return [f"a{i}" for i in range(k)]


def consistent_answer(action: str) -> str:
    """A short answer whose rationale recommends ``action`` and whose action is ``action``."""
    return (
        f"Looking at the history, {action} has the best upper confidence bound, "
        f"so I should choose {action}.\nACTION={action}"
    )


def consistent_json_answer(action: str) -> str:
    """The same answer as a JSON object whose ``intended_action`` field names the rationale's action."""
    rationale = consistent_answer(action).split("\n", 1)[0]
    return json.dumps({"rationale": rationale, "intended_action": action, "action": action})


def _unread(rationale: str, actions: ActionSpace) -> RationaleReading:
    """The action a benchmark rationale ends with ("... so I should choose X."), found without reading it."""
    action = actions.resolve(rationale.rsplit(" ", 1)[-1])
    return RationaleReading(action=action, confidence=1.0) if action is not None else NO_READING


def prefill(store: InMemoryHistoryStore, episode: str, k: int, steps: int, rng: np.random.Generator) -> None:
    """Record ``steps`` steps, each with a reward, into ``episode`` (uniformly random actions)."""
    actions = rng.integers(k, size=steps)
    rewards = rng.normal(0.5, 1.0, size=steps)
    for action, reward in zip(actions.tolist(), rewards.tolist(), strict=True):
        store.record_step(episode, k, action)
        store.record_reward(episode, k, reward)


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def measure_step_overhead(
    *,
    actions: int,
    history: int,
    steps: int = 2000,
    warmup: int = 200,
    directory: str | os.PathLike[str] | None = None,
    seed: int = 0,
    output: OutputStyle = "text",
    detectors: DetectorSet = "all",
    reader: ReaderChoice = "lexical",
    clock: Callable[[], int] = time.perf_counter_ns,
) -> OverheadResult:
    """Time ``steps`` guarded steps of an instant agent at ``actions`` actions and a ``history``-step history.

    The guard runs ``detectors`` (all four, or the default knowing-doing gap and invalid action) and
    ``[ReAsk(), OverrideToRationale()]`` and writes every event to a JSONL file in ``directory`` (a temporary
    directory by default). ``output`` is the instant agent's answer style and ``reader`` whether the lexical
    reader reads the rationale (see the module docstring).
    """
    if actions < 2 or history < 0 or steps < 1 or warmup < 0:
        raise ValueError("need actions >= 2, history >= 0, steps >= 1, warmup >= 0")
    if output not in ("text", "json") or detectors not in ("all", "default") or reader not in ("lexical", "none"):
        raise ValueError(
            "output must be 'text' or 'json', detectors 'all' or 'default', reader 'lexical' or 'none'; "
            f"got {output!r}, {detectors!r}, {reader!r}"
        )
    rng = np.random.default_rng(seed)
    names = action_names(actions)
    answer_of = consistent_answer if output == "text" else consistent_json_answer
    answers = [answer_of(name) for name in names]
    total = warmup + steps
    per_episode = max(1, min(total, history // 10))
    episodes = math.ceil(total / per_episode)
    store = InMemoryHistoryStore()
    for e in range(episodes):
        prefill(store, f"e{e}", actions, history, rng)
    chosen: list[DetectorLike] = [KnowingDoingGap(), InvalidAction()]
    if detectors == "all":
        chosen += [FrequencyBias(), Greediness()]
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        guard = Guard(
            names,
            detectors=chosen,
            policies=[ReAsk(max_attempts=2), OverrideToRationale()],
            telemetry=JsonlSink(Path(tmp) / "events.jsonl"),
            history=store,
            seed=seed,
            reader=_unread if reader == "none" else None,
        )
        choices = rng.integers(actions, size=total).tolist()
        timings: list[float] = []
        with guard:
            for i in range(total):
                answer = answers[choices[i]]

                def agent(prompt: object, answer: str = answer) -> str:
                    return answer

                episode = f"e{i // per_episode}"
                started = clock()
                guard.step(agent, "choose an action", episode=episode)
                elapsed = clock() - started
                if i >= warmup:
                    timings.append(elapsed / 1000.0)
    timings.sort()
    return OverheadResult(
        actions=actions,
        history=history,
        steps=steps,
        output=output,
        detectors=detectors,
        reader=reader,
        median_us=statistics.median(timings),
        p90_us=_percentile(timings, 0.9),
        mean_us=statistics.fmean(timings),
    )


def measure_jsonl_throughput(
    *, events: int = 50_000, directory: str | os.PathLike[str] | None = None, actions: int = 20
) -> ThroughputResult:
    """Write ``events`` copies of a realistic step event to a JsonlSink; time serialise + write."""
    names = action_names(actions)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        capture: list[StepEvent] = []

        class _Keep:
            def emit(self, event: object) -> None:
                if isinstance(event, StepEvent):
                    capture.append(event)

        with Guard(names, telemetry=_Keep(), seed=0) as guard:
            guard.step(lambda prompt: consistent_answer(names[0]), "choose", episode="e")
        event = capture[0]
        sink = JsonlSink(Path(tmp) / "events.jsonl")
        started = time.perf_counter()
        for _ in range(events):
            sink.emit(event)
        seconds = time.perf_counter() - started
        sink.close()
    return ThroughputResult(events=events, seconds=seconds)


def machine_description() -> str:
    """CPU count, platform and Python version, for the figures' caption."""
    return (
        f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def format_table(results: Sequence[OverheadResult], throughput: ThroughputResult | None = None) -> str:
    """The results as a Markdown table (and the JSONL line under it)."""
    lines = [
        "| output | detectors | actions | history | steps | median µs | p90 µs | mean µs | median / 100 ms call |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        output = f"{r.output} (not read)" if r.reader == "none" else r.output
        lines.append(
            f"| {output} | {r.detectors} | {r.actions} | {r.history:,} | {r.steps:,} | {r.median_us:.1f} | "
            f"{r.p90_us:.1f} | {r.mean_us:.1f} | {r.ratio_to_agent_call:.2e} |"
        )
    if throughput is not None:
        lines.append("")
        lines.append(
            f"JSONL sink: {throughput.events:,} step events in {throughput.seconds:.3f} s = "
            f"{throughput.events_per_second:,.0f} events/s"
        )
    return "\n".join(lines)
