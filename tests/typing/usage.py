"""User-style code that mypy --strict must accept (checked by `make typecheck`, not run by pytest)."""

from __future__ import annotations

from guardrail import (
    ActionSpace,
    Budget,
    CascadeReader,
    CascadeStats,
    Decision,
    Finding,
    Guard,
    JudgeQuestion,
    LexicalReader,
    Override,
    OverrideToRationale,
    RationaleReading,
    ReAsk,
    StepResult,
    StepState,
    TryAllFirst,
    parse,
    read_events,
)
from guardrail.policies import Correction


def my_agent(prompt: str) -> str:
    return "Blue looks best, so I should choose blue.\nACTION=red"


async def my_async_agent(prompt: str) -> str:
    return "ACTION=blue"


def no_red(state: StepState) -> list[Finding]:
    if state.decision.action == "red":
        return [Finding(kind="no_red", score=1.0, detail="red is forbidden")]
    return []


def avoid_red(state: StepState) -> Correction | None:
    return Override(action="green", reason="red is forbidden") if state.has("no_red") else None


def main() -> None:
    guard = Guard(
        actions=ActionSpace(["red", "green", "blue"]),
        policies=[ReAsk(max_attempts=2), OverrideToRationale(), TryAllFirst(), avoid_red],
        detectors=[no_red],
        telemetry="guardrail-events.jsonl",
        budget=Budget(max_interventions_per_episode=10),
        fallback="random",
        seed=0,
    )
    agent = guard.wrap(my_agent)
    result: StepResult = agent("observation", episode="user-42")
    action: str | None = result.action
    decision: Decision = parse("ACTION=red", ["red", "green"])
    print(action, decision.action)
    for event in read_events("guardrail-events.jsonl"):
        print(event.type)


def my_judge(rationale: str, actions: ActionSpace) -> RationaleReading:
    question = JudgeQuestion(rationale, actions)
    answer = "none" if not question.prompt() else question.choices[0]  # a model call in practice
    return question.read(answer, confidence=0.7, evidence="my judge")


def cascade_usage() -> None:
    reader = CascadeReader(LexicalReader(), my_judge, timeout=5.0, max_judge_calls=100)
    guard = Guard(["search_docs", "send_email"], reader=reader)
    reading: RationaleReading = reader("The docs should know.", guard.actions)
    stats: CascadeStats = reader.stats
    print(reading.judge_calls, stats.calls, stats.timeouts)


async def amain() -> None:
    guard = Guard(["red", "blue"])
    agent = guard.wrap(my_async_agent)
    result = await agent("observation")
    print(result.action)
