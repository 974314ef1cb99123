"""Reading AIMessages into decisions, writing the verdict back, and building re-ask messages."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolCall, ToolMessage
from langchain_core.prompt_values import ChatPromptValue
from langchain_core.tools import BaseTool

from guardrail import (
    ActionSpace,
    Guard,
    MemorySink,
    Override,
    OverrideToRationale,
    StepResult,
    StepState,
    read_rationale,
)
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail.testing import ScriptedAgent
from guardrail_langchain import (
    TOOL_CALL_FORMAT,
    MessageParser,
    MessagesPrompter,
    adapt_guard,
    bound_tools,
    guard_for_tools,
    message_text,
    rewrite_message,
    tool_action_space,
    tool_schemas,
)
from guardrail_langchain.testing import ScriptedChatModel, tool_answer

from .conftest import GAP

SPACE = ActionSpace(["search_docs", "send_email"])


def _call(name: str, args: dict[str, object], call_id: str) -> ToolCall:
    return ToolCall(name=name, args=args, id=call_id, type="tool_call")


def test_a_tool_call_is_the_action_with_its_arguments_and_the_text_is_the_rationale() -> None:
    """The first tool call's name is the action, its args are kept, the content is read as the rationale."""
    message = tool_answer(GAP, "send_email", {"to": "a@b.c", "body": "hi"}, call_id="call_7")
    decision = MessageParser()(message, SPACE)
    assert decision.action == "send_email"
    assert decision.arguments == {"to": "a@b.c", "body": "hi"}
    assert decision.rationale_action == "search_docs"
    assert decision.format == TOOL_CALL_FORMAT
    assert decision.raw is message


def test_an_unknown_tool_name_gives_no_action_and_keeps_the_name_as_raw_action() -> None:
    """A tool outside the action space is not an action: action None, raw_action the tool name."""
    decision = MessageParser()(tool_answer("Deleting.", "delete_all", {}), SPACE)
    assert decision.action is None
    assert decision.raw_action == "delete_all"


def test_reasoning_content_counts_as_rationale() -> None:
    """Reasoning from additional_kwargs and from reasoning content blocks is part of the rationale."""
    kwargs_message = AIMessage(
        content="", additional_kwargs={"reasoning_content": GAP}, tool_calls=[_call("send_email", {}, "c1")]
    )
    assert MessageParser()(kwargs_message, SPACE).rationale_action == "search_docs"
    block_message = AIMessage(
        content=[{"type": "reasoning", "reasoning": GAP}, {"type": "text", "text": "Calling now."}],
        tool_calls=[_call("send_email", {}, "c1")],
    )
    reasoning, text = message_text(block_message)
    assert reasoning == GAP
    assert text == "Calling now."
    assert MessageParser()(block_message, SPACE).rationale_action == "search_docs"


def test_a_message_without_tool_calls_is_read_in_the_text_formats() -> None:
    """``ACTION=x`` in the text (or JSON, XML, ReAct) is the action when no tool was called."""
    space = ActionSpace(["red", "blue"])
    decision = MessageParser()(AIMessage(content="Blue has the highest UCB, so I choose blue.\nACTION=red"), space)
    assert decision.action == "red"
    assert decision.rationale_action == "blue"
    assert decision.format == "action_eq"
    assert isinstance(decision.raw, AIMessage)


def test_text_and_dicts_go_to_the_core_parser() -> None:
    """A plain string (a text runnable's output) is parsed like guardrail.parse would."""
    assert MessageParser()("ACTION=send_email", SPACE).action == "send_email"
    assert MessageParser()({"action": "search_docs"}, SPACE).action == "search_docs"


def test_answer_action_names_a_direct_answer() -> None:
    """With answer_action, a message calling no tool and naming no action counts as that action."""
    space = ActionSpace(["search_docs", "final_answer"])
    decision = MessageParser(answer_action="final_answer")(AIMessage(content="Install it with pip."), space)
    assert decision.action == "final_answer"
    assert MessageParser()(AIMessage(content="Install it with pip."), space).action is None


