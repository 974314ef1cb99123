"""GuardrailMiddleware inside create_agent: overrides, re-asks, pass-through answers, composition, events."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ModelCallLimitMiddleware, ModelRetryMiddleware
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatResult
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver

from guardrail import MemorySink, OverrideToRationale, ReAsk, StepEvent
from guardrail.exceptions import ConfigurationError
from guardrail_langchain import (
    FINDING_EVENT,
    PASS_EVENT,
    STEP_EVENT,
    GuardrailMiddleware,
    MissingDependencyError,
    guard_for_tools,
)
from guardrail_langchain.testing import ScriptedChatModel, tool_answer

from .conftest import GAP, EventRecorder

CONSISTENT = "The documentation answers this, so I should call search_docs."
FINAL = "Install it with pip install guardrail."


class FlakyChatModel(ScriptedChatModel):
    """Raises ConnectionError on its first ``failures`` calls, then answers from the script."""

    failures: int = 1

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("the model server dropped the connection")
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def _steps(sink: MemorySink) -> list[StepEvent]:
    return [event for event in sink.events if isinstance(event, StepEvent)]


def _ask(question: str = "How do I install it?") -> dict[str, Any]:
    return {"messages": [HumanMessage(content=question)]}


def test_an_overridden_tool_call_is_what_the_agent_executes(tools: list[BaseTool]) -> None:
    """The gap's tool call is renamed before it enters the state, so the agent runs the rationale's tool."""
    model = ScriptedChatModel.script([tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1"), FINAL])
    sink = MemorySink()
    guard = guard_for_tools(tools, policies=[OverrideToRationale()], telemetry=sink)
    agent = create_agent(model, tools, middleware=[GuardrailMiddleware(guard)])
    messages = agent.invoke(_ask())["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1].tool_calls == [
        {"name": "search_docs", "args": {"query": "install"}, "id": "c1", "type": "tool_call"}
    ]
    assert isinstance(messages[2], ToolMessage)
    assert messages[2].content.startswith("docs about install")
    assert messages[3].content == FINAL
    (event,) = _steps(sink)  # the final answer passed through unguarded
    assert (event.parsed_action, event.final_action) == ("send_email", "search_docs")


def test_a_reask_goes_through_the_handler_and_only_the_final_message_enters_the_state(tools: list[BaseTool]) -> None:
    """The failed answer is sent back with its feedback, but the state keeps only the corrected answer."""
    model = ScriptedChatModel.script(
        [
            tool_answer(GAP, "send_email", {"to": "a", "body": "b"}, call_id="bad"),
            tool_answer(CONSISTENT, "search_docs", {"query": "install"}, call_id="good"),
            FINAL,
        ]
    )
    guard = guard_for_tools(tools, policies=[ReAsk()], telemetry=MemorySink())
    agent = create_agent(model, tools, system_prompt="Use the tools.", middleware=[GuardrailMiddleware(guard)])
    messages = agent.invoke(_ask())["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1].tool_calls[0]["id"] == "good"
    reask = model.requests[1]
    assert [m.type for m in reask] == ["system", "human", "ai", "tool"]
    assert isinstance(reask[3], ToolMessage)
    assert reask[3].tool_call_id == "bad"
    assert "search_docs" in str(reask[3].content)
    assert all(m.id != "bad" for m in messages if isinstance(m, AIMessage))


def test_an_illegal_tool_name_is_replaced_before_the_tool_node_sees_it(tools: list[BaseTool]) -> None:
    """A tool the agent does not have is an invalid action; the fallback tool is called instead."""
    model = ScriptedChatModel.script([tool_answer("Wipe it.", "delete_all", {"query": "x"}, call_id="c1"), FINAL])
    sink = MemorySink()
    guard = guard_for_tools(tools, fallback="search_docs", telemetry=sink)
    agent = create_agent(model, tools, middleware=[GuardrailMiddleware(guard)])
    messages = agent.invoke(_ask())["messages"]
    assert messages[1].tool_calls[0]["name"] == "search_docs"
    assert messages[1].tool_calls[0]["id"] == "c1"
    assert _steps(sink)[0].raw_action == "delete_all"


def test_a_final_answer_is_guarded_when_the_guard_has_an_answer_action(tools: list[BaseTool]) -> None:
    """With answer_action, answering directly is an action: a gap toward a tool is corrected."""
    model = ScriptedChatModel.script(
        [AIMessage(content=f"{GAP} Actually, here is the answer."), tool_answer(CONSISTENT, "search_docs", {}), FINAL]
    )
    sink = MemorySink()
    guard = guard_for_tools(tools, answer_action="final_answer", policies=[ReAsk(max_attempts=2)], telemetry=sink)
    agent = create_agent(model, tools, middleware=[GuardrailMiddleware(guard)])
    messages = agent.invoke(_ask())["messages"]
    assert messages[1].tool_calls[0]["name"] == "search_docs"
    assert [e.final_action for e in _steps(sink)] == ["search_docs", "final_answer"]


GUARD_FIRST = "guard, retry, limit"
GUARD_LAST = "retry, limit, guard"


@pytest.mark.parametrize("order", [GUARD_FIRST, GUARD_LAST])
def test_composes_with_model_retry_and_call_limit_in_either_order(tools: list[BaseTool], order: str) -> None:
    """A failed call is retried, the gap corrected, and a re-ask does not use up the model-call limit."""
    model = FlakyChatModel(
        messages=iter(
            [
                tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1"),
                tool_answer(CONSISTENT, "search_docs", {"query": "install"}, call_id="c2"),
                FINAL,
            ]
        )
    )
    sink = MemorySink()
    guard = GuardrailMiddleware(guard_for_tools(tools, policies=[ReAsk()], telemetry=sink))
    retry = ModelRetryMiddleware(max_retries=2, initial_delay=0.0, jitter=False, on_failure="error")
    limit = ModelCallLimitMiddleware(run_limit=2, exit_behavior="error")
    middleware: list[AgentMiddleware[Any, Any, Any]] = (
        [guard, retry, limit] if order == GUARD_FIRST else [retry, limit, guard]
    )
    agent = create_agent(model, tools, middleware=middleware)
    messages = agent.invoke(_ask())["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1].tool_calls[0]["id"] == "c2"
    assert messages[-1].content == FINAL
    assert len(model.requests) == 3  # the failed call never reached the script
    events = _steps(sink)
    if order == GUARD_FIRST:  # the retry is inside the guarded call: the failure is invisible to the guard
        assert [e.status for e in events] == ["ok"]
    else:  # the retry repeats the whole guarded call: the failed one is recorded as an agent error
        assert [e.status for e in events] == ["agent_error", "ok"]
        assert "ConnectionError" in str(events[0].error)
    assert events[-1].agent_calls == 2
    assert events[-1].final_action == "search_docs"


@pytest.mark.parametrize("order", [GUARD_FIRST, GUARD_LAST])
def test_the_call_limit_still_ends_the_run_in_either_order(tools: list[BaseTool], order: str) -> None:
    """run_limit=1 ends the agent after one guarded model turn, whatever the middleware order."""
    model = ScriptedChatModel.script([tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1"), FINAL])
    sink = MemorySink()
    guard = GuardrailMiddleware(guard_for_tools(tools, policies=[OverrideToRationale()], telemetry=sink))
    retry = ModelRetryMiddleware(max_retries=1, initial_delay=0.0, jitter=False)
    limit = ModelCallLimitMiddleware(run_limit=1, exit_behavior="end")
    middleware: list[AgentMiddleware[Any, Any, Any]] = (
        [guard, retry, limit] if order == GUARD_FIRST else [retry, limit, guard]
    )
    messages = create_agent(model, tools, middleware=middleware).invoke(_ask())["messages"]
    assert messages[1].tool_calls[0]["name"] == "search_docs"
    assert len(model.requests) == 1
    assert "limit" in str(messages[-1].content).lower()
    assert len(_steps(sink)) == 1


def test_the_episode_is_the_thread_id_and_events_reach_the_callbacks(
    tools: list[BaseTool], recorder: EventRecorder
) -> None:
    """With a checkpointer, steps are counted per thread; custom events reach the run's callbacks."""
    model = ScriptedChatModel.script(
        [
            tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1"),
            FINAL,
            tool_answer(CONSISTENT, "search_docs", {}),
            FINAL,
        ]
    )
    sink = MemorySink()
    guard = guard_for_tools(tools, policies=[OverrideToRationale()], telemetry=sink)
    agent = create_agent(model, tools, middleware=[GuardrailMiddleware(guard)], checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "thread-1"}, "callbacks": [recorder]}
    agent.invoke(_ask(), config)
    agent.invoke(_ask("And how do I upgrade?"), config)
    assert [(e.episode, e.step) for e in _steps(sink)] == [("thread-1", 0), ("thread-1", 1)]
    assert [f["kind"] for f in recorder.named(FINDING_EVENT)] == ["knowing_doing_gap"]
    assert [s["action"] for s in recorder.named(STEP_EVENT)] == ["search_docs", "search_docs"]


