"""GuardedRunnable over a scripted tool-calling chat model: steps, re-asks, overrides, batches, streams, events."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import BaseTool

from guardrail import (
    Guard,
    MemorySink,
    OverrideToRationale,
    ReAsk,
    StepEvent,
)
from guardrail.exceptions import ConfigurationError, NoLegalActionError
from guardrail_langchain import FINDING_EVENT, STEP_EVENT, GuardedRunnable, guard_for_tools, guard_runnable
from guardrail_langchain.testing import ScriptedChatModel, tool_answer

from .conftest import GAP, EventRecorder

CONSISTENT = "The documentation answers this, so I should call search_docs."


def _steps(sink: MemorySink) -> list[StepEvent]:
    return [event for event in sink.events if isinstance(event, StepEvent)]


def test_a_consistent_tool_call_passes_unchanged_and_is_recorded(tools: list[BaseTool]) -> None:
    """Rationale and tool call agree: one model call, the same tool call, a telemetry event, no correction."""
    model = ScriptedChatModel.script([tool_answer(CONSISTENT, "search_docs", {"query": "install"}, call_id="c1")])
    sink = MemorySink()
    guarded = guard_runnable(model.bind_tools(tools), policies=[ReAsk(), OverrideToRationale()], telemetry=sink)
    output = guarded.step("How do I install it?")
    assert output.action == "search_docs"
    assert isinstance(output.message, AIMessage)
    assert output.message.tool_calls == [
        {"name": "search_docs", "args": {"query": "install"}, "id": "c1", "type": "tool_call"}
    ]
    assert output.message.response_metadata["guardrail"]["intervened"] is False
    assert len(model.requests) == 1
    (event,) = _steps(sink)
    assert event.final_action == "search_docs"
    assert event.format == "tool_call"
    assert event.findings == ()
    assert event.agent_calls == 1


def test_a_gap_is_reasked_with_the_original_messages_the_failed_answer_and_the_feedback(
    tools: list[BaseTool],
) -> None:
    """The re-ask sends the original input, the failed AIMessage and a ToolMessage for its call id."""
    model = ScriptedChatModel.script(
        [
            tool_answer(GAP, "send_email", {"to": "x", "body": "y"}, call_id="c1"),
            tool_answer(CONSISTENT, "search_docs", {"query": "install"}, call_id="c2"),
        ]
    )
    sink = MemorySink()
    guarded = guard_runnable(model.bind_tools(tools), policies=[ReAsk()], telemetry=sink)
    output = guarded.step([HumanMessage(content="How do I install it?")])
    assert output.action == "search_docs"
    assert isinstance(output.message, AIMessage)
    assert output.message.tool_calls[0]["id"] == "c2"
    second = model.requests[1]
    assert [type(m) for m in second] == [HumanMessage, AIMessage, ToolMessage]
    assert second[0].content == "How do I install it?"
    assert isinstance(second[2], ToolMessage)
    assert second[2].tool_call_id == "c1"
    assert "search_docs" in str(second[2].content)
    (event,) = _steps(sink)
    assert event.agent_calls == 2
    assert [c.kind for c in event.corrections] == ["reask"]


def test_a_gap_is_overridden_to_the_rationale_keeping_the_tool_call_id(tools: list[BaseTool]) -> None:
    """Without a re-ask, the tool call is renamed to the rationale's tool and keeps its id."""
    model = ScriptedChatModel.script([tool_answer(GAP, "send_email", {"query": "install"}, call_id="call_42")])
    sink = MemorySink()
    guarded = guard_runnable(model.bind_tools(tools), policies=[OverrideToRationale()], telemetry=sink)
    message = guarded.invoke("How do I install it?")
    assert isinstance(message, AIMessage)
    assert message.tool_calls == [
        {"name": "search_docs", "args": {"query": "install"}, "id": "call_42", "type": "tool_call"}
    ]
    assert message.content == GAP
    (event,) = _steps(sink)
    assert event.parsed_action == "send_email"
    assert event.final_action == "search_docs"
    assert [c.kind for c in event.corrections] == ["override"]


