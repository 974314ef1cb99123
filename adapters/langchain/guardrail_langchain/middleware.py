"""GuardrailMiddleware: the guard inside a LangChain v1 agent (``create_agent``).

Needs the ``agents`` extra (``pip install 'guardrail-langchain[agents]'``, which installs ``langchain``); the rest of
``guardrail_langchain`` works with ``langchain-core`` alone.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables.config import var_child_runnable_config

from guardrail import ActionSpace, Decision, Guard, StepResult
from guardrail.exceptions import ConfigurationError, InvalidInputError, LoopStopped, NoLegalActionError, SkipStep
from guardrail.history import CallHistoryStore
from guardrail_langchain._errors import MissingDependencyError
from guardrail_langchain._events import PASS_EVENT, adispatch_custom, adispatch_step, dispatch_custom, dispatch_step
from guardrail_langchain._guard import adapt_guard
from guardrail_langchain._messages import as_message, reply_of, rewrite_message, tool_schemas
from guardrail_langchain._runnable import episode_of

try:
    from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
except ImportError as error:  # pragma: no cover - exercised in a venv without langchain
    raise MissingDependencyError("langchain", "agents", "GuardrailMiddleware") from error

__all__ = ["GuardrailMiddleware"]

_LOG = logging.getLogger("guardrail_langchain")


class _PassThrough(SkipStep):
    """The model's first answer is not a step (a final answer: no tool call, no action): hand it back as it is."""

    def __init__(self, response: ModelResponse[Any]) -> None:
        super().__init__(response)
        self.response = response


@dataclass(eq=False)
class _Call:
    """One model call of the agent, as the guard runs it (kept in a context variable for the parser)."""

    calls: int = 0
    responses: dict[int, ModelResponse[Any]] = field(default_factory=dict)
    first: ModelResponse[Any] | None = None
    intent_only: bool = False  # the first answer would have passed, but for a rationale that commits to a tool

    def keep(self, response: ModelResponse[Any]) -> Any:
        self.calls += 1
        message = as_message(response)
        if message is None:  # no AIMessage at all: read as an empty answer
            message = AIMessage(content="")
            response = ModelResponse(result=[message], structured_response=response.structured_response)
        if self.calls == 1:
            self.first = response
        self.responses[id(message)] = response
        return reply_of(message)


_CURRENT: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("guardrail_langchain_call", default=None)


def _has_calls(message: BaseMessage) -> bool:
    return isinstance(message, AIMessage) and bool(message.tool_calls or message.invalid_tool_calls)


@dataclass(frozen=True, slots=True)
class _AgentParser:
    """Wraps the guard's parser: the first answer of a model call that is a final answer ends the step unguarded."""

    inner: Callable[[Any, ActionSpace], Decision]

    def __call__(self, raw: Any, actions: ActionSpace) -> Decision:
        decision = self.inner(raw, actions)
        call = _CURRENT.get()
        if call is not None and call.calls == 1 and call.first is not None:
            message = as_message(raw)
            plain = (
                message is not None
                and not _has_calls(message)
                and decision.action is None
                and decision.raw_action is None
            )
            # "Let me call X" with no call is guarded (intent), the rest of the plain answers pass
            if call.first.structured_response is not None or (plain and decision.rationale_action is None):
                raise _PassThrough(call.first)
            call.intent_only = plain
        return decision


def _observe(guard: Guard, messages: list[Any], episode: str) -> None:
    """Tell the guard what happened since the agent's last model call, for loop detection.

    A human message last is a new user turn (loop counters start again); otherwise the tool's answer to the first
    tool call of the latest AI message (the call the guard recorded) is that call's outcome.
    """
    if not messages or not isinstance(guard.history, CallHistoryStore):
        return
    if isinstance(messages[-1], HumanMessage):
        guard.new_user_message(episode)
        return
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, AIMessage):
            wanted = message.tool_calls[0].get("id") if message.tool_calls else None
            answer = next(
                (m for m in messages[index + 1 :] if isinstance(m, ToolMessage) and m.tool_call_id == wanted), None
            )
            if answer is not None:
                text = answer.content if isinstance(answer.content, str) else str(answer.content)
                failed = getattr(answer, "status", "success") == "error"
                with contextlib.suppress(InvalidInputError):  # recorded already, or not a guarded step's call
                    guard.record_outcome(episode, result=None if failed else text, error=text if failed else None)
            return


