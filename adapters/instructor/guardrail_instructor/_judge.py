"""JudgeReader: an instructor client asked which action a rationale recommends, as a rationale reader.

It is meant for the place where the lexical reader abstains::

    from guardrail import CascadeReader, Guard, LexicalReader
    from guardrail_instructor import JudgeReader

    reader = CascadeReader(LexicalReader(), JudgeReader(client, model="gpt-4o-mini"), max_judge_calls=1000)
    guard = Guard(actions, reader=reader)

The model is sent one user message (:class:`guardrail.JudgeQuestion`: the actions with their descriptions, the
rationale, "which action does the rationale recommend as the immediate next step? one name or none") and its
answer is extracted into :func:`judge_model`: a pydantic model whose only field, ``action``, is a ``Literal`` of the
action names and "none". So the answer is constrained as far as the client's mode allows (``Mode.TOOLS`` forces
one function call with that enum, which llama.cpp turns into a grammar; ``Mode.JSON`` validates it), and spelling
variants ("Search_Docs") are resolved to the name before validation. An answer instructor could not validate
(after ``max_retries`` re-asks, 0 by default) or that was cut off at ``max_tokens`` is no reading: bad model output
is data, never an exception.

Errors: ``__call__`` and ``aread`` never raise; a failed request (network, provider, rate limit) is logged on the
``guardrail_instructor.judge`` logger and read as no reading. :class:`guardrail.CascadeReader` calls ``ask`` /
``aask`` instead, which raise instructor's exception, so that the cascade counts the failure (``stats.errors``) and
does not cache it as a verdict: the cascade is the layer that counts.

A sync client serves both paths (``aread`` runs the request on a thread); an async client serves only ``aread`` /
``aask`` (``ask`` raises :class:`~guardrail.InvalidInputError`, so a sync read through a cascade is an error).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Annotated, Any, Final, Literal, cast

from instructor import AsyncInstructor, Instructor
from instructor.core import Hooks, IncompleteOutputException, InstructorRetryException
from pydantic import BaseModel, BeforeValidator, Field, create_model

from guardrail import ActionSpace, JudgeBase, JudgeQuestion, RationaleReading
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail.rationale import NO_READING
from guardrail_instructor._client import _Attempts

__all__ = ["JudgeReader", "judge_model"]

_logger = logging.getLogger("guardrail_instructor.judge")
_OWNED: Final = ("messages", "response_model", "max_retries", "stream")
_MODELS_CACHED: Final = 256  # response models remembered, one per distinct set of answers


@functools.lru_cache(maxsize=_MODELS_CACHED)
def _cached_model(choices: tuple[str, ...]) -> type[BaseModel]:
    spelling = ActionSpace(choices)

    def canonical(value: object) -> object:
        return spelling.resolve(value) or value  # "Search_Docs" -> "search_docs"; anything else as it was

    literal: Any = cast(Any, Literal)[choices]
    return create_model(
        "RecommendedAction",
        __doc__="The action the rationale recommends as the immediate next step.",
        action=(
            Annotated[literal, BeforeValidator(canonical)],
            Field(description=f"Exactly one of: {', '.join(choices)}."),
        ),
    )


def judge_model(actions: ActionSpace) -> type[BaseModel]:
    """The response model of the judge's answer: one field, ``action``, a ``Literal`` of the names and "none".

    >>> Answer = judge_model(ActionSpace(["search_docs", "send_email"]))
    >>> Answer.model_json_schema()["properties"]["action"]["enum"]
    ['search_docs', 'send_email', 'none']
    >>> Answer.model_validate({"action": "Search_Docs"}).action
    'search_docs'
    """
    return _cached_model(JudgeQuestion("", actions).choices)


class JudgeReader(JudgeBase):
    """A :class:`~guardrail.RationaleReader` that asks through an instructor client (see the module docstring).

    Args:
        client: an ``instructor.Instructor`` (both paths) or ``instructor.AsyncInstructor`` (async path only).
        confidence: the confidence of every reading the judge gives (a judge has no graded confidence; the
            default, 0.7, is enough for the ``KnowingDoingGap`` detector but below ``OverrideToRationale``'s 0.8).
        max_tokens: sent as ``max_tokens`` with every request (None sends nothing); an answer is one short name.
        max_retries: instructor's re-asks after an answer that is not one of the names or "none".
        max_chars: the most characters of a rationale put in the prompt (its end: the conclusion).
        **create_options: passed to every ``create`` (``model``, ``temperature``, ``extra_body``, ``hooks``...).

    Raises:
        ConfigurationError: a bad argument (the message names it).
    """

    __slots__ = ("client", "create_options", "max_retries")
    logger = _logger

    def __init__(
        self,
        client: Instructor | AsyncInstructor,
        *,
        confidence: float = 0.7,
        max_tokens: int | None = 16,
        max_retries: int = 0,
        max_chars: int = 4000,
        **create_options: Any,
    ) -> None:
        if not isinstance(client, Instructor):
            raise ConfigurationError(
                f"client must be an instructor client, e.g. instructor.from_openai(OpenAI(...)); got {client!r}"
            )
        super().__init__(confidence=confidence, max_tokens=max_tokens, max_chars=max_chars)
        retries: object = max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"max_retries must be an integer >= 0; got {max_retries!r}")
        owned = [name for name in (*_OWNED, "max_tokens") if name in create_options]
        if owned:
            raise ConfigurationError(f"{', '.join(owned)} cannot be create_options of a JudgeReader")
        if "hooks" in create_options and not isinstance(create_options["hooks"], Hooks):
            raise ConfigurationError(f"hooks must be an instructor Hooks object; got {create_options['hooks']!r}")
        self.client = client
        self.max_retries = max_retries
        self.create_options = dict(create_options)

    def __repr__(self) -> str:
        model = self.create_options.get("model")
        return (
            f"JudgeReader({type(self.client).__name__}, model={model!r}, confidence={self.confidence!r}, "
            f"max_tokens={self.max_tokens!r}, max_retries={self.max_retries!r})"
        )

    @property
    def is_async(self) -> bool:
        """Whether the client is an ``AsyncInstructor`` (only the async path asks it)."""
        return isinstance(self.client, AsyncInstructor)

    def ask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Ask the model; raises what the request raised. Bad output is no reading, never an exception.

        Raises:
            InvalidInputError: the client is async (use :meth:`aask`).
        """
        if self.is_async:
            raise InvalidInputError("this judge's instructor client is async; read with `await judge.aread(...)`")
        question = self._question(rationale, actions)
        if question is None:
            return NO_READING
        attempts = _Attempts()
        try:
            answer = self.client.create(**self._request(question, attempts))
        except (InstructorRetryException, IncompleteOutputException) as error:
            return self._rejected(question, error, attempts)
        return self._reading(question, answer)

    async def aask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """:meth:`ask`, awaiting an async client (a sync client's request runs on a thread)."""
        if not self.is_async:
            return await asyncio.to_thread(self.ask, rationale, actions)
        question = self._question(rationale, actions)
        if question is None:
            return NO_READING
        attempts = _Attempts()
        client: Any = self.client  # AsyncInstructor.create is a coroutine function
        try:
            answer = await client.create(**self._request(question, attempts))
        except (InstructorRetryException, IncompleteOutputException) as error:
            return self._rejected(question, error, attempts)
        return self._reading(question, answer)

    # ----------------------------------------------------------------------------------------------------------

    def _question(self, rationale: object, actions: object) -> JudgeQuestion | None:
        if not isinstance(rationale, str) or not rationale.strip() or not isinstance(actions, ActionSpace):
            return None  # nothing to ask
        return JudgeQuestion(rationale, actions, max_chars=self.max_chars)

    def _request(self, question: JudgeQuestion, attempts: _Attempts) -> dict[str, Any]:
        options = dict(self.create_options)
        extra = options.pop("hooks", None)
        if self.max_tokens is not None:
            options["max_tokens"] = self.max_tokens
        return {
            **options,
            "response_model": _cached_model(question.choices),
            # the instructions go in the user message: some chat formats (Gemma's) drop system messages
            "messages": [{"role": "user", "content": question.prompt(json_answer=True)}],
            "max_retries": self.max_retries,
            "hooks": attempts.hooks(extra),
        }

    def _rejected(self, question: JudgeQuestion, error: Exception, attempts: _Attempts) -> RationaleReading:
        """No reading when the answer was bad (not valid, or cut off); the error again when the request failed."""
        if isinstance(error, IncompleteOutputException) or attempts.last_outcome == "parse_error":
            return question.read(None, confidence=self.confidence)
        raise error

    def _reading(self, question: JudgeQuestion, answer: object) -> RationaleReading:
        model = self.create_options.get("model")
        evidence = f"judge ({model if isinstance(model, str) else 'instructor'})"
        return question.read({"action": getattr(answer, "action", None)}, confidence=self.confidence, evidence=evidence)
