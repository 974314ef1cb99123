"""guardrail-langchain against a real OpenAI-compatible server: llama_cpp.server with Gemma 3 270M, via ChatOpenAI.

The model is a weak 270M model, so every assertion here is about the guard, never about what the model says:
the scripted part of each step is added by the chain around the model (a chain that appends its chosen action,
as many LangChain chains post-process a model), or by an action space the model cannot hit. Every request the
server receives is recorded from the HTTP client, so a re-ask is checked on the wire.

llama_cpp.server with Gemma's chat format returns no ``tool_calls`` (not even with ``tool_choice``): the
tool-calling round checks that the tools reach the server, that a text answer to a tool-bound model is guarded
(and turned into a call of a legal tool when that tool's arguments can be given, never into a call missing
them), and that a re-ask of a tool call (an assistant message with
``tool_calls`` followed by a ``tool`` message per call id) is accepted by the server.

Run with ``pytest adapters/langchain -m real``. ``max_tokens`` is passed in the request body because
langchain-openai sends ``max_completion_tokens``, which llama_cpp.server ignores.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import ModelCallLimitMiddleware, ModelRetryMiddleware
from langchain_adapter.tools import search_docs, send_email
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall
from langchain_core.outputs import LLMResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_openai import ChatOpenAI

from guardrail import (
    ActionSpace,
    CascadeReader,
    CascadeStats,
    Guard,
    JsonlSink,
    LexicalReader,
    MemorySink,
    OverrideToRationale,
    ReAsk,
    StepEvent,
    read_events,
)
from guardrail.arguments import argument_errors
from guardrail_langchain import (
    JUDGE_TOOL,
    GuardrailMiddleware,
    JudgeReader,
    guard_for_tools,
    guard_runnable,
    tool_schemas,
)

pytestmark = pytest.mark.real

MODEL = "gemma3-270m"
ACTIONS = ["zq_one", "zq_two"]  # names the model has no reason to write: its own text never names an action
PROMPT = "Write one short sentence about the weather."


TOOL_NAMES = {"search_docs", "send_email"}
SCHEMAS = tool_schemas([search_docs, send_email])


class Wire:
    """Records the JSON body of every request the chat model sends."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def record(self, request: httpx.Request) -> None:
        """Keep one request body."""
        self.bodies.append(json.loads(request.content))

    async def arecord(self, request: httpx.Request) -> None:
        """Keep one request body (async client)."""
        self.record(request)

    def messages(self, index: int) -> list[dict[str, Any]]:
        """The messages of the index-th request."""
        messages: list[dict[str, Any]] = self.bodies[index]["messages"]
        return messages


@pytest.fixture
def wire() -> Wire:
    """The recorded requests of one test."""
    return Wire()


def _chat(base_url: str, **clients: Any) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=base_url,
        api_key="x",  # type: ignore[arg-type]  # the local server takes any key
        model=MODEL,
        temperature=0,
        max_retries=0,
        timeout=120,
        extra_body={"max_tokens": 16},
        **clients,
    )


@pytest.fixture
def chat(llama_server: str, wire: Wire) -> Iterator[ChatOpenAI]:
    """ChatOpenAI on the local server: greedy, short answers, no client retries, every request recorded."""
    client = httpx.Client(trust_env=False, event_hooks={"request": [wire.record]})
    with client:
        yield _chat(llama_server, http_client=client)


def _appending(text: str) -> Callable[[BaseMessage], BaseMessage]:
    def append(message: BaseMessage) -> BaseMessage:
        return message.model_copy(update={"content": f"{message.content}\n{text}"})

    return append


def _steps(sink: MemorySink) -> list[StepEvent]:
    return [event for event in sink.events if isinstance(event, StepEvent)]