def test_an_illegal_tool_name_is_reasked_then_falls_back(tools: list[BaseTool]) -> None:
    """A tool outside the action space is an invalid action: re-asked, then the fallback tool is called."""
    model = ScriptedChatModel.script(
        [tool_answer("Deleting everything.", "delete_all", {"query": "all"}, call_id=f"c{i}") for i in range(2)]
    )
    sink = MemorySink()
    guarded = guard_runnable(model.bind_tools(tools), policies=[ReAsk()], fallback="search_docs", telemetry=sink)
    message = guarded.invoke("Clean up.")
    assert isinstance(message, AIMessage)
    assert message.tool_calls[0]["name"] == "search_docs"
    assert message.tool_calls[0]["id"] == "c1"
    (event,) = _steps(sink)
    assert event.raw_action == "delete_all"
    assert {f.kind for f in event.findings} == {"invalid_action"}
    assert [c.kind for c in event.corrections] == ["reask", "fallback"]


def test_no_legal_action_raises_after_writing_telemetry_and_events(
    tools: list[BaseTool], recorder: EventRecorder
) -> None:
    """fallback='raise': NoLegalActionError after the event is written and the findings are dispatched."""
    model = ScriptedChatModel.script([tool_answer("Deleting.", "delete_all", {})])
    sink = MemorySink()
    guarded = guard_runnable(model.bind_tools(tools), telemetry=sink)
    with pytest.raises(NoLegalActionError):
        guarded.invoke("Clean up.", {"callbacks": [recorder]})
    assert _steps(sink)[0].status == "no_legal_action"
    assert recorder.named(STEP_EVENT)[0]["status"] == "no_legal_action"
    assert recorder.named(FINDING_EVENT)[0]["kind"] == "invalid_action"


