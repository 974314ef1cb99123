"""GuardedInstructor against a scripted OpenAI-compatible endpoint (real openai + instructor, httpx2.MockTransport)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import tenacity
from instructor.core import Hooks, InstructorRetryException
from instructor_fakes import ScriptedChat, answer
from pydantic import BaseModel, ValidationError

from guardrail import (
    ContextSummary,
    Guard,
    JsonlSink,
    MemorySink,
    NoLegalActionError,
    OverrideToRationale,
    ReAsk,
    Reply,
    SelfConsistency,
    StepEvent,
    Usage,
    read_events,
)
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail.testing import capture_telemetry
from guardrail_instructor import (
    GuardedInstructor,
    MessagesPrompter,
    RejectedResponse,
    ResponseParser,
    adapt_guard,
    decision_model,
)

BLUE_RATIONALE = "Blue has the highest UCB, so I choose blue."
GAP = answer(BLUE_RATIONALE, "red")
FIXED = answer(BLUE_RATIONALE, "blue")
MESSAGES = [{"role": "user", "content": "Pick a button: red or blue."}]


def guarded(chat: ScriptedChat, guard: Guard, **options: Any) -> GuardedInstructor:
    return GuardedInstructor(chat.client(), guard, model="scripted", **options)


def test_a_consistent_answer_is_one_request_and_no_intervention() -> None:
    """The model agrees with itself: one request, the action as answered, usage recorded."""
    chat = ScriptedChat([FIXED])
    guard = Guard(["red", "blue"], policies=[OverrideToRationale()])
    with capture_telemetry(guard) as events:
        result = guarded(chat, guard).create(MESSAGES, episode="e1")
    assert result.action == "blue"
    assert not result.intervened
    assert len(chat.requests) == 1
    assert chat.requests[0]["response_format"] == {"type": "json_object"}
    assert result.decision.raw.action == "blue"
    (event,) = events
    assert (event.agent, event.final_action, event.input_tokens, event.output_tokens) == (
        "instructor:scripted",
        "blue",
        10,
        5,
    )


def test_a_gap_is_refused_by_the_validator_and_fixed_by_instructors_reask() -> None:
    """The first answer contradicts its rationale; instructor re-asks with the validator's error; the fix passes."""
    chat = ScriptedChat([GAP, FIXED])
    guard = Guard(["red", "blue"])
    result = guarded(chat, guard).create(MESSAGES, episode="e1")
    assert result.action == "blue"
    assert len(chat.requests) == 2
    retry = chat.last_user_message(1)
    assert "your rationale recommends 'blue'" in retry
    assert "but action is 'red'" in retry
    roles = [m["role"] for m in chat.requests[1]["messages"]]
    assert roles[-2:] == ["assistant", "user"]
    assert result.event.input_tokens == 20  # both requests' usage


def test_the_callers_messages_are_never_mutated() -> None:
    """Neither instructor's re-ask nor the guard's changes the list the caller passed."""
    chat = ScriptedChat([GAP, FIXED])
    messages = copy.deepcopy(MESSAGES)
    guarded(chat, Guard(["red", "blue"])).create(messages)
    assert messages == MESSAGES


def test_a_gap_instructor_gives_up_on_is_overridden_by_the_guard() -> None:
    """Retries exhausted: the last answer reaches the Guard as data, and OverrideToRationale corrects it."""
    chat = ScriptedChat([GAP, GAP])
    guard = Guard(["red", "blue"], policies=[OverrideToRationale()])
    result = guarded(chat, guard, max_retries=1).create(MESSAGES, episode="e1")
    assert result.action == "blue"
    assert len(chat.requests) == 2
    assert isinstance(result.decision.raw, RejectedResponse)
    assert "your rationale recommends 'blue'" in result.decision.raw.errors[-1]
    assert [f.kind for f in result.findings] == ["knowing_doing_gap"]
    (correction,) = result.corrections
    assert (correction.kind, correction.from_action, correction.to_action) == ("override", "red", "blue")


def test_without_the_validator_the_guard_overrides_at_once() -> None:
    """A model that does not check gaps lets the answer through; the Guard overrides it in the same request."""
    chat = ScriptedChat([GAP])
    guard = Guard(["red", "blue"], policies=[OverrideToRationale()])
    client = guarded(chat, guard, response_model=decision_model(["red", "blue"], check_gap=False))
    result = client.create(MESSAGES)
    assert (result.action, len(chat.requests)) == ("blue", 1)
    assert result.corrections[0].to_action == "blue"