def test_a_consistent_step_passes_with_one_call(chat: ChatOpenAI, wire: Wire) -> None:
    """The chain acts on zq_one and its text recommends nothing else: one request, no finding, no correction."""
    sink = MemorySink()
    chain = chat | RunnableLambda(_appending("ACTION=zq_one"))
    guarded = guard_runnable(chain, actions=ACTIONS, policies=[ReAsk(), OverrideToRationale()], telemetry=sink)
    output = guarded.step(PROMPT)
    assert output.action == "zq_one"
    assert isinstance(output.message, AIMessage)
    assert output.message.response_metadata["guardrail"]["intervened"] is False
    assert len(wire.bodies) == 1
    (event,) = _steps(sink)
    assert (event.status, event.final_action, event.agent_calls) == ("ok", "zq_one", 1)
    assert event.findings == ()
    assert event.corrections == ()


def test_a_gap_is_reasked_with_the_feedback_on_the_wire(chat: ChatOpenAI, wire: Wire) -> None:
    """A gap is re-asked: the second request holds the prompt, the failed answer and the feedback, only."""
    sink = MemorySink()
    chain = chat | RunnableLambda(_appending("So I should choose zq_two.\nACTION=zq_one"))
    guarded = guard_runnable(
        chain, actions=ACTIONS, policies=[ReAsk(max_attempts=2)], fallback="random", telemetry=sink
    )
    output = guarded.step(PROMPT)
    assert len(wire.bodies) == 2
    second = wire.messages(1)
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[0]["content"] == PROMPT
    assert second[1]["content"].endswith("ACTION=zq_one")
    assert "Your reasoning recommends 'zq_two', but your action was 'zq_one'" in second[2]["content"]
    (event,) = _steps(sink)
    assert event.agent_calls == 2
    assert event.corrections[0].kind == "reask"
    assert {f.kind for f in event.findings} == {"knowing_doing_gap"}
    assert output.action in ACTIONS


def test_a_gap_is_overridden_to_the_rationale(chat: ChatOpenAI, wire: Wire) -> None:
    """Without re-asks, the step's action becomes the rationale's (zq_two) after one request."""
    sink = MemorySink()
    chain = chat | RunnableLambda(_appending("So I should choose zq_two.\nACTION=zq_one"))
    guarded = guard_runnable(chain, actions=ACTIONS, policies=[OverrideToRationale()], telemetry=sink)
    message = guarded.invoke(PROMPT)
    assert isinstance(message, AIMessage)
    assert message.response_metadata["guardrail"]["action"] == "zq_two"
    assert len(wire.bodies) == 1
    (event,) = _steps(sink)
    assert (event.parsed_action, event.rationale_action, event.final_action) == ("zq_one", "zq_two", "zq_two")
    assert [c.kind for c in event.corrections] == ["override"]


def test_an_action_outside_the_space_is_reasked_then_falls_back(chat: ChatOpenAI, wire: Wire) -> None:
    """The model names no legal action: invalid_action, a re-ask on the wire, then a legal fallback."""
    sink = MemorySink()
    guarded = guard_runnable(chat, actions=ACTIONS, policies=[ReAsk(max_attempts=2)], fallback="random", telemetry=sink)
    output = guarded.step(PROMPT)
    assert output.result.first_decision.action is None
    assert output.action in ACTIONS
    (event,) = _steps(sink)
    assert event.findings[0].kind == "invalid_action"
    assert event.findings[0].attempt == 1
    assert len(wire.bodies) == event.agent_calls
    if event.agent_calls == 2:  # the re-ask carried the feedback naming the legal actions
        assert "zq_one, zq_two" in wire.messages(1)[-1]["content"]
    assert event.corrections[0].kind == "reask"


def test_telemetry_is_written_as_jsonl_with_the_servers_usage(chat: ChatOpenAI, tmp_path: Path) -> None:
    """The step event reaches the JSONL file with the token usage the server reported."""
    path = tmp_path / "events.jsonl"
    chain = chat | RunnableLambda(_appending("ACTION=zq_one"))
    guard = Guard(ACTIONS, telemetry=JsonlSink(path))
    guard_runnable(chain, guard).invoke(PROMPT, {"configurable": {"thread_id": "real-thread"}})
    guard.close()
    (event,) = [e for e in read_events(path) if isinstance(e, StepEvent)]
    assert (event.episode, event.final_action, event.status) == ("real-thread", "zq_one", "ok")
    assert event.input_tokens is not None
    assert event.input_tokens > 0
    assert event.output_tokens is not None
    assert 0 < event.output_tokens <= 16
    assert event.agent_latency_s > 0
    assert "zq_one" in str(event.raw)


