"""Labelled tool-call traces: read them, replay them through a real Guard, and score loop detection.

A trace is one JSON object per line (the format of ``tests/data/loop_traces/*.jsonl``, described in
docs/policies.md, "Loops and escalation"): ``events`` in order, each a user message or a call with its result or
error, and the label: ``loop`` and ``loop_step`` (the index, over calls only, where the loop is established).

:func:`replay` feeds a trace through the public Guard API (a step per call, then ``record_outcome``; a user
message is ``new_user_message``; after the last call one more step, a final answer) and reports at which call
index the first loop finding was raised. :func:`score` turns replays into precision, recall and the share of
loops flagged within one step of their label.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from guardrail.detectors.base import DetectorLike
from guardrail.detectors.loops import LOOP, Loops
from guardrail.exceptions import InvalidInputError
from guardrail.guard import Guard

__all__ = ["ANSWER_ACTION", "KindScore", "Replay", "areplay", "load_traces", "replay", "score"]

ANSWER_ACTION: Final = "final_answer"
"""The action of the step replayed after a trace's last call (the agent's final answer)."""

LOOP_KINDS: Final = ("identical", "ping_pong", "same_error", "no_progress")
NON_LOOP_KINDS: Final = ("polling", "paging", "retry_success", "varied", "reset")


def load_traces(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The traces of a JSONL file, checked: a malformed line is an error naming its line and what is wrong."""
    traces: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                trace = json.loads(line)
            except ValueError as error:
                raise InvalidInputError(f"{path}:{number}: not JSON ({error})") from None
            problem = _problem(trace)
            if problem:
                raise InvalidInputError(f"{path}:{number}: {problem}")
            traces.append(trace)
    return traces


def _problem(trace: object) -> str | None:
    if not isinstance(trace, dict):
        return "a trace must be a JSON object"
    for key in ("id", "kind", "events", "loop"):
        if key not in trace:
            return f"missing {key!r}"
    calls = 0
    for event in trace["events"]:
        if event.get("type") == "user":
            continue
        if event.get("type") != "call" or not isinstance(event.get("tool"), str):
            return f"event {event!r} is neither a user message nor a call with a tool"
        if (event.get("result") is None) == (event.get("error") is None):
            return f"call {calls} must have exactly one of result / error"
        calls += 1
    step = trace.get("loop_step")
    if trace["loop"] and not (isinstance(step, int) and 0 <= step < calls):
        return f"loop_step {step!r} is not a call index (0..{calls - 1})"
    if not trace["loop"] and step is not None:
        return "a non-loop has loop_step null"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Replay:
    """What a replay saw: the call index of the first loop finding (None: never), and its pattern."""

    id: str
    kind: str
    loop: bool
    loop_step: int | None
    flagged_step: int | None
    pattern: str | None
    calls: int

    @property
    def within_one(self) -> bool:
        """A loop flagged within one step of its label."""
        return (
            self.loop
            and self.flagged_step is not None
            and self.loop_step is not None
            and abs(self.flagged_step - self.loop_step) <= 1
        )


def _guard(trace: Mapping[str, Any], detector: DetectorLike | None) -> Guard:
    tools = list(dict.fromkeys(e["tool"] for e in trace["events"] if e.get("type") == "call"))
    return Guard([*tools, ANSWER_ACTION], detectors=[detector or Loops()], seed=0)


def _answer(event: Mapping[str, Any]) -> dict[str, Any]:
    return {"action": event["tool"], "arguments": event.get("args") or {}}


@dataclass(frozen=True, slots=True)
class _Scripted:
    """An agent that answers one call, whatever it is asked."""

    answer: dict[str, Any]

    def __call__(self, _prompt: Any) -> dict[str, Any]:
        return self.answer


