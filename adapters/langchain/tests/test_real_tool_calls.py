"""create_agent + GuardrailMiddleware against llama_cpp.server returning real ``tool_calls`` (Gemma 3 270M).

The server runs with ``chatml-function-calling`` (the ``llama_tools_server`` fixture): with ``tool_choice="auto"``
its answers carry real OpenAI ``tool_calls`` whose arguments follow the tool's JSON schema (grammar-constrained),
and the system message reaches the model (its prompt token count moves with the system text). Every tool call
checked here comes from the server. The 270M model is weak, so where a case needs a rationale the model will not
write, a middleware inside the guard appends one sentence to the model's first answer (as chains post-process a
model); the call itself is the server's. Greedy decoding (temperature 0, seed 0) keeps the runs reproducible.

What the format cannot do (llama-cpp-python 0.3): ``tool`` messages are not rendered, so the model does not see
tool results (and repeats its call: the loop case), and a text answer comes back with empty content (the no-call
case). Run with ``pytest adapters/langchain -m real``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ModelCallLimitMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langchain_openai import ChatOpenAI

from guardrail import InvalidAction, KnowingDoingGap, Loops, MemorySink, OverrideToRationale, ReAsk, StepEvent
from guardrail_langchain import GuardrailMiddleware, MessagesPrompter, guard_for_tools

pytestmark = pytest.mark.real

SYSTEM = "You are a support agent. Use the tools."
ASK_DOCS = "Find the install guide in the docs."


@tool
def search_docs(query: str) -> str:
    """Search the product documentation."""
    return f"docs for {query}: pip install guardrail-core"


@tool
def search_web(query: str) -> str:
    """Search the web."""
    return f"web results for {query}"


@tool
def send_email(to: str, body: str) -> str:
    """Send an email to a recipient."""
    return f"sent to {to}"


TOOLS: list[BaseTool] = [search_docs, send_email]


class Wire:
    """Every request body the chat model sent, and every response the server returned."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []

    def request(self, request: httpx.Request) -> None:
        """Keep one request body."""
        self.bodies.append(json.loads(request.content))

    def response(self, response: httpx.Response) -> None:
        """Keep one response's first message (an error response is kept as ``{"error": ...}``)."""
        response.read()
        body = response.json()
        self.answers.append(body["choices"][0]["message"] if "choices" in body else {"error": body})

    def server_calls(self) -> list[tuple[str, dict[str, Any]]]:
        """The (name, arguments) of every tool call the server returned, in order."""
        return [
            (call["function"]["name"], json.loads(call["function"]["arguments"]))
            for answer in self.answers
            for call in answer.get("tool_calls") or ()
        ]


class NullContentAsText(httpx.BaseTransport):
    """llama_cpp.server rejects an assistant message whose ``content`` is null, which OpenAI clients send beside
    tool calls (an agent's second turn): this transport sends ``""`` instead (the recipe in docs/adapters.md)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Rewrite null assistant contents, then send."""
        if request.method == "POST" and request.content:
            body = json.loads(request.content)
            for message in body.get("messages", ()):
                if message.get("role") == "assistant" and message.get("content") is None:
                    message["content"] = ""
            headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
            request = httpx.Request(request.method, request.url, headers=headers, json=body)
        return self.inner.handle_request(request)

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


@pytest.fixture
def wire() -> Wire:
    """The requests and responses of one test."""
    return Wire()


@pytest.fixture
def chat(llama_tools_server: str, wire: Wire) -> Iterator[ChatOpenAI]:
    """ChatOpenAI on the tool-calling server: greedy, seeded, no client retries, every exchange recorded."""
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [wire.request], "response": [wire.response]}
    with httpx.Client(transport=NullContentAsText(), event_hooks=hooks) as client:
        yield ChatOpenAI(
            base_url=llama_tools_server,
            api_key="x",  # type: ignore[arg-type]  # the local server takes any key
            model="gemma3-270m",
            temperature=0,
            seed=0,
            max_retries=0,
            timeout=300,
            # this format calls tools only when asked with tool_choice="auto" (LangChain sends none by default)
            extra_body={"max_tokens": 32, "tool_choice": "auto"},
            http_client=client,
        )