async def test_the_async_agent_is_guarded_by_awrap_model_call(tools: list[BaseTool], recorder: EventRecorder) -> None:
    """ainvoke runs awrap_model_call: re-ask, correction, events, telemetry."""
    model = ScriptedChatModel.script(
        [
            tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1"),
            tool_answer(CONSISTENT, "search_docs", {}),
            FINAL,
        ]
    )
    sink = MemorySink()
    guard = guard_for_tools(tools, policies=[ReAsk()], telemetry=sink)
    agent = create_agent(model, tools, middleware=[GuardrailMiddleware(guard, episode="async-run")])
    state = await agent.ainvoke(_ask(), {"callbacks": [recorder]})
    assert state["messages"][1].tool_calls[0]["name"] == "search_docs"
    (event,) = _steps(sink)
    assert (event.episode, event.agent_calls) == ("async-run", 2)
    # the final answer passes with no step, and says so
    assert [name for name, _ in recorder.events] == [FINDING_EVENT, STEP_EVENT, PASS_EVENT]


def test_a_missing_langchain_names_the_agents_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without langchain installed, importing the middleware says to install guardrail-langchain[agents]."""
    monkeypatch.delitem(sys.modules, "guardrail_langchain.middleware")
    monkeypatch.setitem(sys.modules, "langchain.agents.middleware", None)
    with pytest.raises(MissingDependencyError, match=r"guardrail-langchain\[agents\]"):
        importlib.import_module("guardrail_langchain.middleware")


LOOPING = "The documentation should have it, so I should call search_docs."


def test_an_agent_stuck_in_a_loop_is_nudged_blocked_then_ended_with_a_final_message(tools: list[BaseTool]) -> None:
    """Tool answers are the calls' outcomes; after nudge and block the Escalation ends the agent."""
    from guardrail import Escalation, Loops

    answers = [tool_answer(LOOPING, "search_docs", {"query": "install"}, call_id=f"c{i}") for i in range(6)]
    model = ScriptedChatModel.script(answers)
    sink = MemorySink()
    guard = guard_for_tools(tools, detectors=[Loops()], policies=[Escalation()], telemetry=sink)
    agent = create_agent(model, tools, middleware=[GuardrailMiddleware(guard)])
    messages = agent.invoke(_ask())["messages"]
    assert [m.type for m in messages] == ["human", "ai", "tool", "ai", "tool", "ai", "tool", "ai"]
    assert not messages[-1].tool_calls
    assert "repeating" in messages[-1].content
    last = _steps(sink)[-1]
    assert last.status == "stopped"
    assert [(c.reason or "").split(":")[0] for c in last.corrections] == ["nudge", "block"]