def test_an_illegal_action_is_reasked_with_the_legal_actions_then_falls_back() -> None:
    """Every answer is illegal: instructor re-asks naming the legal actions, then the Guard's fallback decides."""
    chat = ScriptedChat([answer("I like purple.", "purple")] * 3)
    guard = Guard(["red", "blue"], fallback="random", seed=1)
    result = guarded(chat, guard, max_retries=2).create(MESSAGES)
    assert result.action in ("red", "blue")
    assert len(chat.requests) == 3
    assert "action must be exactly one of: red, blue" in chat.last_user_message(1)
    assert result.decision.action is None
    assert result.decision.raw_action == "purple"
    assert [c.kind for c in result.corrections] == ["fallback"]
    assert "invalid_action" in {f.kind for f in result.findings}


def test_an_illegal_action_with_fallback_raise_is_a_clear_error() -> None:
    """fallback="raise": NoLegalActionError carries the rejected answer; the event is written first."""
    chat = ScriptedChat([answer("I like purple.", "purple")] * 2)
    sink = MemorySink()
    guard = Guard(["red", "blue"], telemetry=sink)
    with pytest.raises(NoLegalActionError) as caught:
        guarded(chat, guard, max_retries=1).create(MESSAGES)
    assert isinstance(caught.value.last_output, RejectedResponse)
    assert "purple" in caught.value.last_output.content
    (event,) = [e for e in sink.events if isinstance(e, StepEvent)]
    assert event.status == "no_legal_action"


def test_text_the_model_wrote_instead_of_json_is_still_read() -> None:
    """A non-JSON last answer is parsed by the text formats (here ACTION=...)."""
    chat = ScriptedChat(["I think blue is best.\nACTION=blue"] * 2)
    result = guarded(chat, Guard(["red", "blue"]), max_retries=1).create(MESSAGES)
    assert result.action == "blue"
    assert result.decision.format == "action_eq"


def test_an_answer_cut_off_at_the_token_limit_is_data_not_a_crash() -> None:
    """finish_reason=length: instructor raises IncompleteOutputException; the Guard sees no action and falls back."""
    chat = ScriptedChat(['{"rationale": "Blue has the hig'], finish_reason="length")
    guard = Guard(["red", "blue"], fallback="red")
    result = guarded(chat, guard).create(MESSAGES)
    assert result.action == "red"
    assert isinstance(result.decision.raw, RejectedResponse)
    assert "cut off" in result.decision.raw.errors[-1]


def test_telemetry_is_written_to_jsonl(tmp_path: Path) -> None:
    """The step event lands in the guard's JSONL file with the finding and the correction."""
    path = tmp_path / "events.jsonl"
    chat = ScriptedChat([GAP])
    guard = Guard(["red", "blue"], policies=[OverrideToRationale()], telemetry=JsonlSink(path))
    client = guarded(chat, guard, response_model=decision_model(["red", "blue"], check_gap=False))
    client.create(MESSAGES, episode="e7")
    guard.close()
    (event,) = [e for e in read_events(path) if isinstance(e, StepEvent)]
    assert (event.episode, event.parsed_action, event.final_action) == ("e7", "red", "blue")
    assert event.rationale_action == "blue"
    assert [f.kind for f in event.findings] == ["knowing_doing_gap"]


def test_instructors_retries_count_as_agent_calls() -> None:
    """Two instructor requests inside one agent invocation: the step and its event count 2 calls."""
    chat = ScriptedChat([GAP, FIXED])
    result = guarded(chat, Guard(["red", "blue"])).create(MESSAGES)
    assert result.agent_calls == len(chat.requests) == 2
    assert result.event.agent_calls == 2


def test_the_reply_reports_every_request_and_their_usage() -> None:
    """The per-call hooks count all of instructor's requests and sum their token usage into one Reply."""
    chat = ScriptedChat([GAP, GAP, FIXED])
    client = guarded(chat, Guard(["red", "blue"]), max_retries=2)
    agent = client._call(response_model=None, max_retries=None, options={}, is_async=False)
    reply = agent(MESSAGES)
    assert isinstance(reply, Reply)
    assert (reply.calls, len(chat.requests)) == (3, 3)
    assert reply.usage == Usage(input_tokens=30, output_tokens=15)