class AppendToFirstAnswer(AgentMiddleware):
    """Inside the guard: appends ``text`` to the content of the model's first answer of the run (its tool calls
    are the server's, untouched)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.calls = 0

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        """Call the model; add the sentence to the first answer."""
        response = handler(request)
        self.calls += 1
        if self.calls > 1:
            return response
        messages = [
            m.model_copy(update={"content": f"{m.content or ''} {self.text}".strip()})
            if isinstance(m, AIMessage)
            else m
            for m in response.result
        ]
        return ModelResponse(result=messages, structured_response=response.structured_response)


def _steps(sink: MemorySink) -> list[StepEvent]:
    return [event for event in sink.events if isinstance(event, StepEvent)]


def _run(chat: ChatOpenAI, tools: list[BaseTool], middleware: list[Any], ask: str = ASK_DOCS) -> list[Any]:
    agent = create_agent(chat, tools, system_prompt=SYSTEM, middleware=middleware)
    messages: list[Any] = agent.invoke({"messages": [HumanMessage(content=ask)]})["messages"]
    return messages


def test_the_server_returns_real_tool_calls_and_keeps_the_system_message(chat: ChatOpenAI, wire: Wire) -> None:
    """A tool-bound request gets a real tool call of a bound tool with schema-valid arguments; a longer system
    message costs more prompt tokens, so the system text reaches the model."""
    bound = chat.bind_tools(TOOLS)
    short = bound.invoke([SystemMessage(content=SYSTEM), HumanMessage(content=ASK_DOCS)])
    longer = bound.invoke(
        [SystemMessage(content=SYSTEM + " Be brief, polite and precise."), HumanMessage(content=ASK_DOCS)]
    )
    assert isinstance(short, AIMessage)
    assert isinstance(longer, AIMessage)
    assert wire.answers[0]["tool_calls"], "the server returned no tool_calls"
    (call,) = short.tool_calls
    assert call["name"] == "search_docs"
    assert isinstance(call["args"]["query"], str)
    assert short.usage_metadata is not None
    assert longer.usage_metadata is not None
    assert longer.usage_metadata["input_tokens"] - short.usage_metadata["input_tokens"] >= 5


def test_a_consistent_real_tool_call_passes_in_one_request(chat: ChatOpenAI, wire: Wire) -> None:
    """The server calls search_docs and nothing contradicts it: one step, one request, no finding, no correction,
    and the call the agent executes is the server's."""
    sink = MemorySink()
    guard = guard_for_tools(TOOLS, policies=[ReAsk(max_attempts=2), OverrideToRationale()], telemetry=sink)
    messages = _run(chat, TOOLS, [GuardrailMiddleware(guard), ModelCallLimitMiddleware(run_limit=1)])
    (step,) = _steps(sink)
    assert (step.parsed_action, step.final_action, step.agent_calls) == ("search_docs", "search_docs", 1)
    assert step.findings == ()
    assert step.corrections == ()
    assert len(wire.bodies) == 1
    ((name, arguments),) = wire.server_calls()
    executed = next(m for m in messages if isinstance(m, AIMessage))
    assert [(c["name"], c["args"]) for c in executed.tool_calls] == [(name, arguments)]
    assert any(isinstance(m, ToolMessage) and m.name == "search_docs" for m in messages)