def test_a_new_human_message_resets_the_loop_counters(tools: list[BaseTool]) -> None:
    """Two identical calls per user turn, over two turns of one thread: no loop."""
    from guardrail import Loops

    call = "search_docs"
    script = []
    for turn in range(2):
        script += [tool_answer(LOOPING, call, {"query": "install"}, call_id=f"t{turn}c{i}") for i in range(2)]
        script.append(FINAL)
    model = ScriptedChatModel.script(script)
    sink = MemorySink()
    guard = guard_for_tools(tools, detectors=[Loops()], telemetry=sink)
    agent = create_agent(model, tools, middleware=[GuardrailMiddleware(guard)], checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    agent.invoke(_ask(), config)
    agent.invoke(_ask("And again?"), config)
    assert len(_steps(sink)) == 4
    assert not any(f.kind == "loop" for event in _steps(sink) for f in event.findings)


def test_a_stated_intent_without_a_call_is_reasked_saying_so(tools: list[BaseTool]) -> None:
    """ "Let me call search_docs" with no tool call is not a final answer: unexecuted_intent, and the re-ask
    says the answer made no call; the agent then makes it."""
    model = ScriptedChatModel.script(
        [
            AIMessage(content="Let me call search_docs to find the install guide."),
            tool_answer(CONSISTENT, "search_docs", {"query": "install"}),
            FINAL,
        ]
    )
    sink = MemorySink()
    guard = guard_for_tools(tools, policies=[ReAsk(max_attempts=2)], telemetry=sink)
    messages = create_agent(model, tools, middleware=[GuardrailMiddleware(guard)]).invoke(_ask())["messages"]
    assert messages[1].tool_calls[0]["name"] == "search_docs"
    (event,) = _steps(sink)
    assert "unexecuted_intent" in {f.kind for f in event.findings}
    assert event.agent_calls == 2
    feedback = model.requests[1][-1].content
    assert "your answer made no call" in str(feedback)
    assert "'search_docs'" in str(feedback)


def test_answers_passing_with_no_step_warn_once_then_are_counted(
    tools: list[BaseTool], recorder: EventRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """Three text answers in a row with no step: one warning from the guardrail_langchain logger, and every pass
    is counted and dispatched as guardrail_pass_through; a guarded step resets the run of passes."""
    middleware = GuardrailMiddleware(guard_for_tools(tools), warn_after=2)
    agent = create_agent(ScriptedChatModel.script([FINAL] * 3), tools, middleware=[middleware])
    with caplog.at_level("WARNING", logger="guardrail_langchain"):
        for _ in range(3):
            agent.invoke(_ask(), {"callbacks": [recorder]})
    warnings = [r for r in caplog.records if r.name == "guardrail_langchain"]
    assert len(warnings) == 1
    assert "2 model calls in a row passed with no guarded step" in warnings[0].getMessage()
    assert middleware.unguarded_calls == 3
    passes = recorder.named(PASS_EVENT)
    assert [p["unguarded_calls"] for p in passes] == [1, 2, 3]
    agent = create_agent(
        ScriptedChatModel.script([tool_answer(CONSISTENT, "search_docs", {"query": "x"}), FINAL]),
        tools,
        middleware=[middleware],
    )
    agent.invoke(_ask(), {"callbacks": [recorder]})
    assert recorder.named(PASS_EVENT)[-1]["since_step"] == 1


def test_warn_after_must_be_a_positive_integer_or_none(tools: list[BaseTool]) -> None:
    """warn_after=0 is a configuration error naming the argument."""
    with pytest.raises(ConfigurationError, match="warn_after"):
        GuardrailMiddleware(guard_for_tools(tools), warn_after=0)


def test_a_stated_intent_that_stays_unexecuted_is_recorded_and_the_answer_handed_back(tools: list[BaseTool]) -> None:
    """With fallback="raise", an intent the re-ask does not fix never becomes an error: the step is recorded as
    no_legal_action with its finding, and the agent gets the model's first answer, as a plain answer would."""
    intent = AIMessage(content="Let me call search_docs to find the install guide.")
    model = ScriptedChatModel.script([intent, AIMessage(content="Still thinking.")])
    sink = MemorySink()
    guard = guard_for_tools(tools, policies=[ReAsk(max_attempts=2)], telemetry=sink)
    messages = create_agent(model, tools, middleware=[GuardrailMiddleware(guard)]).invoke(_ask())["messages"]
    assert messages[-1].content == intent.content
    (event,) = _steps(sink)
    assert event.status == "no_legal_action"
    assert "unexecuted_intent" in {f.kind for f in event.findings}