class GuardrailMiddleware(AgentMiddleware[AgentState[Any], Any, Any]):
    """Guards every model call of a LangChain v1 agent: parse, detect, re-ask, override, in one place.

    In ``wrap_model_call`` / ``awrap_model_call``: the model's ``AIMessage`` is read as a decision (the first tool
    call is the action), checked by the guard's detectors and corrected by its policies. A re-ask calls
    ``handler(request.override(messages=...))`` with the request's messages, the failed answer and the feedback
    (as ToolMessages, see :class:`~guardrail_langchain.MessagesPrompter`); an override renames the tool call,
    keeping its id. Only the final message enters the agent's state. Findings and the step are dispatched as the
    ``guardrail_finding`` / ``guardrail_step`` custom events.

    An answer that calls no tool, names no action and whose text commits to no tool (the agent's final answer) is
    passed through unguarded, so the agent can finish; give the guard an ``answer_action`` (see
    :func:`guard_for_tools`) to guard those too. A structured-output response is passed through as well. Such a
    pass is never silent: each one dispatches a ``guardrail_pass_through`` custom event and counts in
    ``unguarded_calls``, and when ``warn_after`` model calls in a row passed with no step, the
    ``guardrail_langchain`` logger warns once (the guard is probably seeing nothing: e.g. a model that never calls
    tools). A text answer whose rationale commits to a tool ("Let me call X") is guarded (unexecuted intent); if
    its step ends with no legal action, the step is recorded and the first answer is handed back, as before.

    The episode is ``config["configurable"]["episode"]``, else the run's ``thread_id``, else ``episode``.
    For loop detection (:class:`~guardrail.Loops`) each tool's answer to a guarded call is recorded as its outcome
    and a new human message resets the loop counters; when an :class:`~guardrail.Escalation` stops the agent
    (:class:`~guardrail.LoopStopped`), the agent ends with the stop message as its final answer.
    A re-ask is one model call to ``ModelCallLimitMiddleware`` (it counts agent-loop model turns); it is retried by
    a ``ModelRetryMiddleware`` placed after this one (inner), while one placed before it (outer) retries the whole
    guarded call, including when the guard raises ``NoLegalActionError`` (``fallback="raise"``).

    Args:
        guard: the guard; see :func:`guard_for_tools` to build one from the agent's tools.
        episode: the episode of runs without a thread id.
        warn_after: model calls in a row with no step before the one warning (None: never warn).
    """

    def __init__(self, guard: Guard, *, episode: str = "default", warn_after: int | None = 3) -> None:
        super().__init__()
        if not isinstance(cast(object, episode), str) or not episode:
            raise ConfigurationError(f"episode must be a non-empty string, got {episode!r}")
        if warn_after is not None and (
            isinstance(cast(object, warn_after), bool)
            or not isinstance(cast(object, warn_after), int)
            or warn_after < 1
        ):
            raise ConfigurationError(f"warn_after must be an integer >= 1 or None, got {warn_after!r}")
        self.warn_after = warn_after
        self.unguarded_calls = 0
        """Model calls passed through with no step (final answers, structured output), over the middleware's life."""
        self._since_step = 0
        self._warned = False
        self._count_lock = threading.Lock()
        adapted = adapt_guard(guard)
        if adapted.parser is None:  # pragma: no cover - adapt_guard always sets one
            raise ConfigurationError("the guard has no parser")
        self.guard = guard
        self._guard = adapted.replace(parser=_AgentParser(adapted.parser))
        self.episode = episode

    def __repr__(self) -> str:
        return f"GuardrailMiddleware({self.guard!r})"

    def _passed(self) -> dict[str, Any]:
        """Count one model call that passed with no step; warn once after ``warn_after`` in a row."""
        with self._count_lock:
            self.unguarded_calls += 1
            self._since_step += 1
            since, total = self._since_step, self.unguarded_calls
            warn = self.warn_after is not None and since >= self.warn_after and not self._warned
            self._warned = self._warned or warn
        if warn:
            _LOG.warning(
                "GuardrailMiddleware: %d model calls in a row passed with no guarded step (answers with no tool "
                "call and no action); the guard sees nothing. Give guard_for_tools an answer_action to guard such "
                "answers, or check that the model returns tool_calls. Further passes are counted in "
                "unguarded_calls and the guardrail_pass_through event.",
                since,
            )
        return {"unguarded_calls": total, "since_step": since}

    def _stepped(self) -> None:
        with self._count_lock:
            self._since_step = 0

    def _episode(self, request: ModelRequest[Any]) -> str:
        info = getattr(request.runtime, "execution_info", None)
        thread = getattr(info, "thread_id", None)
        default = str(thread) if thread else self.episode
        return episode_of(var_child_runnable_config.get(), default)

    def _schemas(self, request: ModelRequest[Any]) -> dict[str, dict[str, Any]]:
        tools = [t for t in request.tools if not isinstance(t, Mapping) or "function" in t or "name" in t]
        try:
            return tool_schemas(tools)
        except ConfigurationError:  # provider built-in tools without a name
            return {}

    def _final(self, request: ModelRequest[Any], call: _Call, result: StepResult) -> ModelResponse[Any]:
        raw = result.decision.raw
        response = call.responses[id(raw)]
        final = rewrite_message(raw, result, schemas=self._schemas(request))
        return ModelResponse(
            result=[final if message is raw else message for message in response.result],
            structured_response=response.structured_response,
        )

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        """Run the model call as one guarded step; see the class docstring."""
        call = _Call()

        def agent(messages: Any) -> Any:
            return call.keep(handler(request.override(messages=messages)))

        token = _CURRENT.set(call)
        episode = self._episode(request)
        try:
            _observe(self._guard, request.messages, episode)
            result = self._guard.step(agent, request.messages, episode=episode)
        except _PassThrough as passed:
            dispatch_custom(PASS_EVENT, self._passed(), None)
            return passed.response
        except LoopStopped as stopped:  # the step's event is written: end the agent with a final message
            return ModelResponse(result=[AIMessage(content=stopped.message)])
        except NoLegalActionError as error:
            self._stepped()
            dispatch_step(error, None)
            if call.intent_only and call.first is not None:  # a text answer is never turned into an error
                return call.first
            raise
        finally:
            _CURRENT.reset(token)
        self._stepped()
        dispatch_step(result, None)
        return self._final(request, call, result)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        """Async twin of :meth:`wrap_model_call`."""
        call = _Call()

        async def agent(messages: Any) -> Any:
            return call.keep(await handler(request.override(messages=messages)))

        token = _CURRENT.set(call)
        episode = self._episode(request)
        try:
            _observe(self._guard, request.messages, episode)
            result = await self._guard.astep(agent, request.messages, episode=episode)
        except _PassThrough as passed:
            await adispatch_custom(PASS_EVENT, self._passed(), None)
            return passed.response
        except LoopStopped as stopped:
            return ModelResponse(result=[AIMessage(content=stopped.message)])
        except NoLegalActionError as error:
            self._stepped()
            await adispatch_step(error, None)
            if call.intent_only and call.first is not None:  # a text answer is never turned into an error
                return call.first
            raise
        finally:
            _CURRENT.reset(token)
        self._stepped()
        await adispatch_step(result, None)
        return self._final(request, call, result)