def test_a_tool_bound_model_is_guarded_and_ends_on_a_legal_tool(chat: ChatOpenAI, wire: Wire) -> None:
    """bind_tools sends the tools; whatever comes back, the final message calls one legal tool."""
    sink = MemorySink()
    guarded = guard_runnable(
        chat.bind_tools([search_docs, send_email]),
        policies=[ReAsk(max_attempts=2), OverrideToRationale()],
        fallback="search_docs",
        telemetry=sink,
    )
    message = guarded.invoke("Find the install guide in the docs.")
    assert {t["function"]["name"] for t in wire.bodies[0]["tools"]} == TOOL_NAMES
    assert isinstance(message, AIMessage)
    (event,) = _steps(sink)
    _assert_legal_call_or_kept(message, event)


def _assert_legal_call_or_kept(message: AIMessage, event: StepEvent) -> None:
    """The final message calls the step's tool with arguments its schema accepts, or (the text answer had none to
    give) stays text and says which arguments were missing: never a call with missing arguments."""
    if message.tool_calls:
        call = message.tool_calls[0]
        assert call["name"] == event.final_action
        assert call["id"]
        assert argument_errors(call["args"], SCHEMAS[call["name"]]) == ()
    else:
        assert "missing required argument" in message.response_metadata["guardrail"]["kept_call"]


def _first_then(first: AIMessage, then: Runnable[Any, Any]) -> Runnable[Any, Any]:
    """A runnable whose first answer is ``first`` (the scripted tool call) and later answers come from ``then``."""
    calls: list[Any] = []

    def answer(messages: Any, config: RunnableConfig) -> Any:
        calls.append(messages)
        return first if len(calls) == 1 else then.invoke(messages, config)

    return RunnableLambda(answer)


def test_a_tool_call_gap_is_reasked_as_tool_messages_the_server_accepts(chat: ChatOpenAI, wire: Wire) -> None:
    """The re-ask of a tool call answers its id with a tool message carrying the feedback; the server answers."""
    gap = AIMessage(
        content="The docs have the install guide, so I should call search_docs.",
        tool_calls=[ToolCall(name="send_email", args={"to": "a", "body": "b"}, id="call_gap", type="tool_call")],
    )
    tools = [search_docs, send_email]
    guard = guard_for_tools(tools, policies=[ReAsk(max_attempts=2), OverrideToRationale()], fallback="search_docs")
    guarded = guard_runnable(_first_then(gap, chat.bind_tools(tools)), guard, tools=tools)
    message = guarded.invoke([HumanMessage(content="Find the install guide.")])
    assert len(wire.bodies) == 1  # the re-ask is the only request the scripted first answer needed
    roles = [m["role"] for m in wire.messages(0)]
    assert roles == ["user", "assistant", "tool"]
    assistant, tool_message = wire.messages(0)[1], wire.messages(0)[2]
    assert assistant["tool_calls"][0]["id"] == "call_gap"
    assert assistant["tool_calls"][0]["function"]["name"] == "send_email"
    assert tool_message["tool_call_id"] == "call_gap"
    assert "Your reasoning recommends 'search_docs'" in tool_message["content"]
    assert isinstance(message, AIMessage)
    if message.tool_calls:  # a legal tool, with arguments its schema accepts; else the text stays, saying why
        assert message.tool_calls[0]["name"] in TOOL_NAMES
        assert argument_errors(message.tool_calls[0]["args"], SCHEMAS[message.tool_calls[0]["name"]]) == ()
    else:
        assert "missing required argument" in message.response_metadata["guardrail"]["kept_call"]


