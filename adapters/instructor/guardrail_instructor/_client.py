"""GuardedInstructor: a Guard around ``instructor``'s ``create``, counting instructor's retries as agent calls.

One guarded step is one ``guard.step`` whose agent is one ``client.create(response_model=..., ...)``:

1. instructor calls the model; the response model's validators (see :func:`decision_model`) refuse an illegal
   action or a knowing-doing gap, and instructor re-asks with the validation error, up to ``max_retries`` times.
   Every request is counted through per-call instructor hooks (``completion:kwargs``; usage from
   ``completion:response``) and reported to the Guard as ``Reply(output, usage, calls=n)``.
2. When instructor gives up (retries exhausted on validation errors, or the output was cut off at the token
   limit), the last answer is not raised but handed to the Guard as a :class:`RejectedResponse`: bad model output
   is data. The Guard reads its rationale and action, so ``OverrideToRationale`` can still act on a gap, and an
   illegal action ends in the Guard's ``fallback`` (or :class:`~guardrail.NoLegalActionError`).
3. The Guard then runs its detectors and policies (override, exploration, self-consistency, ...) on the validated
   answer and writes telemetry.

A Guard-level :class:`~guardrail.ReAsk` composes with instructor's re-ask rather than replacing it: it fires only on
what reaches the Guard (after instructor's own retries), and it calls ``create`` again with the original messages,
the failed answer as an assistant message and its feedback as a user message (:class:`MessagesPrompter`); that
call has its own ``max_retries``. Prefer instructor's re-ask for gaps (cheaper: no second schema prompt) and keep
``ReAsk`` for policies instructor cannot see (e.g. response models without the gap validator).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import tenacity
from instructor import AsyncInstructor, Instructor
from instructor.core import Hooks, IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel

from guardrail import Guard, Reply, StepResult, Usage
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail_instructor._models import decision_model
from guardrail_instructor._parsing import RejectedResponse, ResponseParser, completion_text
from guardrail_instructor._prompter import MessagesPrompter, as_messages

__all__ = ["GuardedInstructor", "MaxRetries", "adapt_guard"]

MaxRetries = int | tenacity.Retrying | tenacity.AsyncRetrying
"""instructor's ``max_retries``: retries after the first attempt (an int), or a tenacity ``Retrying`` (sync client)
/ ``AsyncRetrying`` (async client) that decides on its own."""

_Outcome = Literal["request", "response", "error", "parse_error"]
_OWNED = ("messages", "response_model", "max_retries")


def adapt_guard(guard: Guard) -> Guard:
    """The guard itself when it already has a parser and a non-text prompter; otherwise a shallow copy of it that
    reads instructor answers (:class:`ResponseParser`) and re-asks with messages (:class:`MessagesPrompter`).

    The copy shares the guard's history, telemetry, policies and budget, so steps through it count in the same
    episodes and write to the same sinks; the guard you passed is not changed.

    Raises:
        ConfigurationError: ``guard`` is not a :class:`guardrail.Guard`.
    """
    if not isinstance(guard, Guard):
        raise ConfigurationError(f"expected a guardrail.Guard, got {guard!r}")
    return guard.adapted(parser=ResponseParser(reader=guard.reader, format=guard.format), prompter=MessagesPrompter())


class _Attempts:
    """One ``create`` call's requests, seen through instructor hooks registered for that call only."""

    def __init__(self) -> None:
        self.calls = 0
        self.errors: list[str] = []
        self.last_response: Any = None
        self.last_outcome: _Outcome | None = None
        self._input_tokens = 0
        self._output_tokens = 0
        self._has_usage = False

    def hooks(self, extra: Hooks | None = None) -> Hooks:
        hooks = Hooks()
        hooks.on("completion:kwargs", self._on_request)
        hooks.on("completion:response", self._on_response)
        hooks.on("completion:error", self._on_error)
        hooks.on("parse:error", self._on_parse_error)
        return hooks if extra is None else extra + hooks

    def _on_request(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        self.last_outcome = "request"

    def _on_response(self, response: Any) -> None:
        self.last_response = response
        self.last_outcome = "response"
        usage = getattr(response, "usage", None)
        if usage is None:
            return
        inputs = getattr(usage, "prompt_tokens", None)
        if inputs is None:
            inputs = getattr(usage, "input_tokens", None)
        outputs = getattr(usage, "completion_tokens", None)
        if outputs is None:
            outputs = getattr(usage, "output_tokens", None)
        if isinstance(inputs, int) and isinstance(outputs, int):
            self._input_tokens += inputs
            self._output_tokens += outputs
            self._has_usage = True

    def _on_error(self, error: Exception, **metadata: Any) -> None:
        self.last_outcome = "error"

    def _on_parse_error(self, error: Exception, **metadata: Any) -> None:
        self.errors.append(str(error))
        self.last_outcome = "parse_error"

    def usage(self) -> Usage | None:
        if not self._has_usage:
            return None
        return Usage(input_tokens=self._input_tokens, output_tokens=self._output_tokens)

    def reply(self, output: Any) -> Reply:
        """The agent's answer for the Guard: the output, the summed usage and how many requests it took."""
        return Reply(output=output, usage=self.usage(), calls=max(1, self.calls))

    def recover(self, error: Exception, response_model: type[BaseModel]) -> Reply | None:
        """The Guard's reply for an answer instructor gave up on; None when the error is not about the answer."""
        if isinstance(error, IncompleteOutputException):
            completion = error.last_completion if error.last_completion is not None else self.last_response
            reason = "the answer was cut off at the token limit (finish_reason=length)"
            errors = (*self.errors, reason)
        elif self.last_outcome == "parse_error" and self.last_response is not None:
            completion, errors = self.last_response, tuple(self.errors)
        else:
            return None
        rejected = RejectedResponse(
            content=completion_text(completion),
            errors=errors,
            response_model=response_model,
            completion=completion,
        )
        return self.reply(rejected)


def _check_retries(max_retries: object, *, is_async: bool) -> MaxRetries:
    if isinstance(max_retries, bool) or not isinstance(max_retries, (int, tenacity.BaseRetrying)):
        raise ConfigurationError(
            f"max_retries must be an int >= 0 or a tenacity Retrying/AsyncRetrying, got {max_retries!r}"
        )
    if isinstance(max_retries, int):
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be >= 0, got {max_retries}")
        return max_retries
    if is_async and not isinstance(max_retries, tenacity.AsyncRetrying):
        raise ConfigurationError("an async instructor client needs max_retries=tenacity.AsyncRetrying(...)")
    if not is_async and isinstance(max_retries, tenacity.AsyncRetrying):
        raise ConfigurationError("a sync instructor client needs max_retries=tenacity.Retrying(...)")
    if not isinstance(max_retries, (tenacity.Retrying, tenacity.AsyncRetrying)):
        raise ConfigurationError(f"max_retries must be a tenacity Retrying or AsyncRetrying, got {max_retries!r}")
    return max_retries


class _Call:
    """One instructor request as a guardrail agent: ``agent(messages) -> Reply``."""

    def __init__(
        self,
        client: Instructor,
        response_model: type[BaseModel],
        max_retries: MaxRetries,
        options: dict[str, Any],
    ) -> None:
        self.client = client
        self.response_model = response_model
        self.max_retries = max_retries
        self.options = options
        model = options.get("model")
        self.name = f"instructor:{model}" if isinstance(model, str) else "instructor"

    def request(self, prompt: Any, attempts: _Attempts) -> dict[str, Any]:
        retries = self.max_retries
        # A fresh copy per request, as tenacity's own decorator does: concurrent steps never share its state.
        fresh: MaxRetries = retries.copy() if isinstance(retries, tenacity.BaseRetrying) else retries
        options = dict(self.options)
        extra = options.pop("hooks", None)
        return {
            **options,
            "response_model": self.response_model,
            "messages": as_messages(prompt),
            "max_retries": fresh,
            "hooks": attempts.hooks(extra),
        }


class _SyncCall(_Call):
    def __call__(self, prompt: Any) -> Reply:
        attempts = _Attempts()
        try:
            output = self.client.create(**self.request(prompt, attempts))
        except (InstructorRetryException, IncompleteOutputException) as error:
            reply = attempts.recover(error, self.response_model)
            if reply is None:
                raise
            return reply
        return attempts.reply(output)


class _AsyncCall(_Call):
    async def __call__(self, prompt: Any) -> Reply:
        attempts = _Attempts()
        client: Any = self.client  # AsyncInstructor.create is a coroutine function
        try:
            output = await client.create(**self.request(prompt, attempts))
        except (InstructorRetryException, IncompleteOutputException) as error:
            reply = attempts.recover(error, self.response_model)
            if reply is None:
                raise
            return reply
        return attempts.reply(output)


class GuardedInstructor:
    """An instructor client whose every ``create`` is one guarded step.

    >>> import instructor, openai                                               # doctest: +SKIP
    >>> client = instructor.from_openai(openai.OpenAI(), mode=instructor.Mode.JSON)  # doctest: +SKIP
    >>> guard = Guard(["red", "blue"], policies=[OverrideToRationale()])      # doctest: +SKIP
    >>> guarded = GuardedInstructor(client, guard, model="gpt-4o-mini")       # doctest: +SKIP
    >>> guarded.create(messages=[{"role": "user", "content": "Pick a button."}], episode="e1").action  # doctest: +SKIP
    'blue'

    Args:
        client: an ``instructor.Instructor`` or ``instructor.AsyncInstructor`` (e.g. ``instructor.from_openai``).
        guard: the Guard; used through :func:`adapt_guard` (history and telemetry shared, never modified).
        response_model: the model to extract (default: ``decision_model(guard)``: rationale + Literal action,
            refusing gaps and illegal actions so instructor re-asks).
        max_retries: instructor's ``max_retries``: an int, or a tenacity ``Retrying`` (sync client) /
            ``AsyncRetrying`` (async client), passed to instructor as is (a fresh ``copy()`` per request).
        **create_options: passed to every ``create`` (``model``, ``temperature``, ``max_tokens``, ``context``,
            ``hooks``...); a call's own keyword arguments win.

    Raises:
        ConfigurationError: not an instructor client, not a Guard, a bad ``response_model`` or ``max_retries``.
    """

    def __init__(
        self,
        client: Instructor | AsyncInstructor,
        guard: Guard,
        *,
        response_model: type[BaseModel] | None = None,
        max_retries: MaxRetries = 2,
        **create_options: Any,
    ) -> None:
        if not isinstance(client, Instructor):
            raise ConfigurationError(
                f"GuardedInstructor needs an instructor client, got {type(client).__name__}; wrap it first, e.g. "
                "instructor.from_openai(OpenAI(...), mode=instructor.Mode.JSON)"
            )
        self.client = client
        self.guard = adapt_guard(guard)
        self.response_model = self._check_model(response_model) if response_model is not None else decision_model(guard)
        self.max_retries = _check_retries(max_retries, is_async=self.is_async)
        self.create_options = self._check_options(create_options)

    @property
    def is_async(self) -> bool:
        """Whether the client is an ``AsyncInstructor`` (use :meth:`acreate`)."""
        return isinstance(self.client, AsyncInstructor)

    @staticmethod
    def _check_model(response_model: object) -> type[BaseModel]:
        if not (isinstance(response_model, type) and issubclass(response_model, BaseModel)):
            raise ConfigurationError(f"response_model must be a pydantic model class, got {response_model!r}")
        return response_model

    @staticmethod
    def _check_options(options: Mapping[str, Any]) -> dict[str, Any]:
        owned = [name for name in _OWNED if name in options]
        if owned:
            raise InvalidInputError(f"{', '.join(owned)} are arguments of create(), not extra options")
        if "hooks" in options and not isinstance(options["hooks"], Hooks):
            raise InvalidInputError(f"hooks must be an instructor Hooks object, got {options['hooks']!r}")
        if options.get("stream"):
            raise InvalidInputError("streaming is not supported by GuardedInstructor: a step needs the whole answer")
        return dict(options)

    def _call(
        self,
        *,
        response_model: type[BaseModel] | None,
        max_retries: MaxRetries | None,
        options: Mapping[str, Any],
        is_async: bool,
    ) -> _SyncCall | _AsyncCall:
        model = self.response_model if response_model is None else self._check_model(response_model)
        retries = self.max_retries if max_retries is None else _check_retries(max_retries, is_async=self.is_async)
        merged = {**self.create_options, **self._check_options(options)}
        if is_async:
            return _AsyncCall(self.client, model, retries, merged)
        return _SyncCall(self.client, model, retries, merged)

    def create(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        episode: str = "default",
        reward: float | None = None,
        response_model: type[BaseModel] | None = None,
        max_retries: MaxRetries | None = None,
        **options: Any,
    ) -> StepResult:
        """Guard one step: call the model through instructor, then detect, correct and record.

        Args:
            messages: the chat messages (a string is one user message); never mutated.
            episode: which conversation or task this step belongs to (the Guard's history is per episode).
            reward: the reward of this episode's previous step, if not recorded with ``guard.record_reward``.
            response_model: this call's model (default: the one given at construction).
            max_retries: this call's instructor retries (default: the one given at construction).
            **options: extra ``create`` arguments for this call (``temperature``, ``max_tokens``...).

        Returns:
            The :class:`~guardrail.StepResult`: ``result.action`` is the action to execute;
            ``result.decision.raw`` the validated response model instance (or a :class:`RejectedResponse`);
            ``result.agent_calls`` counts every request, instructor's retries included.

        Raises:
            NoLegalActionError: no legal action after every attempt and the guard's ``fallback="raise"``.
            InstructorRetryException: a request failed for another reason than the answer (e.g. the API).
            InvalidInputError: the client is async (use :meth:`acreate`), or bad messages.
        """
        if self.is_async:
            raise InvalidInputError("this instructor client is async; use `await guarded.acreate(...)`")
        agent = self._call(response_model=response_model, max_retries=max_retries, options=options, is_async=False)
        assert isinstance(agent, _SyncCall)
        return self.guard.step(agent, as_messages(messages), episode=episode, reward=reward)

    async def acreate(
        self,
        messages: str | Sequence[Mapping[str, Any]],
        *,
        episode: str = "default",
        reward: float | None = None,
        response_model: type[BaseModel] | None = None,
        max_retries: MaxRetries | None = None,
        **options: Any,
    ) -> StepResult:
        """The async twin of :meth:`create` (a sync client runs in a worker thread)."""
        agent = self._call(
            response_model=response_model, max_retries=max_retries, options=options, is_async=self.is_async
        )
        return await self.guard.astep(agent, as_messages(messages), episode=episode, reward=reward)

    def __repr__(self) -> str:
        return f"GuardedInstructor({self.guard!r}, response_model={self.response_model.__name__})"
