"""GuardedInstructor against a real OpenAI-compatible server: llama_cpp.server with Gemma 3 270M (``-m real``).

instructor runs in ``Mode.JSON`` (the server accepts ``response_format={"type": "json_object"}`` only). The model is
a weak 270M base model, so the deterministic tests pin what it may write with llama-cpp-python's grammar extension
(a JSON schema inside ``response_format``, sent through ``extra_body``): the real server, HTTP stack, instructor
re-ask and Guard run unchanged, and each path (consistent, gap re-asked then overridden, illegal action) happens
whatever the model prefers. One free-form test lets the model write anything and checks only the guard's
invariants. Requests are kept few and short (``max_tokens`` small, ``max_retries`` at most 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import instructor
import openai
import pytest
from instructor.core import Hooks

from guardrail import (
    ActionSpace,
    CascadeReader,
    CascadeStats,
    Guard,
    JsonlSink,
    LexicalReader,
    MemorySink,
    OverrideToRationale,
    StepEvent,
    read_events,
)
from guardrail_bench.llama_server import SERVER_MODEL_ALIAS
from guardrail_instructor import DecisionModel, GuardedInstructor, JudgeReader, RejectedResponse

pytestmark = pytest.mark.real

ACTIONS = ["red", "blue"]
MESSAGES = [{"role": "user", "content": "You are in front of two buttons, red and blue. Pick one."}]


def pinned(rationale: str, action: str) -> dict[str, Any]:
    """``extra_body`` that makes the server's grammar emit exactly this rationale and action, as JSON."""
    schema = {
        "type": "object",
        "properties": {
            "rationale": {"type": "string", "enum": [rationale]},
            "action": {"type": "string", "enum": [action]},
        },
        "required": ["rationale", "action"],
    }
    return {"response_format": {"type": "json_object", "schema": schema}}


class Recorder:
    """The JSON bodies of every request the OpenAI client sends."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> None:
        self.bodies.append(json.loads(request.content))

    def last_user_message(self, index: int) -> str:
        users = [m for m in self.bodies[index]["messages"] if m["role"] == "user"]
        return str(users[-1]["content"])


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(llama_server: str, recorder: Recorder) -> Iterator[instructor.Instructor]:
    """A sync instructor client (JSON mode) on the real server; every request recorded; closed afterwards."""
    http = httpx2.Client(event_hooks={"request": [recorder]}, trust_env=False, timeout=600.0)
    raw = openai.OpenAI(base_url=llama_server, api_key="x", max_retries=0, http_client=http)
    try:
        yield instructor.from_openai(raw, mode=instructor.Mode.JSON)
    finally:
        raw.close()


def guarded(client: instructor.Instructor, guard: Guard, *, max_retries: int = 1) -> GuardedInstructor:
    return GuardedInstructor(
        client, guard, model=SERVER_MODEL_ALIAS, max_retries=max_retries, max_tokens=40, temperature=0.0
    )


def test_a_consistent_step_passes_with_one_request(client: instructor.Instructor, recorder: Recorder) -> None:
    """An answer that acts on its rationale validates at once: one request, no finding, no correction."""
    sink = MemorySink()
    guard = Guard(ACTIONS, policies=[OverrideToRationale()], telemetry=sink)
    result = guarded(client, guard).create(MESSAGES, episode="consistent", extra_body=pinned("I choose blue.", "blue"))
    assert result.action == "blue"
    assert isinstance(result.decision.raw, DecisionModel)
    assert result.findings == ()
    assert result.corrections == ()
    assert len(recorder.bodies) == 1
    assert recorder.bodies[0]["response_format"]["type"] == "json_object"
    (event,) = [e for e in sink.events if isinstance(e, StepEvent)]
    assert (event.status, event.final_action, event.agent) == ("ok", "blue", f"instructor:{SERVER_MODEL_ALIAS}")
    assert event.output_tokens is not None
    assert event.output_tokens > 0


def test_a_gap_is_reasked_with_the_validators_error_then_overridden(
    client: instructor.Instructor, recorder: Recorder, tmp_path: Path
) -> None:
    """The answer contradicts its rationale: instructor re-asks with the validator's error; when the model repeats
    itself, the Guard overrides to the rationale's action and the JSONL event records it."""
    path = tmp_path / "events.jsonl"
    guard = Guard(ACTIONS, policies=[OverrideToRationale()], telemetry=JsonlSink(path))
    gap = pinned("Blue has the highest UCB, so I choose blue.", "red")
    result = guarded(client, guard, max_retries=1).create(MESSAGES, episode="gap", extra_body=gap)
    guard.close()
    assert len(recorder.bodies) == 2
    retry = recorder.last_user_message(1)
    assert "your rationale recommends 'blue'" in retry
    assert "but action is 'red'" in retry
    assert result.action == "blue"
    assert isinstance(result.decision.raw, RejectedResponse)
    (correction,) = result.corrections
    assert (correction.kind, correction.from_action, correction.to_action) == ("override", "red", "blue")
    (event,) = [e for e in read_events(path) if isinstance(e, StepEvent)]
    assert (event.episode, event.parsed_action, event.final_action) == ("gap", "red", "blue")
    assert [f.kind for f in event.findings] == ["knowing_doing_gap"]