def test_stream_passes_the_servers_chunks_and_guards_the_message(chat: ChatOpenAI) -> None:
    """Streaming from the server: chunks come through, then the assembled answer is guarded."""
    sink = MemorySink()
    stream = guard_runnable(chat, actions=ACTIONS, fallback="zq_one", telemetry=sink).stream_step(PROMPT)
    chunks = list(stream)
    assert chunks
    assert stream.result.action == "zq_one"
    (event,) = _steps(sink)
    assert event.findings[0].kind == "invalid_action"


async def test_ainvoke_guards_a_step_against_the_server(llama_server: str, wire: Wire) -> None:
    """The async path sends the request with the async client and records the step."""
    sink = MemorySink()
    async with httpx.AsyncClient(trust_env=False, event_hooks={"request": [wire.arecord]}) as client:
        chat = _chat(llama_server, http_async_client=client)
        chain = chat | RunnableLambda(_appending("So I should choose zq_two.\nACTION=zq_one"))
        guarded = guard_runnable(chain, actions=ACTIONS, policies=[OverrideToRationale()], telemetry=sink)
        output = await guarded.astep(PROMPT)
    assert output.action == "zq_two"
    assert len(wire.bodies) == 1
    assert _steps(sink)[0].agent_calls == 1


def test_the_middleware_guards_a_create_agent_run(chat: ChatOpenAI, wire: Wire) -> None:
    """create_agent with the guard, retry and call-limit middlewares: every step ends on a legal action."""
    sink = MemorySink()
    tools = [search_docs, send_email]
    guard = guard_for_tools(
        tools, answer_action="final_answer", policies=[OverrideToRationale()], fallback="final_answer", telemetry=sink
    )
    agent = create_agent(
        chat,
        tools,
        middleware=[
            GuardrailMiddleware(guard),
            ModelRetryMiddleware(max_retries=1, initial_delay=0.0, jitter=False),
            ModelCallLimitMiddleware(run_limit=2, exit_behavior="end"),
        ],
    )
    state = agent.invoke({"messages": [HumanMessage(content="How do I install guardrail?")]})
    steps = _steps(sink)
    assert 1 <= len(steps) <= 2
    assert len(wire.bodies) == len(steps)
    assert all(step.final_action in {*TOOL_NAMES, "final_answer"} for step in steps)
    for message in state["messages"]:
        if isinstance(message, AIMessage):
            assert {call["name"] for call in message.tool_calls} <= TOOL_NAMES


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
REAL_RATIONALES = [  # from tests/data/rationales_holdout.jsonl: one explicit, one paraphrase, one with no choice
    "The user asked about the refund policy. I should check our documentation before answering, so search_docs "
    "is the right tool.",
    "The user wants a summary emailed to their manager, but I don't have the manager's address and I shouldn't "
    "guess it. I need to ask the user for it.",
    "Options: search_docs for internal info, or web_search for the latest release notes. Both could work: the docs "
    "might be outdated, but the web could be unreliable.",
]
ABSTAINED = "The refund rules are probably written down in the product manual; that is where the answer will be."