def test_tool_action_space_and_schemas_come_from_the_tools(tools: list[BaseTool]) -> None:
    """Tool names are the actions; the argument schemas are kept by name."""
    assert tool_action_space(tools, extra=["final_answer"]).names == ("search_docs", "send_email", "final_answer")
    schemas = tool_schemas(tools)
    assert schemas["send_email"]["required"] == ["to", "body"]


def test_tool_descriptions_become_action_descriptions_the_reader_grounds(tools: list[BaseTool]) -> None:
    """Each tool's description describes its action, so "look through the documentation" names search_docs."""
    space = tool_action_space(tools, extra=["final_answer"])
    assert space.descriptions == {"search_docs": "Search the documentation.", "send_email": "Send an email."}
    assert read_rationale("I'll look through the documentation first.", space).action == "search_docs"
    assert guard_for_tools(tools, answer_action="final_answer").actions.descriptions == space.descriptions


def test_bound_tools_are_found_on_a_binding_and_at_the_end_of_a_sequence(tools: list[BaseTool]) -> None:
    """bind_tools' tools are found on the binding, also when it ends a chain; a bare model has none."""
    from langchain_core.prompts import ChatPromptTemplate

    model = ScriptedChatModel.script(["x"])
    bound = model.bind_tools(tools)
    names = [t["function"]["name"] for t in bound_tools(bound) or []]
    assert names == ["search_docs", "send_email"]
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | bound
    assert bound_tools(chain) is not None
    assert bound_tools(model) is None


def _overridden(message: AIMessage, action: str) -> StepResult:
    """The step result of ``message`` with a policy that always overrides to ``action``."""

    def always(state: StepState) -> Override:
        return Override(action=action, reason="test")

    guard = Guard(SPACE, parser=MessageParser(), policies=[always], telemetry=MemorySink())
    return guard.step(ScriptedAgent([message]), "q")


def test_rewrite_renames_the_tool_call_keeping_its_id_and_compatible_arguments(tools: list[BaseTool]) -> None:
    """An override renames the first tool call; the id stays; args the new tool accepts stay."""
    message = AIMessage(
        content="x",
        tool_calls=[_call("send_email", {"query": "install"}, "call_1"), _call("send_email", {}, "call_2")],
        additional_kwargs={"tool_calls": [{"id": "call_1"}]},
    )
    rewritten = rewrite_message(message, _overridden(message, "search_docs"), schemas=tool_schemas(tools))
    assert isinstance(rewritten, AIMessage)
    assert rewritten.tool_calls[0] == _call("search_docs", {"query": "install"}, "call_1")
    assert rewritten.tool_calls[1]["name"] == "send_email"
    assert "tool_calls" not in rewritten.additional_kwargs
    assert rewritten.response_metadata["guardrail"]["action"] == "search_docs"
    assert rewritten.response_metadata["guardrail"]["intervened"] is True


def test_rewrite_never_writes_a_call_missing_the_new_tools_required_arguments(tools: list[BaseTool]) -> None:
    """search_docs needs a query the send_email call lacks: the call is kept and the summary says why."""
    message = AIMessage(content="x", tool_calls=[_call("send_email", {"to": "a", "body": "b"}, "call_1")])
    result = _overridden(message, "search_docs")
    rewritten = rewrite_message(message, result, schemas=tool_schemas(tools))
    assert isinstance(rewritten, AIMessage)
    assert rewritten.tool_calls == [_call("send_email", {"to": "a", "body": "b"}, "call_1")]
    assert "missing required argument 'query'" in rewritten.response_metadata["guardrail"]["kept_call"]
    without_schemas = rewrite_message(message, result)
    assert isinstance(without_schemas, AIMessage)
    assert without_schemas.tool_calls[0]["args"] == {}  # no schema to check: no arguments carried over


def test_rewrite_adds_a_tool_call_to_a_tool_only_when_the_action_is_a_tool(tools: list[BaseTool]) -> None:
    """A message without tool calls gets one (new id) when the action is a known tool needing no argument; text
    stays text; a tool that needs arguments is not called."""
    message = AIMessage(content="I should call search_docs.")
    result = _overridden(message, "search_docs")
    no_args = {**tool_schemas(tools), "search_docs": {"type": "object", "properties": {}}}
    with_tool = rewrite_message(message, result, schemas=no_args)
    assert isinstance(with_tool, AIMessage)
    assert with_tool.tool_calls[0]["name"] == "search_docs"
    needs_query = rewrite_message(message, result, schemas=tool_schemas(tools))
    assert isinstance(needs_query, AIMessage)
    assert needs_query.tool_calls == []
    assert str(with_tool.tool_calls[0]["id"]).startswith("guardrail_")
    text_only = rewrite_message(message, result)
    assert isinstance(text_only, AIMessage)
    assert text_only.tool_calls == []
    assert text_only.content == message.content


