"""JudgeReader over scripted chat models: the question sent, constrained and free answers, failures, the cascade."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatResult
from pydantic import Field

from guardrail import ActionSpace, CascadeReader, CascadeStats, LexicalReader, MemorySink, StepEvent
from guardrail.exceptions import ConfigurationError
from guardrail.rationale import NO_READING
from guardrail_langchain import JUDGE_TOOL, JudgeReader, guard_for_tools, guard_runnable
from guardrail_langchain.testing import ScriptedChatModel, tool_answer

TOOLS = ActionSpace(
    ["search_docs", "send_email"],
    descriptions={"search_docs": "Search the product documentation.", "send_email": "Email a customer."},
)
VAGUE = "The product documentation probably explains the install steps."  # names no tool


class RecordingModel(ScriptedChatModel):
    """A scripted tool-calling model that also records the keyword arguments of every call."""

    options: list[dict[str, Any]] = Field(default_factory=list)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.options.append(kwargs)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


class FailingModel(GenericFakeChatModel):
    """A chat model whose every call fails as a network error would."""

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise ConnectionError("the model server is down")


def answered(*answers: AIMessage | str) -> RecordingModel:
    return RecordingModel(messages=iter(list(answers)))


def call(action: Any) -> AIMessage:
    """The model's forced call of the judge's tool with ``action`` as its argument."""
    return tool_answer("", JUDGE_TOOL, {"action": action})


def failing() -> FailingModel:
    return FailingModel(messages=iter([]))


# --- the question -----------------------------------------------------------------------------------------------


def test_the_question_is_one_user_message_with_the_descriptions_and_one_forced_tool() -> None:
    """One human message (no system message: Gemma's format drops it) holding the actions with their descriptions
    and the rationale; one tool, forced, whose argument is an enum of the names and none; max_tokens sent."""
    model = answered(call("search_docs"))
    JudgeReader(model)(VAGUE, TOOLS)
    (messages,) = model.requests
    assert [type(message) for message in messages] == [HumanMessage]
    text = str(messages[0].content)
    assert "- search_docs: Search the product documentation." in text
    assert "- send_email: Email a customer." in text
    assert VAGUE in text
    assert "immediate next step" in text
    (options,) = model.options
    (tool,) = options["tools"]
    assert tool["function"]["name"] == JUDGE_TOOL
    assert tool["function"]["parameters"]["properties"]["action"]["enum"] == ["search_docs", "send_email", "none"]
    assert options["tool_choice"] == JUDGE_TOOL
    assert options["max_tokens"] == 16


def test_method_text_asks_for_a_plain_answer_without_tools() -> None:
    """method="text": no tool is bound, and the text answer is read."""
    model = answered("send_email")
    reading = JudgeReader(model, method="text", max_tokens=None)(VAGUE, TOOLS)
    assert reading.action == "send_email"
    (options,) = model.options
    assert "tools" not in options
    assert "max_tokens" not in options


def test_judge_calls_are_tagged_apart_from_the_agents() -> None:
    """Every call runs as ``guardrail_judge`` with the tag ``guardrail:judge``, so callbacks can tell them apart."""

    class Starts(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tags: list[list[str]] = []

        def on_chat_model_start(
            self,
            serialized: dict[str, Any],
            messages: list[list[BaseMessage]],
            *,
            run_id: UUID,
            tags: list[str] | None = None,
            **kwargs: Any,
        ) -> None:
            self.tags.append(list(tags or []))

    starts = Starts()
    JudgeReader(answered(call("none")), config={"callbacks": [starts], "tags": ["guardrail:judge"]})(VAGUE, TOOLS)
    assert starts.tags == [["guardrail:judge"]]
    assert JudgeReader(answered()).config == {"run_name": "guardrail_judge", "tags": ["guardrail:judge"]}


# --- answers ----------------------------------------------------------------------------------------------------


def test_a_forced_tool_call_is_read_as_the_action_with_the_judges_confidence() -> None:
    """The model calls the judge's tool with a legal name: that action, the configured confidence, one call."""
    reading = JudgeReader(answered(call("search_docs")), confidence=0.6)(VAGUE, TOOLS)
    assert (reading.action, reading.confidence, reading.judge_calls) == ("search_docs", 0.6, 1)
    assert reading.evidence == "judge (RecordingModel)"


def test_a_model_without_tool_calling_answers_in_text_read_by_resolve() -> None:
    """GenericFakeChatModel has no bind_tools: the judge falls back to text, and "`Send_Email`." resolves."""
    reading = JudgeReader(GenericFakeChatModel(messages=iter(["`Send_Email`."])))(VAGUE, TOOLS)
    assert reading.action == "send_email"


def test_a_model_answering_text_despite_the_tool_is_read_from_its_text() -> None:
    """A provider that ignores tool_choice and writes the name (or JSON) in text is still read."""
    assert JudgeReader(answered('{"action": "search_docs"}'))(VAGUE, TOOLS).action == "search_docs"
    assert JudgeReader(answered("search_docs"))(VAGUE, TOOLS).action == "search_docs"


@pytest.mark.parametrize(
    "answer",
    [
        call("none"),
        call("teleport"),
        call(["search_docs"]),
        tool_answer("", JUDGE_TOOL, {"tool": "search_docs"}),
        tool_answer("", "some_other_tool", {"action": "search_docs"}),
        AIMessage(content="", invalid_tool_calls=[{"name": JUDGE_TOOL, "args": '{"action', "id": "c", "error": "x"}]),
        "none",
        "I am not sure, maybe search_docs or send_email.",
        "",
        "search_docs or send_email",
    ],
)
def test_none_and_garbage_answers_are_no_reading_never_an_exception(answer: AIMessage | str) -> None:
    """ "none", unknown names, two names, wrong arguments, broken JSON: no action (one call made), nothing raised."""
    reading = JudgeReader(answered(answer)).ask(VAGUE, TOOLS)
    assert (reading.action, reading.confidence, reading.judge_calls) == (None, 0.0, 1)


def test_an_invalid_tool_call_whose_arguments_name_an_action_is_read() -> None:
    """Arguments LangChain could not parse as JSON are read as text: a bare name still counts."""
    message = AIMessage(
        content="", invalid_tool_calls=[{"name": JUDGE_TOOL, "args": "search_docs", "id": "c", "error": "not JSON"}]
    )
    assert JudgeReader(answered(message))(VAGUE, TOOLS).action == "search_docs"


def test_a_blank_rationale_asks_nothing() -> None:
    """Nothing to judge: no model call, no reading."""
    model = answered()
    assert JudgeReader(model)("  ", TOOLS) == NO_READING
    assert model.requests == []


async def test_aread_asks_through_the_models_async_path() -> None:
    """The async read gives the same reading as the sync one."""
    reading = await JudgeReader(answered(call("send_email"))).aread(VAGUE, TOOLS)
    assert (reading.action, reading.judge_calls) == ("send_email", 1)


# --- failures ---------------------------------------------------------------------------------------------------


def test_a_failed_call_is_logged_and_read_as_no_reading(caplog: pytest.LogCaptureFixture) -> None:
    """On its own the judge never raises: a network error is a warning on its logger and no reading."""
    with caplog.at_level(logging.WARNING, logger="guardrail_langchain.judge"):
        reading = JudgeReader(failing())(VAGUE, TOOLS)
    assert (reading.action, reading.judge_calls) == (None, 1)
    assert "the model server is down" in caplog.text


async def test_a_failed_async_call_is_read_as_no_reading() -> None:
    """aread never raises either."""
    assert (await JudgeReader(failing()).aread(VAGUE, TOOLS)).action is None


def test_ask_raises_what_the_model_raised() -> None:
    """ask (the cascade's entry point) lets the model's error through, so the cascade can count it."""
    with pytest.raises(ConnectionError, match="down"):
        JudgeReader(failing()).ask(VAGUE, TOOLS)


async def test_aask_raises_what_the_model_raised() -> None:
    """aask lets the model's error through too."""
    with pytest.raises(ConnectionError, match="down"):
        await JudgeReader(failing()).aask(VAGUE, TOOLS)


# --- in a cascade -----------------------------------------------------------------------------------------------


def test_in_a_cascade_the_judge_reads_only_what_the_lexical_reader_abstains_on() -> None:
    """A rationale the lexical reader reads costs no model call; an abstained one is judged once, then cached."""
    model = answered(call("search_docs"))
    cascade = CascadeReader(LexicalReader(), JudgeReader(model))
    assert cascade("I will call send_email now.", TOOLS).action == "send_email"
    assert model.requests == []
    assert cascade(VAGUE, TOOLS).action == "search_docs"
    assert cascade(VAGUE, TOOLS).judge_calls == 0
    assert cascade.stats == CascadeStats(calls=1, cache_hits=1)


def test_in_a_cascade_a_failed_call_is_counted_as_an_error_and_not_cached() -> None:
    """The cascade calls ask: the network error is an error in its stats, and the next read asks again."""
    cascade = CascadeReader(LexicalReader(), JudgeReader(failing()))
    cascade(VAGUE, TOOLS)
    cascade(VAGUE, TOOLS)
    assert cascade.stats == CascadeStats(calls=2, errors=2)


async def test_in_a_cascade_the_async_read_awaits_the_judge() -> None:
    """CascadeReader.aread uses the judge's aask; a failure is counted the same way."""
    cascade = CascadeReader(LexicalReader(), JudgeReader(answered(call("send_email"))))
    assert (await cascade.aread(VAGUE, TOOLS)).action == "send_email"
    failed = CascadeReader(LexicalReader(), JudgeReader(failing()))
    await failed.aread(VAGUE, TOOLS)
    assert failed.stats == CascadeStats(calls=1, errors=1)


def test_a_guarded_run_flags_the_gap_the_judge_finds() -> None:
    """An agent whose rationale names no tool calls send_email; the judge reads search_docs: a knowing-doing gap."""
    agent = ScriptedChatModel.script([tool_answer(VAGUE, "send_email", {"to": "a", "body": "b"})])
    judge = answered(call("search_docs"))
    sink = MemorySink()
    guard = guard_for_tools(actions=TOOLS, reader=CascadeReader(LexicalReader(), JudgeReader(judge)), telemetry=sink)
    output = guard_runnable(agent, guard).step("How do I install it?")
    assert output.result.first_decision.rationale_action == "search_docs"
    (event,) = [event for event in sink.events if isinstance(event, StepEvent)]
    assert [finding.kind for finding in event.findings] == ["knowing_doing_gap"]
    assert event.agent_calls == 1  # the judge's call is not an agent call
    assert len(judge.requests) == 1


# --- configuration ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"confidence": 0.0}, "confidence"),
        ({"confidence": 1.2}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 8.0}, "max_tokens"),
        ({"method": "json"}, "method"),
        ({"max_chars": 0}, "max_chars"),
        ({"config": ["tags"]}, "config"),
    ],
)
def test_bad_options_are_configuration_errors_naming_the_value(options: dict[str, Any], named: str) -> None:
    """Every option is checked when the judge is built; the message names the option and the value."""
    with pytest.raises(ConfigurationError, match=named) as raised:
        JudgeReader(answered(), **options)
    assert repr(next(iter(options.values()))) in str(raised.value)


def test_the_model_must_be_a_chat_model() -> None:
    """A string or a plain function is not a model."""
    with pytest.raises(ConfigurationError, match="BaseChatModel"):
        JudgeReader("gpt-4o-mini")  # type: ignore[arg-type]


def test_judge_calls_are_counted_in_the_step_event_apart_from_agent_calls() -> None:
    """A guard reading rationales with a cascade logs its judge calls in ``judge_calls``, not in ``agent_calls``."""
    from guardrail import Guard
    from guardrail.testing import ScriptedAgent

    judge = JudgeReader(GenericFakeChatModel(messages=iter([AIMessage(content="blue")])))
    sink = MemorySink()
    guard = Guard(["red", "blue"], reader=CascadeReader(LexicalReader(), judge), telemetry=sink)
    guard.step(ScriptedAgent(["Hard to say which.\nACTION=red"]), "choose")
    (event,) = sink.steps
    assert (event.agent_calls, event.judge_calls, event.rationale_action) == (1, 1, "blue")
