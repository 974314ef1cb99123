"""Helpers for the telemetry tests: real events from a Guard driven by a ScriptedAgent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from guardrail import Guard, MemorySink
from guardrail.telemetry import RewardEvent, StepEvent
from guardrail.testing import ScriptedAgent

COLOURS = ["red", "green", "blue"]
GAP = "Red looks best, so I should choose red.\nACTION=blue"
AGREE_RED = "Red looks best, so I should choose red.\nACTION=red"
AGREE_BLUE = "Blue looks best, so I should choose blue.\nACTION=blue"
INVALID = "I am not sure.\nACTION=purple"


def run_guard(
    outputs: Sequence[str],
    *,
    sinks: Sequence[Any] = (),
    policies: Sequence[Any] = (),
    rewards: Sequence[float] = (),
    run_id: str = "run-1",
    agent_name: str = "scripted",
    episode: str = "ep-1",
    steps: int | None = None,
    **kwargs: Any,
) -> list[StepEvent | RewardEvent]:
    """Run ``steps`` guarded steps (default: one per output) and return every event emitted, in order."""
    memory = MemorySink()
    agent = ScriptedAgent(outputs, name=agent_name)
    kwargs.setdefault("fallback", "random")
    with Guard(COLOURS, policies=list(policies), telemetry=[memory, *sinks], run_id=run_id, seed=0, **kwargs) as g:
        for index in range(len(outputs) if steps is None else steps):
            g.step(agent, "pick a button", episode=episode)
            if index < len(rewards):
                g.record_reward(episode, rewards[index])
    return list(memory.events)


@pytest.fixture
def colours() -> list[str]:
    """Three colour-named actions."""
    return list(COLOURS)