def test_an_action_the_model_cannot_produce_is_reasked_then_falls_back(
    client: instructor.Instructor, recorder: Recorder
) -> None:
    """The grammar only lets the model say "purple": instructor re-asks naming the legal actions, then the Guard's
    seeded random fallback picks a legal action and records why."""
    guard = Guard(ACTIONS, fallback="random", seed=3)
    result = guarded(client, guard, max_retries=1).create(
        MESSAGES, episode="illegal", extra_body=pinned("Purple.", "purple")
    )
    assert len(recorder.bodies) == 2
    assert "action must be exactly one of: red, blue" in recorder.last_user_message(1)
    assert result.action in ACTIONS
    assert result.decision.action is None
    assert result.decision.raw_action == "purple"
    assert [c.kind for c in result.corrections] == ["fallback"]
    assert "invalid_action" in {f.kind for f in result.findings}


async def test_whatever_the_model_writes_the_async_step_ends_legal_and_is_recorded(llama_server: str) -> None:
    """Free-form (no grammar): whatever the model answers, the step ends in a legal action and one event."""
    http = httpx2.AsyncClient(trust_env=False, timeout=600.0)
    raw = openai.AsyncOpenAI(base_url=llama_server, api_key="x", max_retries=0, http_client=http)
    try:
        sink = MemorySink()
        guard = Guard(ACTIONS, policies=[OverrideToRationale()], fallback="random", seed=0, telemetry=sink)
        client = instructor.from_openai(raw, mode=instructor.Mode.JSON)
        guarded_client = GuardedInstructor(
            client, guard, model=SERVER_MODEL_ALIAS, max_retries=0, max_tokens=32, temperature=0.0
        )
        result = await guarded_client.acreate(MESSAGES, episode="free")
    finally:
        await raw.close()
    assert result.action in ACTIONS
    if isinstance(result.decision.raw, DecisionModel):  # it validated: consistent by construction
        assert "knowing_doing_gap" not in {f.kind for f in result.findings}
    else:
        assert isinstance(result.decision.raw, RejectedResponse)
    (event,) = [e for e in sink.events if isinstance(e, StepEvent)]
    assert (event.status, event.final_action) == ("ok", result.action)
    assert event.agent_calls >= 1


# --- the judge ----------------------------------------------------------------------------------------------------

JUDGE_TOOLS = ActionSpace(
    ["search_docs", "send_email", "calculator", "ask_user", "finish"],
    descriptions={
        "search_docs": "Search the product documentation for an answer.",
        "send_email": "Send an email to a recipient.",
        "calculator": "Evaluate an arithmetic expression.",
        "ask_user": "Ask the user a clarifying question.",
        "finish": "Give the final answer and end the task.",
    },
)
REAL_RATIONALES = [  # from tests/data/rationales_holdout.jsonl: an explicit choice, and no choice at all
    "I need to compute 17.5% of 2,340. Doing it by hand is error-prone; use the calculator.",
    "Options: search_docs for internal info, or web_search for the latest release notes. Both could work: the docs "
    "might be outdated, but the web could be unreliable.",
]
ABSTAINED = "The refund rules are probably written down in the product manual; that is where the answer will be."