@pytest.mark.parametrize(("max_retries", "requests"), [(0, 1), (1, 2), (3, 4)])
def test_max_retries_as_an_int_bounds_instructors_requests(max_retries: int, requests: int) -> None:
    """An int is instructor's retries after the first attempt."""
    chat = ScriptedChat([GAP] * 5)
    guarded(chat, Guard(["red", "blue"], fallback="random", seed=0), max_retries=max_retries).create(MESSAGES)
    assert len(chat.requests) == requests


def test_max_retries_as_a_tenacity_retrying_passes_through() -> None:
    """A tenacity Retrying decides instructor's retries; a fresh copy per request leaves the caller's untouched."""
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(3),
        retry=tenacity.retry_if_exception_type(ValidationError),
        reraise=True,
    )
    chat = ScriptedChat([GAP, GAP, FIXED, GAP, FIXED])
    client = guarded(chat, Guard(["red", "blue"]), max_retries=retrying)
    assert client.create(MESSAGES).action == "blue"
    assert len(chat.requests) == 3
    assert client.create(MESSAGES, max_retries=retrying).action == "blue"  # per call, and reusable
    assert len(chat.requests) == 5


def test_a_retrying_without_reraise_still_recovers_the_last_answer() -> None:
    """tenacity's RetryError (reraise=False) is still a validation give-up: the Guard gets the answer."""
    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(2))
    chat = ScriptedChat([GAP, GAP])
    guard = Guard(["red", "blue"], policies=[OverrideToRationale()])
    assert guarded(chat, guard, max_retries=retrying).create(MESSAGES).action == "blue"


async def test_acreate_with_an_async_client_and_async_retrying() -> None:
    """The async twin: AsyncInstructor, AsyncRetrying, a gap fixed by instructor's re-ask."""
    chat = ScriptedChat([GAP, FIXED])
    retrying = tenacity.AsyncRetrying(stop=tenacity.stop_after_attempt(2), reraise=True)
    guard = Guard(["red", "blue"])
    client = GuardedInstructor(chat.async_client(), guard, model="scripted", max_retries=retrying)
    assert client.is_async
    with capture_telemetry(guard) as events:
        result = await client.acreate(MESSAGES, episode="a1")
    assert result.action == "blue"
    assert "your rationale recommends 'blue'" in chat.last_user_message(1)
    assert events[0].episode == "a1"


async def test_acreate_overrides_a_gap_instructor_gave_up_on() -> None:
    """Async: exhaustion becomes a RejectedResponse and the Guard's override, as in sync."""
    chat = ScriptedChat([GAP, GAP])
    guard = Guard(["red", "blue"], policies=[OverrideToRationale()])
    client = GuardedInstructor(chat.async_client(), guard, model="scripted", max_retries=1)
    result = await client.acreate(MESSAGES)
    assert (result.action, len(chat.requests)) == ("blue", 2)


async def test_acreate_with_a_sync_client_runs_it_in_a_thread() -> None:
    """A sync client still works from async code."""
    chat = ScriptedChat([FIXED])
    assert (await guarded(chat, Guard(["red", "blue"])).acreate(MESSAGES)).action == "blue"