@dataclass(frozen=True, slots=True)
class _AsyncScripted:
    """The async twin of :class:`_Scripted` (an ``async def __call__``, so ``astep`` awaits it as an async agent)."""

    answer: dict[str, Any]

    async def __call__(self, _prompt: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return self.answer


def _first_loop(findings: Iterable[Any]) -> str | None:
    for finding in findings:
        if finding.kind == LOOP:
            return str(finding.data.get("pattern"))
    return None


def replay(trace: Mapping[str, Any], *, detector: DetectorLike | None = None) -> Replay:
    """Feed one trace through a Guard (default detector: :class:`~guardrail.detectors.Loops` with defaults)."""
    guard = _guard(trace, detector)
    found: list[str | None] = []  # the loop pattern each step reports, if any
    for event in trace["events"]:
        if event["type"] == "user":
            guard.new_user_message("trace")
            continue
        found.append(_first_loop(guard.step(_Scripted(_answer(event)), "replay", episode="trace").findings))
        guard.record_outcome("trace", result=event.get("result"), error=event.get("error"))
    found.append(_first_loop(guard.step(_Scripted({"action": ANSWER_ACTION}), "replay", episode="trace").findings))
    return _replayed(trace, found)


async def areplay(trace: Mapping[str, Any], *, detector: DetectorLike | None = None) -> Replay:
    """Async twin of :func:`replay` (``astep``, ``arecord_outcome``, ``anew_user_message``)."""
    guard = _guard(trace, detector)
    found: list[str | None] = []
    for event in trace["events"]:
        if event["type"] == "user":
            await guard.anew_user_message("trace")
            continue
        result = await guard.astep(_AsyncScripted(_answer(event)), "replay", episode="trace")
        found.append(_first_loop(result.findings))
        await guard.arecord_outcome("trace", result=event.get("result"), error=event.get("error"))
    result = await guard.astep(_AsyncScripted({"action": ANSWER_ACTION}), "replay", episode="trace")
    found.append(_first_loop(result.findings))
    return _replayed(trace, found)


def _replayed(trace: Mapping[str, Any], found: Sequence[str | None]) -> Replay:
    """The replay of ``trace`` from the pattern each step reported (the last step is the final answer)."""
    flagged = next((i for i, pattern in enumerate(found) if pattern is not None), None)
    return Replay(
        id=str(trace["id"]),
        kind=str(trace["kind"]),
        loop=bool(trace["loop"]),
        loop_step=trace.get("loop_step"),
        flagged_step=flagged,
        pattern=None if flagged is None else found[flagged],
        calls=len(found) - 1,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class KindScore:
    """Precision, recall and within-one-step share over some replays (None where undefined)."""

    traces: int
    loops: int
    flagged: int
    true_positives: int
    within_one: int
    misses: list[str] = field(default_factory=list)
    """Loops not flagged within one step of their label (never flagged, or flagged too early or too late)."""
    off_by_more: list[str] = field(default_factory=list)
    """Loops flagged, but more than one step away from their label."""
    false_alarms: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        """Flagged traces that are loops."""
        return self.true_positives / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        """Loops flagged at all."""
        return self.true_positives / self.loops if self.loops else None

    @property
    def within_one_rate(self) -> float | None:
        """Loops flagged within one step of their label."""
        return self.within_one / self.loops if self.loops else None


def score(replays: Sequence[Replay]) -> KindScore:
    """Precision, recall and within-one-step share of ``replays``; misses and false alarms by trace id."""
    loops = [r for r in replays if r.loop]
    flagged = [r for r in replays if r.flagged_step is not None]
    return KindScore(
        traces=len(replays),
        loops=len(loops),
        flagged=len(flagged),
        true_positives=sum(1 for r in flagged if r.loop),
        within_one=sum(1 for r in loops if r.within_one),
        misses=[r.id for r in loops if not r.within_one],
        off_by_more=[r.id for r in loops if r.flagged_step is not None and not r.within_one],
        false_alarms=[r.id for r in flagged if not r.loop],
    )