class Usages(BaseCallbackHandler):
    """The prompt token count the server reported for every chat call."""

    def __init__(self) -> None:
        self.input_tokens: list[int] = []

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Keep the input tokens of one call."""
        message = getattr(response.generations[0][0], "message", None)
        usage = getattr(message, "usage_metadata", None) or {}
        self.input_tokens.append(int(usage.get("input_tokens", 0)))


def test_the_judge_answers_a_legal_action_or_none_on_real_rationales(chat: ChatOpenAI, wire: Wire) -> None:
    """Each real rationale gets one request, a user message only, with the forced tool whose enum is the names and
    none; whatever the 270M model prefers, the reading is a legal action or none, from one judge call."""
    judge = JudgeReader(chat)
    for rationale in REAL_RATIONALES:
        reading = judge.ask(rationale, JUDGE_TOOLS)
        assert reading.action in (*JUDGE_TOOLS.names, None)
        assert reading.judge_calls == 1
    assert len(wire.bodies) == len(REAL_RATIONALES)
    for index, body in enumerate(wire.bodies):
        assert [m["role"] for m in body["messages"]] == ["user"]
        assert REAL_RATIONALES[index] in body["messages"][0]["content"]
        (tool,) = body["tools"]
        assert tool["function"]["name"] == JUDGE_TOOL
        assert tool["function"]["parameters"]["properties"]["action"]["enum"] == [*JUDGE_TOOLS.names, "none"]
        assert body["tool_choice"]["function"]["name"] == JUDGE_TOOL


def test_the_judges_prompt_reaches_the_model_its_token_count_moves_with_the_prompt(chat: ChatOpenAI) -> None:
    """The instructions are in the user message (Gemma's format drops system messages): the server counts more
    prompt tokens when the descriptions are added, and more again for a longer rationale."""
    usages = Usages()
    judge = JudgeReader(chat, config={"callbacks": [usages]})
    bare = ActionSpace(JUDGE_TOOLS.names)
    judge.ask(REAL_RATIONALES[0], bare)
    judge.ask(REAL_RATIONALES[0], JUDGE_TOOLS)
    judge.ask(REAL_RATIONALES[0] + " " + REAL_RATIONALES[1], JUDGE_TOOLS)
    bare_tokens, described_tokens, longer_tokens = usages.input_tokens
    assert 0 < bare_tokens < described_tokens < longer_tokens
    assert described_tokens - bare_tokens >= 20  # five descriptions of several words each


def test_a_text_judge_on_the_real_server_reads_a_legal_action_or_none(chat: ChatOpenAI, wire: Wire) -> None:
    """method="text": no tools sent; whatever the model writes (it may echo the prompt) reads as legal or none."""
    reading = JudgeReader(chat, method="text").ask(REAL_RATIONALES[0], JUDGE_TOOLS)
    assert reading.action in (*JUDGE_TOOLS.names, None)
    assert "tools" not in wire.bodies[0]


def test_a_cascade_over_the_lexical_reader_and_the_real_judge_reads_an_abstained_rationale(
    chat: ChatOpenAI, wire: Wire
) -> None:
    """The lexical reader abstains on a rationale that names no tool: the cascade asks the real judge once, returns
    its legal verdict with judge_calls=1, and answers the repeat from its cache."""
    assert LexicalReader()(ABSTAINED, JUDGE_TOOLS).action is None
    cascade = CascadeReader(LexicalReader(), JudgeReader(chat), timeout=120.0)
    first = cascade(ABSTAINED, JUDGE_TOOLS)
    assert first.action in (*JUDGE_TOOLS.names, None)
    assert first.judge_calls == 1
    assert len(wire.bodies) == 1
    assert cascade(ABSTAINED, JUDGE_TOOLS).judge_calls == 0
    assert cascade("I will call send_email now.", JUDGE_TOOLS).action == "send_email"  # lexical: no request
    assert len(wire.bodies) == 1
    assert cascade.stats == CascadeStats(calls=1, cache_hits=1)


async def test_the_cascades_async_read_asks_the_real_judge(llama_server: str, wire: Wire) -> None:
    """aread awaits the judge's aask over the async client: one request, a legal verdict."""
    async with httpx.AsyncClient(trust_env=False, event_hooks={"request": [wire.arecord]}) as client:
        cascade = CascadeReader(LexicalReader(), JudgeReader(_chat(llama_server, http_async_client=client)))
        reading = await cascade.aread(ABSTAINED, JUDGE_TOOLS)
    assert reading.action in (*JUDGE_TOOLS.names, None)
    assert len(wire.bodies) == 1
    assert cascade.stats.calls == 1


def test_a_real_judge_slower_than_the_timeout_gives_the_lexical_reading(chat: ChatOpenAI) -> None:
    """With a 10 ms timeout the real model cannot answer in time: the cascade returns at once with the lexical
    reading (none) and counts a timeout."""
    cascade = CascadeReader(LexicalReader(), JudgeReader(chat), timeout=0.01)
    reading = cascade(ABSTAINED, JUDGE_TOOLS)
    assert (reading.action, reading.judge_calls) == (None, 1)
    assert cascade.stats == CascadeStats(calls=1, timeouts=1)