def test_reask_answers_every_tool_call_id_and_keeps_only_the_latest_failed_answer() -> None:
    """A re-ask is the original messages, the last answer, and one ToolMessage per call id with the feedback."""
    original = [SystemMessage(content="You are helpful."), HumanMessage(content="q")]
    answer = AIMessage(content="x", tool_calls=[_call("send_email", {}, "c1"), _call("search_docs", {}, "c2")])
    messages = MessagesPrompter().reask(original, answer, "Use search_docs.")
    assert messages[:3] == [*original, answer]
    tool_messages = messages[3:]
    assert [m.tool_call_id for m in tool_messages] == ["c1", "c2"]
    assert all(isinstance(m, ToolMessage) and "Use search_docs." in str(m.content) for m in tool_messages)
    follow = MessagesPrompter(follow_up=True).reask(original, answer, "Use search_docs.")
    assert isinstance(follow[-1], HumanMessage)


def test_reask_of_a_text_answer_is_a_human_message_and_text_stays_text() -> None:
    """Without tool calls the feedback is a HumanMessage; text in and text out uses the plain-text prompt."""
    messages = MessagesPrompter().reask("q", AIMessage(content="ACTION=red"), "Choose blue.")
    assert [type(m).__name__ for m in messages] == ["HumanMessage", "AIMessage", "HumanMessage"]
    assert isinstance(MessagesPrompter().reask("q", "ACTION=red", "Choose blue."), str)
    prompt_value = ChatPromptValue(messages=[HumanMessage(content="q")])
    assert len(MessagesPrompter().reask(prompt_value, AIMessage(content="a"), "f")) == 3


def test_reask_of_a_dict_input_is_a_clear_error() -> None:
    """A dict input cannot take appended messages: the error says to guard the chat model instead."""
    with pytest.raises(InvalidInputError, match="guard the chat model"):
        MessagesPrompter().reask({"question": "q"}, AIMessage(content="a"), "f")


def test_annotate_adds_the_note_to_the_last_human_message() -> None:
    """A note joins the last human message, or is appended as a new one after a tool message."""
    annotated = MessagesPrompter().annotate([HumanMessage(content="q")], "counts: red 2")
    assert annotated == [HumanMessage(content="q\n\ncounts: red 2")]
    after_tool = MessagesPrompter().annotate([HumanMessage(content="q"), AIMessage(content="a")], "n")
    assert after_tool[-1] == HumanMessage(content="n")


def test_adapt_guard_copies_a_text_guard_and_leaves_the_original_alone() -> None:
    """A guard without a parser gets a message-reading copy sharing its history and telemetry."""
    sink = MemorySink()
    plain = Guard(SPACE, policies=[OverrideToRationale()], telemetry=sink)
    adapted = adapt_guard(plain)
    assert adapted is not plain
    assert plain.parser is None
    assert isinstance(adapted.parser, MessageParser)
    assert isinstance(adapted.prompter, MessagesPrompter)
    assert adapted.history is plain.history
    assert adapted.telemetry is plain.telemetry
    ready = guard_for_tools(actions=SPACE)
    assert adapt_guard(ready) is ready


def test_guard_for_tools_adds_the_answer_action_and_checks_its_inputs(tools: list[BaseTool]) -> None:
    """answer_action joins the tool actions; a guard needs tools or actions."""
    guard = guard_for_tools(tools, answer_action="final_answer")
    assert guard.actions.names == ("search_docs", "send_email", "final_answer")
    assert guard_for_tools(actions=["a"], answer_action="done").actions.names == ("a", "done")
    with pytest.raises(ConfigurationError):
        guard_for_tools()
    with pytest.raises(ConfigurationError):
        guard_for_tools(tools, answer_action="x", parser=MessageParser(answer_action="y"))