@pytest.fixture
def tools_client(llama_server: str, recorder: Recorder) -> Iterator[instructor.Instructor]:
    """A sync instructor client in Mode.TOOLS (a forced function call: llama.cpp turns its schema into a grammar)."""
    http = httpx2.Client(event_hooks={"request": [recorder]}, trust_env=False, timeout=600.0)
    raw = openai.OpenAI(base_url=llama_server, api_key="x", max_retries=0, http_client=http)
    try:
        yield instructor.from_openai(raw, mode=instructor.Mode.TOOLS)
    finally:
        raw.close()


def test_the_judge_answers_a_legal_action_or_none_constrained_by_the_servers_grammar(
    tools_client: instructor.Instructor, recorder: Recorder
) -> None:
    """Mode.TOOLS: the request forces one call whose ``action`` is an enum of the names and none, which the server
    enforces; the reading is a legal action or none, from one call, and the prompt's tokens move with it."""
    prompt_tokens: list[int] = []
    hooks = Hooks()
    hooks.on("completion:response", lambda response: prompt_tokens.append(response.usage.prompt_tokens))
    judge = JudgeReader(tools_client, model=SERVER_MODEL_ALIAS, temperature=0.0, hooks=hooks)
    for rationale in REAL_RATIONALES:
        reading = judge.ask(rationale, JUDGE_TOOLS)
        assert reading.action in (*JUDGE_TOOLS.names, None)
        assert reading.judge_calls == 1
    judge.ask(REAL_RATIONALES[0], ActionSpace(JUDGE_TOOLS.names))  # the same rationale, no descriptions
    assert len(recorder.bodies) == 3
    for body in recorder.bodies:
        assert [m["role"] for m in body["messages"]] == ["user"]
        (tool,) = body["tools"]
        assert tool["function"]["parameters"]["properties"]["action"]["enum"] == [*JUDGE_TOOLS.names, "none"]
    described, _, bare = prompt_tokens
    assert 0 < bare < described  # the descriptions, in the user message, reach the model


def test_the_json_mode_judge_never_raises_on_what_the_model_writes(client: instructor.Instructor) -> None:
    """Mode.JSON without a schema: the model may write any JSON; the reading is a legal action or none."""
    reading = JudgeReader(client, model=SERVER_MODEL_ALIAS, temperature=0.0).ask(REAL_RATIONALES[0], JUDGE_TOOLS)
    assert reading.action in (*JUDGE_TOOLS.names, None)
    assert reading.judge_calls == 1


def test_a_cascade_over_the_lexical_reader_and_the_real_judge_reads_an_abstained_rationale(
    tools_client: instructor.Instructor, recorder: Recorder
) -> None:
    """The lexical reader abstains; the cascade asks the real judge once and returns its legal verdict."""
    cascade = CascadeReader(
        LexicalReader(), JudgeReader(tools_client, model=SERVER_MODEL_ALIAS, temperature=0.0), timeout=120.0
    )
    reading = cascade(ABSTAINED, JUDGE_TOOLS)
    assert reading.action in (*JUDGE_TOOLS.names, None)
    assert reading.judge_calls == 1
    assert len(recorder.bodies) == 1
    assert cascade.stats == CascadeStats(calls=1)


async def test_the_async_judge_asks_the_real_server(llama_server: str) -> None:
    """An AsyncInstructor judge in a cascade's async read: one request, a legal verdict."""
    http = httpx2.AsyncClient(trust_env=False, timeout=600.0)
    raw = openai.AsyncOpenAI(base_url=llama_server, api_key="x", max_retries=0, http_client=http)
    try:
        client = instructor.from_openai(raw, mode=instructor.Mode.TOOLS)
        cascade = CascadeReader(LexicalReader(), JudgeReader(client, model=SERVER_MODEL_ALIAS), timeout=120.0)
        reading = await cascade.aread(ABSTAINED, JUDGE_TOOLS)
    finally:
        await raw.close()
    assert reading.action in (*JUDGE_TOOLS.names, None)
    assert cascade.stats == CascadeStats(calls=1)