def test_a_contradiction_is_reasked_on_the_wire(chat: ChatOpenAI, wire: Wire) -> None:
    """The server calls search_docs while the answer's text says send_email: the guard re-asks, and the second
    request holds the failed call answered by a tool message with the feedback (and the feedback as a user
    message, which this format renders)."""
    sink = MemorySink()
    guard = guard_for_tools(
        TOOLS,
        policies=[ReAsk(max_attempts=2)],
        prompter=MessagesPrompter(follow_up=True),
        fallback="search_docs",
        telemetry=sink,
    )
    gap = AppendToFirstAnswer("So I should call send_email.")
    _run(chat, TOOLS, [GuardrailMiddleware(guard), gap, ModelCallLimitMiddleware(run_limit=1)])
    step = _steps(sink)[0]
    assert step.parsed_action == "search_docs"
    assert step.rationale_action == "send_email"
    assert step.findings[0].kind == "knowing_doing_gap"
    assert step.corrections[0].kind == "reask"
    assert step.agent_calls == len(wire.bodies) == 2
    second = wire.bodies[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool", "user"]
    assert second[2]["tool_calls"][0]["function"]["name"] == "search_docs"
    assert second[3]["tool_call_id"] == second[2]["tool_calls"][0]["id"]
    assert "Your reasoning recommends 'send_email'" in second[3]["content"]
    assert len(wire.server_calls()) >= 1


def test_an_override_renames_a_real_call_keeping_its_valid_arguments(chat: ChatOpenAI, wire: Wire) -> None:
    """The server calls search_docs(query=...); the text recommends search_web, which takes the same query: the
    override renames the call, keeping the server's id and arguments, in one request."""
    tools: list[BaseTool] = [search_docs, search_web]
    sink = MemorySink()
    guard = guard_for_tools(tools, policies=[OverrideToRationale()], telemetry=sink)
    nudge = AppendToFirstAnswer("The newest guide is online, so I should call search_web.")
    messages = _run(chat, tools, [GuardrailMiddleware(guard), nudge, ModelCallLimitMiddleware(run_limit=1)])
    ((name, arguments),) = wire.server_calls()
    assert name == "search_docs"
    assert "query" in arguments
    executed = next(m for m in messages if isinstance(m, AIMessage))
    (call,) = executed.tool_calls
    assert (call["name"], call["args"]) == ("search_web", arguments)
    assert call["id"] == wire.answers[0]["tool_calls"][0]["id"]
    (step,) = _steps(sink)
    assert [c.kind for c in step.corrections] == ["override"]
    assert len(wire.bodies) == 1
    assert any(isinstance(m, ToolMessage) and m.name == "search_web" for m in messages)


def test_a_real_repeated_call_is_caught_as_a_loop(chat: ChatOpenAI, wire: Wire) -> None:
    """The conversation already holds two search_docs calls with the same query (crafted prior turns); this format
    never shows the model its tool results, so the server repeats the call turn after turn, and the loop detector
    flags it within the run."""
    sink = MemorySink()
    detectors = [KnowingDoingGap(), InvalidAction(), Loops()]
    tools: list[BaseTool] = [search_docs]
    guard = guard_for_tools(tools, detectors=detectors, telemetry=sink)
    prior: list[Any] = [HumanMessage(content=ASK_DOCS)]
    for i in range(2):
        prior += [
            AIMessage(
                content="", tool_calls=[{"name": "search_docs", "args": {"query": "install guide"}, "id": f"p{i}"}]
            ),
            ToolMessage(content="no results", tool_call_id=f"p{i}"),
        ]
    middleware: list[Any] = [GuardrailMiddleware(guard), ModelCallLimitMiddleware(run_limit=4, exit_behavior="end")]
    agent = create_agent(chat, tools, system_prompt=SYSTEM, middleware=middleware)
    agent.invoke({"messages": prior})
    calls = [json.dumps(call, sort_keys=True) for call in wire.server_calls()]
    assert len(calls) == 4
    assert max(calls.count(call) for call in calls) == 4  # the same call, every turn
    flagged = [step.step for step in _steps(sink) if any(f.kind.startswith("loop") for f in step.findings)]
    assert flagged[:1] == [3]  # the fourth identical call, once three have returned the same result


def test_an_answer_without_a_tool_call_is_a_recorded_step(chat: ChatOpenAI, wire: Wire) -> None:
    """A greeting gets an answer with no tool call from the server; with an answer action it is a guarded step
    (final_answer) that ends the run, with its event."""
    sink = MemorySink()
    guard = guard_for_tools(TOOLS, answer_action="final_answer", policies=[OverrideToRationale()], telemetry=sink)
    messages = _run(chat, TOOLS, [GuardrailMiddleware(guard)], ask="Hello! How are you today?")
    assert wire.answers[0].get("tool_calls") in (None, [])
    (step,) = _steps(sink)
    assert step.final_action == "final_answer"
    assert step.findings == ()
    assert isinstance(messages[-1], AIMessage)
    assert messages[-1].tool_calls == []
    assert len(wire.bodies) == 1
