"""JudgeReader over a scripted OpenAI-compatible endpoint (real openai + instructor, httpx2.MockTransport)."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx2
import instructor
import openai
import pytest
from instructor_fakes import BASE_URL, ScriptedChat

from guardrail import ActionSpace, CascadeReader, CascadeStats, LexicalReader
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail.rationale import NO_READING
from guardrail_instructor import JudgeReader, judge_model

TOOLS = ActionSpace(
    ["search_docs", "send_email"],
    descriptions={"search_docs": "Search the product documentation.", "send_email": "Email a customer."},
)
VAGUE = "The product documentation probably explains the install steps."  # names no tool


def judge(chat: ScriptedChat, **options: Any) -> JudgeReader:
    return JudgeReader(chat.client(), model="scripted", **options)


def action(name: str) -> dict[str, str]:
    return {"action": name}


class ToolCallingChat(ScriptedChat):
    """Answers each request with a call of the requested tool whose arguments are the scripted JSON."""

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        response = super().handle(request)
        if response.status_code != 200:
            return response
        body = json.loads(response.content)
        message = body["choices"][0]["message"]
        name = self.requests[-1]["tool_choice"]["function"]["name"]
        message["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": message.pop("content")}}
        ]
        message["content"] = None
        body["choices"][0]["finish_reason"] = "tool_calls"
        return httpx2.Response(200, json=body)

    def tools_client(self) -> instructor.Instructor:
        transport = httpx2.MockTransport(self.handle)
        raw = openai.OpenAI(
            api_key="test", base_url=BASE_URL, max_retries=0, http_client=httpx2.Client(transport=transport)
        )
        return instructor.from_openai(raw, mode=instructor.Mode.TOOLS)


# --- the question -----------------------------------------------------------------------------------------------


def test_the_question_is_one_user_message_with_the_descriptions_and_max_tokens() -> None:
    """One user message (Gemma's chat format drops system messages) with the described actions, the rationale and
    the JSON shape of the answer; max_tokens and the create options are sent; instructor's schema rides along."""
    chat = ScriptedChat([action("search_docs")])
    judge(chat, temperature=0.0)(VAGUE, TOOLS)
    (body,) = chat.requests
    users = [m for m in body["messages"] if m["role"] == "user"]
    assert len(users) == 1
    text = users[0]["content"]
    assert "- search_docs: Search the product documentation." in text
    assert VAGUE in text
    assert "immediate next step" in text
    assert '{"action": "<one name from the list, or none>"}' in text
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("scripted", 16, 0.0)
    assert body["response_format"] == {"type": "json_object"}


def test_in_tools_mode_the_answer_is_one_forced_call_whose_argument_is_an_enum() -> None:
    """Mode.TOOLS: one tool, forced, with ``action`` an enum of the names and none; the call's argument is read."""
    chat = ToolCallingChat([action("send_email")])
    reading = JudgeReader(chat.tools_client(), model="scripted")(VAGUE, TOOLS)
    assert (reading.action, reading.confidence, reading.judge_calls) == ("send_email", 0.7, 1)
    (body,) = chat.requests
    (tool,) = body["tools"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": tool["function"]["name"]}}
    assert tool["function"]["parameters"]["properties"]["action"]["enum"] == ["search_docs", "send_email", "none"]


def test_the_response_model_is_a_literal_of_the_names_and_none_and_is_built_once() -> None:
    """judge_model: the enum the model is constrained to; spelling variants resolve; one class per set of answers."""
    model = judge_model(TOOLS)
    assert model.model_json_schema()["properties"]["action"]["enum"] == ["search_docs", "send_email", "none"]
    assert model.model_validate_json('{"action": "Send Email"}', strict=True).action == "send_email"  # type: ignore[attr-defined]
    assert judge_model(ActionSpace(["search_docs", "send_email"])) is model
    assert judge_model(ActionSpace(["None", "wait"])).model_json_schema()["properties"]["action"]["enum"] == [
        "None",
        "wait",
        "no_action",
    ]


# --- answers ----------------------------------------------------------------------------------------------------


def test_a_legal_answer_is_the_action_with_the_judges_confidence() -> None:
    """{"action": "search_docs"}: that action, the configured confidence, one judge call, the model as evidence."""
    reading = judge(ScriptedChat([action("search_docs")]), confidence=0.6)(VAGUE, TOOLS)
    assert (reading.action, reading.confidence, reading.judge_calls, reading.evidence) == (
        "search_docs",
        0.6,
        1,
        "judge (scripted)",
    )


def test_a_spelling_variant_is_resolved_before_validation() -> None:
    """ "Search_Docs" is the name search_docs (resolved as ActionSpace.resolve does), not an invalid answer."""
    assert judge(ScriptedChat([action("Search_Docs")]))(VAGUE, TOOLS).action == "search_docs"


def test_none_is_no_reading_from_one_call() -> None:
    """The judge sees no recommendation: no action, one call made."""
    reading = judge(ScriptedChat([action("none")]))(VAGUE, TOOLS)
    assert (reading.action, reading.confidence, reading.judge_calls) == (None, 0.0, 1)


@pytest.mark.parametrize(
    "reply",
    [action("teleport"), {"tool": "search_docs"}, "search_docs", "not json at all", {"action": ["search_docs"]}],
)
def test_garbage_answers_are_no_reading_never_an_exception(reply: str | dict[str, Any]) -> None:
    """Unknown names, wrong fields, text instead of JSON: instructor cannot validate it, and the judge reads no
    action (ask does not raise either: bad output is data)."""
    chat = ScriptedChat([reply])
    reading = judge(chat).ask(VAGUE, TOOLS)
    assert (reading.action, reading.judge_calls) == (None, 1)
    assert len(chat.requests) == 1  # max_retries=0: no re-ask by default


def test_with_max_retries_instructor_reasks_an_illegal_answer() -> None:
    """max_retries=1: the illegal answer is sent back with instructor's error; the legal second answer counts."""
    chat = ScriptedChat([action("teleport"), action("send_email")])
    assert judge(chat, max_retries=1)(VAGUE, TOOLS).action == "send_email"
    assert len(chat.requests) == 2
    assert "teleport" in chat.last_user_message(1)


def test_an_answer_cut_off_at_max_tokens_is_no_reading() -> None:
    """finish_reason=length (IncompleteOutputException) is bad output: no action, nothing raised."""
    chat = ScriptedChat([action("search_docs")], finish_reason="length")
    assert judge(chat).ask(VAGUE, TOOLS).action is None


def test_a_blank_rationale_asks_nothing() -> None:
    """Nothing to judge: no request."""
    chat = ScriptedChat([])
    assert judge(chat)("", TOOLS) == NO_READING
    assert chat.requests == []


# --- failures ---------------------------------------------------------------------------------------------------


def test_a_failed_request_is_logged_and_read_as_no_reading(caplog: pytest.LogCaptureFixture) -> None:
    """On its own the judge never raises: an HTTP 500 is a warning on its logger and no reading."""
    with caplog.at_level(logging.WARNING, logger="guardrail_instructor.judge"):
        reading = judge(ScriptedChat([500]))(VAGUE, TOOLS)
    assert (reading.action, reading.judge_calls) == (None, 1)
    assert "the judge's request failed" in caplog.text


def test_ask_raises_when_the_request_fails() -> None:
    """ask (the cascade's entry point) raises instructor's exception for a failed request, not for bad output."""
    with pytest.raises(instructor.core.InstructorRetryException):
        judge(ScriptedChat([500])).ask(VAGUE, TOOLS)


def test_in_a_cascade_a_failed_request_is_an_error_and_bad_output_a_cached_none() -> None:
    """The cascade counts the HTTP error (asked again next time) but caches the garbage answer as a verdict."""
    failing = CascadeReader(LexicalReader(), judge(ScriptedChat([500, 500])))
    failing(VAGUE, TOOLS)
    failing(VAGUE, TOOLS)
    assert failing.stats == CascadeStats(calls=2, errors=2)
    garbage = CascadeReader(LexicalReader(), judge(ScriptedChat([action("teleport")])))
    garbage(VAGUE, TOOLS)
    garbage(VAGUE, TOOLS)
    assert garbage.stats == CascadeStats(calls=1, cache_hits=1)


def test_in_a_cascade_the_judge_reads_only_what_the_lexical_reader_abstains_on() -> None:
    """A rationale naming its tool is read lexically (no request); the vague one is judged."""
    chat = ScriptedChat([action("search_docs")])
    cascade = CascadeReader(LexicalReader(), judge(chat))
    assert cascade("I will call send_email now.", TOOLS).action == "send_email"
    assert chat.requests == []
    assert cascade(VAGUE, TOOLS).action == "search_docs"
    assert len(chat.requests) == 1


# --- the async path ---------------------------------------------------------------------------------------------


async def test_an_async_client_is_awaited_by_aread_and_aask() -> None:
    """AsyncInstructor: aread and aask await the request."""
    chat = ScriptedChat([action("send_email"), action("search_docs")])
    reader = JudgeReader(chat.async_client(), model="scripted")
    assert reader.is_async
    assert (await reader.aread(VAGUE, TOOLS)).action == "send_email"
    assert (await reader.aask(VAGUE, TOOLS)).action == "search_docs"


def test_an_async_client_refuses_the_sync_path() -> None:
    """An async client cannot serve a sync read: ask raises InvalidInputError, __call__ gives no reading."""
    reader = JudgeReader(ScriptedChat([]).async_client(), model="scripted")
    with pytest.raises(InvalidInputError, match="aread"):
        reader.ask(VAGUE, TOOLS)
    assert reader(VAGUE, TOOLS).action is None


async def test_a_sync_client_serves_aread_on_a_thread() -> None:
    """A sync client: aread runs the request on a thread and gives the same reading."""
    assert (await judge(ScriptedChat([action("search_docs")])).aread(VAGUE, TOOLS)).action == "search_docs"


async def test_in_a_cascade_an_async_failure_is_counted() -> None:
    """CascadeReader.aread awaits aask: an HTTP error is an error in the cascade's stats."""
    cascade = CascadeReader(LexicalReader(), JudgeReader(ScriptedChat([500]).async_client(), model="scripted"))
    assert (await cascade.aread(VAGUE, TOOLS)).action is None
    assert cascade.stats == CascadeStats(calls=1, errors=1)


# --- configuration ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"confidence": 0.0}, "confidence"),
        ({"confidence": "high"}, "confidence"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_chars": 0}, "max_chars"),
        ({"messages": []}, "messages"),
        ({"response_model": dict}, "response_model"),
        ({"hooks": "on"}, "hooks"),
    ],
)
def test_bad_options_are_configuration_errors_naming_them(options: dict[str, Any], named: str) -> None:
    """Every option is checked when the judge is built; the message names the bad one."""
    with pytest.raises(ConfigurationError, match=named):
        judge(ScriptedChat([]), **options)


def test_the_client_must_be_an_instructor_client() -> None:
    """A raw OpenAI client (not wrapped by instructor) is refused."""
    with pytest.raises(ConfigurationError, match="instructor client"):
        JudgeReader(openai.OpenAI(api_key="x", base_url=BASE_URL))  # type: ignore[arg-type]