def test_findings_and_steps_reach_callbacks_as_custom_events(tools: list[BaseTool], recorder: EventRecorder) -> None:
    """A callback handler sees one guardrail_finding per finding and one guardrail_step per step."""
    model = ScriptedChatModel.script([tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1")])
    guarded = guard_runnable(model.bind_tools(tools), policies=[OverrideToRationale()])
    guarded.invoke("q", {"callbacks": [recorder], "configurable": {"thread_id": "t-9"}})
    (finding,) = recorder.named(FINDING_EVENT)
    assert finding["kind"] == "knowing_doing_gap"
    assert finding["episode"] == "t-9"
    (step,) = recorder.named(STEP_EVENT)
    assert step["action"] == "search_docs"
    assert step["first_action"] == "send_email"
    assert step["intervened"] is True
    assert step["corrections"][0]["kind"] == "override"


async def test_ainvoke_reasks_and_dispatches_events_asynchronously(
    tools: list[BaseTool], recorder: EventRecorder
) -> None:
    """The async path re-asks through ainvoke and dispatches the same custom events."""
    model = ScriptedChatModel.script(
        [
            tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1"),
            tool_answer(CONSISTENT, "search_docs", {}, call_id="c2"),
        ]
    )
    guarded = guard_runnable(model.bind_tools(tools), policies=[ReAsk()])
    output = await guarded.astep("q", {"callbacks": [recorder]})
    assert output.action == "search_docs"
    assert output.result.agent_calls == 2
    assert len(model.requests) == 2
    assert [name for name, _ in recorder.events] == [FINDING_EVENT, STEP_EVENT]


def test_batch_guards_each_input_as_its_own_step_in_its_episode(tools: list[BaseTool]) -> None:
    """batch: one step per input; the episode comes from configurable episode, then thread_id."""
    model = ScriptedChatModel.script([tool_answer(CONSISTENT, "search_docs", {}) for _ in range(3)])
    sink = MemorySink()
    guarded = guard_runnable(model.bind_tools(tools), telemetry=sink, episode="fallback-episode")
    configs = [
        {"configurable": {"episode": "e1"}},
        {"configurable": {"thread_id": "t2"}},
        {},
    ]
    outputs = guarded.batch(["a", "b", "c"], configs)  # type: ignore[arg-type]
    assert [m.tool_calls[0]["name"] for m in outputs] == ["search_docs"] * 3
    assert sorted(e.episode for e in _steps(sink)) == ["e1", "fallback-episode", "t2"]


async def test_abatch_guards_each_input_and_counts_steps_per_episode(tools: list[BaseTool]) -> None:
    """abatch with one thread: each input is a step of that episode (steps 0, 1, 2)."""
    model = ScriptedChatModel.script([tool_answer(CONSISTENT, "search_docs", {}) for _ in range(3)])
    sink = MemorySink()
    guarded = guard_runnable(model.bind_tools(tools), telemetry=sink)
    outputs = await guarded.abatch(["a", "b", "c"], {"configurable": {"thread_id": "t"}})
    assert len(outputs) == 3
    assert sorted(e.step for e in _steps(sink)) == [0, 1, 2]
    assert guarded.guard.view("t").t == 3


def test_stream_passes_chunks_through_and_guards_the_assembled_message(tools: list[BaseTool]) -> None:
    """Chunks arrive as the model streams them; the assembled message is guarded after the last one."""
    model = ScriptedChatModel.script([tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1")])
    sink = MemorySink()
    guarded = guard_runnable(model.bind_tools(tools), policies=[OverrideToRationale()], telemetry=sink)
    stream = guarded.stream_step("q")
    chunks = list(stream)
    assert len(chunks) > 2
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assembled = chunks[0]
    for chunk in chunks[1:]:
        assembled = assembled + chunk
    assert assembled.tool_calls[0]["name"] == "send_email"  # what was streamed is not taken back
    final = stream.result.message
    assert isinstance(final, AIMessage)
    assert final.tool_calls == [{"name": "search_docs", "args": {"query": "install"}, "id": "c1", "type": "tool_call"}]
    assert _steps(sink)[0].final_action == "search_docs"
    assert len(model.requests) == 1


def test_plain_stream_reasks_after_the_stream_without_streaming_the_reask(
    tools: list[BaseTool], recorder: EventRecorder
) -> None:
    """A re-ask after a stream calls the model again (invoke); its answer is in the guardrail_step event."""
    model = ScriptedChatModel.script(
        [
            tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1"),
            tool_answer(CONSISTENT, "search_docs", {}, call_id="c2"),
        ]
    )
    guarded = guard_runnable(model.bind_tools(tools), policies=[ReAsk()])
    chunks = list(guarded.stream("q", {"callbacks": [recorder]}))
    assert "send_email" in {c["name"] for chunk in chunks for c in chunk.tool_call_chunks}
    assert len(model.requests) == 2
    (step,) = recorder.named(STEP_EVENT)
    assert step["action"] == "search_docs"
    assert step["agent_calls"] == 2


async def test_astream_passes_chunks_through_and_sets_the_result(tools: list[BaseTool]) -> None:
    """The async stream behaves like the sync one: chunks, then the guarded result."""
    model = ScriptedChatModel.script([tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1")])
    guarded = guard_runnable(model.bind_tools(tools), policies=[OverrideToRationale()])
    stream = guarded.astream_step("q")
    chunks = [chunk async for chunk in stream]
    assert chunks
    assert stream.result.action == "search_docs"
    plain = guard_runnable(ScriptedChatModel.script([tool_answer(CONSISTENT, "search_docs", {})]).bind_tools(tools))
    assert [chunk async for chunk in plain.astream("q")]


def test_the_result_of_an_unread_stream_is_not_available(tools: list[BaseTool]) -> None:
    """Asking for the result before the stream ends is an error, not a silent None."""
    model = ScriptedChatModel.script([tool_answer(CONSISTENT, "search_docs", {})])
    stream = guard_runnable(model.bind_tools(tools)).stream_step("q")
    with pytest.raises(Exception, match="read to the end"):
        _ = stream.result


def test_a_text_runnable_is_guarded_with_the_text_formats() -> None:
    """A runnable returning text (ACTION=x) is guarded too; a re-ask sends the plain-text re-ask prompt."""
    answers = iter(["Blue is best, so I choose blue.\nACTION=red", "I choose blue.\nACTION=blue"])
    prompts: list[object] = []

    def text_model(prompt: object) -> str:
        prompts.append(prompt)
        return next(answers)

    guarded = GuardedRunnable(RunnableLambda(text_model), Guard(["red", "blue"], policies=[ReAsk()]))
    assert guarded.invoke("Pick a button.") == "I choose blue.\nACTION=blue"
    assert isinstance(prompts[1], str)
    assert "Feedback:" in str(prompts[1])


def test_a_chat_model_with_text_actions_is_reasked_with_messages() -> None:
    """A chat model answering ``ACTION=x`` in text is re-asked with a HumanMessage of feedback."""
    model = ScriptedChatModel.script(
        [AIMessage(content="Blue is best, so I choose blue.\nACTION=red"), AIMessage(content="ACTION=blue")]
    )
    guarded = GuardedRunnable(model, Guard(["red", "blue"], policies=[ReAsk()]))
    output = guarded.step("Pick a button.")
    assert output.action == "blue"
    assert [type(m) for m in model.requests[1]] == [HumanMessage, AIMessage, HumanMessage]


def test_guarding_the_model_inside_a_prompt_chain(tools: list[BaseTool]) -> None:
    """prompt | guarded model: the prompt's messages are the original messages of a re-ask."""
    model = ScriptedChatModel.script(
        [tool_answer(GAP, "send_email", {"query": "install"}, call_id="c1"), tool_answer(CONSISTENT, "search_docs", {})]
    )
    prompt = ChatPromptTemplate.from_messages([("system", "Use tools."), ("human", "{question}")])
    chain = prompt | guard_runnable(model.bind_tools(tools), policies=[ReAsk()])
    message = chain.invoke({"question": "install?"})
    assert message.tool_calls[0]["name"] == "search_docs"
    assert [m.type for m in model.requests[1]] == ["system", "human", "ai", "tool"]


def test_usage_reported_by_the_model_reaches_telemetry(tools: list[BaseTool]) -> None:
    """Token usage in usage_metadata is summed into the step event."""
    answer = tool_answer(CONSISTENT, "search_docs", {})
    answer.usage_metadata = {"input_tokens": 11, "output_tokens": 5, "total_tokens": 16}
    sink = MemorySink()
    guard_runnable(ScriptedChatModel.script([answer]).bind_tools(tools), telemetry=sink).invoke("q")
    (event,) = _steps(sink)
    assert (event.input_tokens, event.output_tokens) == (11, 5)


def test_guard_runnable_needs_an_action_space_and_not_both_guard_and_options(tools: list[BaseTool]) -> None:
    """Without bound tools, tools= or actions=, there is no action space: a clear error."""
    model = ScriptedChatModel.script(["x"])
    with pytest.raises(ConfigurationError, match="action space"):
        guard_runnable(model)
    with pytest.raises(ConfigurationError):
        guard_runnable(model, guard_for_tools(tools), policies=[ReAsk()])
    with pytest.raises(ConfigurationError):
        GuardedRunnable(model, guard_for_tools(tools), episode="")
    assert guard_runnable(model, tools=tools).actions.names == ("search_docs", "send_email")


def test_guard_for_tools_reads_rationales_with_the_reader_it_is_given(tools: list[BaseTool]) -> None:
    """guard_for_tools(reader=...) hands the reader to its MessageParser: a custom reader decides the rationale."""
    from guardrail import ActionSpace, RationaleReading

    def always_send_email(rationale: str, actions: ActionSpace) -> RationaleReading:
        return RationaleReading(action="send_email", confidence=0.9)

    model = ScriptedChatModel.script([tool_answer(CONSISTENT, "search_docs", {"query": "install"})])
    guard = guard_for_tools(tools, reader=always_send_email)
    output = guard_runnable(model, guard).step("How do I install it?")
    assert output.result.first_decision.rationale_action == "send_email"
