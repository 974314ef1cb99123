"""The guard builds each step event without validation: every event it builds must validate to itself."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import uuid
from typing import Any

import pytest

from guardrail import (
    Budget,
    FrequencyBias,
    Greediness,
    Guard,
    InvalidAction,
    KnowingDoingGap,
    MemorySink,
    Observe,
    OverrideToRationale,
    ReAsk,
    Redaction,
    SelfConsistency,
    StepEvent,
)
from guardrail.decision import Reply, Usage
from guardrail.exceptions import ConfigurationError
from guardrail.telemetry.events import new_event_id
from guardrail.testing import ScriptedAgent

from .conftest import AGREE_BLUE, AGREE_RED, COLOURS, GAP, INVALID

# The runtime types a validated value of each plain annotation has (an optional field may also be None).
_PLAIN: dict[Any, type] = {int: int, float: float, str: str, int | None: int, float | None: float, str | None: str}


def _events(outputs: list[Any], **guard: Any) -> list[StepEvent]:
    memory = MemorySink()
    agent = ScriptedAgent(outputs)
    with Guard(COLOURS, telemetry=memory, seed=0, fallback="random", **guard) as g:
        while agent.calls < len(outputs):
            with contextlib.suppress(RuntimeError):
                g.step(agent, "pick a button", episode="ep")
            view = g.history.view("ep", len(COLOURS))
            if view.t > view.rewarded_steps:
                g.record_reward("ep", 0.5)
    return [e for e in memory.events if isinstance(e, StepEvent)]


SCENARIOS: dict[str, tuple[list[Any], dict[str, Any]]] = {
    "consistent": ([AGREE_RED, AGREE_BLUE], {}),
    "reask fixes a gap": ([GAP, AGREE_RED], {"policies": [ReAsk()]}),
    "override": ([GAP], {"policies": [OverrideToRationale()]}),
    "invalid, then fallback": ([INVALID, INVALID], {"policies": [ReAsk()]}),
    "agent error": ([RuntimeError("server down")], {}),
    "shadow": ([GAP], {"policies": [Observe(OverrideToRationale())]}),
    "vote": ([GAP, AGREE_RED, AGREE_RED], {"policies": [SelfConsistency(samples=3)]}),
    "budget exhausted": (
        [GAP, GAP],
        {"policies": [ReAsk(), OverrideToRationale()], "budget": Budget(max_interventions_per_episode=0)},
    ),
    "usage reported": ([Reply(output=AGREE_RED, usage=Usage(input_tokens=3, output_tokens=2))], {}),
    "redacted": ([GAP], {"redaction": Redaction(mode="sha256")}),
    "all detectors": (
        [AGREE_RED, AGREE_RED, AGREE_BLUE, AGREE_RED, AGREE_RED, GAP],
        {"detectors": [KnowingDoingGap(), InvalidAction(), FrequencyBias(min_steps=1), Greediness()]},
    ),
    "integer clock": ([GAP, AGREE_RED], {"clock": itertools.count().__next__, "policies": [ReAsk()]}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_event_the_guard_builds_validates_to_itself(name: str) -> None:
    """Validating an event the guard built (without validation) gives an equal event, of the declared types."""
    outputs, guard = SCENARIOS[name]
    events = _events(outputs, **guard)
    assert events
    for event in events:
        validated = StepEvent.model_validate(event.model_dump())
        assert validated == event
        assert validated.model_dump_json() == event.model_dump_json()
        assert list(event.__dict__) == list(StepEvent.model_fields)  # the schema's order, which the lines keep
        assert event.model_fields_set == set(StepEvent.model_fields)
        for field, info in StepEvent.model_fields.items():
            value = getattr(event, field)
            expected = _PLAIN.get(info.annotation)
            if expected is not None and value is not None:
                assert type(value) is expected, (field, value)
            if str(info.annotation).startswith("tuple"):
                assert type(value) is tuple, (field, value)
    assert len({id(e.model_fields_set) for e in events}) == len(events)  # each event has its own set


def test_the_type_check_covers_the_numeric_fields() -> None:
    """The check above must recognise the fields an int could slip into (from a clock or a custom parser)."""
    plain = {f for f, info in StepEvent.model_fields.items() if info.annotation in _PLAIN}
    assert {"rationale_confidence", "agent_latency_s", "guard_latency_s", "timestamp", "coverage", "step"} <= plain


def test_typed_fields_must_count_every_field() -> None:
    """Building an event with a field missing or one too many is a clear error naming it."""
    event = _events([AGREE_RED])[0]
    fields = dict(event.__dict__)
    del fields["counts"]
    with pytest.raises(ConfigurationError, match=r"missing \['counts'\], unknown \[\]"):
        StepEvent._of_typed_fields({**fields})
    with pytest.raises(ConfigurationError, match=r"missing \[\], unknown \['colour'\]"):
        StepEvent._of_typed_fields({**event.__dict__, "colour": "red"})
    assert StepEvent._of_typed_fields(dict(event.__dict__)) == event


def test_event_ids_are_version_4_uuids_and_unique() -> None:
    """Ids read as version-4, RFC 4122 UUIDs; 20,000 of them never repeat."""
    ids = [new_event_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids[:200]:
        parsed = uuid.UUID(hex=text)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, text)


def test_seeding_the_random_module_does_not_repeat_event_ids() -> None:
    """A user's random.seed() must not make two runs write the same ids."""
    random.seed(0)
    first = new_event_id()
    random.seed(0)
    assert new_event_id() != first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_the_parents_event_ids() -> None:
    """After fork the child draws ids from a fresh seed, not the parent's sequence."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write, new_event_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    parent = new_event_id()  # without a reseed this is the child's id too
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != parent