def test_a_guard_level_reask_appends_the_answer_and_the_feedback_as_messages() -> None:
    """The Guard's ReAsk calls create again with the original messages, the failed answer and its feedback."""
    chat = ScriptedChat([GAP, FIXED])
    guard = Guard(["red", "blue"], policies=[ReAsk(max_attempts=2)])
    client = guarded(chat, guard, response_model=decision_model(["red", "blue"], check_gap=False))
    result = client.create(MESSAGES)
    assert result.action == "blue"
    assert [c.kind for c in result.corrections] == ["reask"]
    messages = chat.requests[1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == MESSAGES[0]["content"]
    assert '"action":"red"' in messages[2]["content"]
    assert "Your reasoning recommends 'blue'" in messages[3]["content"]


def test_self_consistency_samples_through_create() -> None:
    """SelfConsistency asks create() again with the same messages and votes."""
    chat = ScriptedChat([GAP, FIXED, FIXED])
    guard = Guard(["red", "blue"], policies=[SelfConsistency(samples=3)])
    client = guarded(chat, guard, response_model=decision_model(["red", "blue"], check_gap=False))
    result = client.create(MESSAGES)
    assert result.action == "blue"
    assert len(chat.requests) == 3
    assert result.corrections[0].kind == "vote"


def test_a_context_summary_is_added_to_the_last_user_message() -> None:
    """Notes go through MessagesPrompter.annotate: appended to the last user message."""
    chat = ScriptedChat([FIXED, FIXED])
    guard = Guard(["red", "blue"], policies=[ContextSummary()])
    client = guarded(chat, guard)
    client.create(MESSAGES, episode="s")
    client.create(MESSAGES, episode="s", reward=1.0)
    assert "Summary of your history so far" in chat.last_user_message(1)
    assert MESSAGES[0]["content"] in chat.last_user_message(1)


def test_an_api_error_is_raised_and_recorded() -> None:
    """A failure that is not about the answer is raised unchanged (the agent_error event is written first)."""
    chat = ScriptedChat([500])
    sink = MemorySink()
    guard = Guard(["red", "blue"], telemetry=sink)
    with pytest.raises(InstructorRetryException):
        guarded(chat, guard).create(MESSAGES)
    (event,) = [e for e in sink.events if isinstance(e, StepEvent)]
    assert event.status == "agent_error"


def test_a_custom_response_model_is_read_by_the_core_parser() -> None:
    """Any pydantic model with action/rationale fields works; the Guard reads it with guardrail.parse."""

    class Move(BaseModel):
        reasoning: str
        action: str

    chat = ScriptedChat([{"reasoning": BLUE_RATIONALE, "action": "red"}])
    guard = Guard(["red", "blue"], policies=[OverrideToRationale()])
    result = guarded(chat, guard, response_model=Move).create(MESSAGES)
    assert result.action == "blue"


def test_adapt_guard_keeps_a_configured_guard_and_copies_a_plain_one() -> None:
    """A plain guard gets the instructor parser and prompter in a copy sharing history; the original is unchanged."""
    plain = Guard(["red", "blue"])
    adapted = adapt_guard(plain)
    assert adapted is not plain
    assert isinstance(adapted.parser, ResponseParser)
    assert isinstance(adapted.prompter, MessagesPrompter)
    assert plain.parser is None
    assert adapted.history is plain.history
    assert adapted.telemetry is plain.telemetry
    ready = Guard(["red", "blue"], parser=ResponseParser(), prompter=MessagesPrompter())
    assert adapt_guard(ready) is ready


def test_misuse_is_reported_clearly() -> None:
    """Not an instructor client, mismatched Retrying, owned options, async misuse: clear errors."""
    chat = ScriptedChat([FIXED])
    guard = Guard(["red", "blue"])
    with pytest.raises(ConfigurationError, match="instructor client"):
        GuardedInstructor(object(), guard)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="AsyncRetrying"):
        GuardedInstructor(chat.async_client(), guard, max_retries=tenacity.Retrying())
    with pytest.raises(ConfigurationError, match=r"Retrying\(\.\.\.\)"):
        GuardedInstructor(chat.client(), guard, max_retries=tenacity.AsyncRetrying())
    with pytest.raises(ConfigurationError, match="max_retries"):
        GuardedInstructor(chat.client(), guard, max_retries=-1)
    with pytest.raises(ConfigurationError, match="response_model"):
        GuardedInstructor(chat.client(), guard, response_model=dict)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="streaming"):
        GuardedInstructor(chat.client(), guard, stream=True)
    with pytest.raises(InvalidInputError, match="acreate"):
        GuardedInstructor(chat.async_client(), guard).create(MESSAGES)
    with pytest.raises(InvalidInputError, match="hooks"):
        guarded(chat, guard).create(MESSAGES, hooks=object())
    with pytest.raises(InvalidInputError, match="messages are arguments of create"):
        GuardedInstructor(chat.client(), guard, messages=[])
    with pytest.raises(InvalidInputError, match="list of chat messages"):
        guarded(chat, guard).create({"role": "user"})  # type: ignore[arg-type]
    assert chat.requests == []


def test_the_callers_own_instructor_hooks_still_fire() -> None:
    """hooks= given as an option is combined with the adapter's counting hooks, not replaced."""
    chat = ScriptedChat([GAP, FIXED])
    requests: list[object] = []
    hooks = Hooks()
    hooks.on("completion:kwargs", lambda *args, **kwargs: requests.append(kwargs.get("model")))
    result = guarded(chat, Guard(["red", "blue"]), hooks=hooks).create(MESSAGES)
    assert result.action == "blue"
    assert requests == ["scripted", "scripted"]
