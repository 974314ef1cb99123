"""JudgeReader: a LangChain chat model asked which action a rationale recommends, as a rationale reader.

It is meant for the place where the lexical reader abstains::

    from guardrail import CascadeReader, Guard, LexicalReader
    from guardrail_langchain import JudgeReader

    reader = CascadeReader(LexicalReader(), JudgeReader(cheap_model), max_judge_calls=1000)
    guard = Guard(actions, reader=reader)

The model is sent one user message (:class:`guardrail.JudgeQuestion`: the actions with their descriptions, the
rationale, "which action does the rationale recommend as the immediate next step? one name or none"). With
``method="tools"`` (the default) the model is bound to one tool, ``recommended_action``, whose only argument is an
enum of the names and "none", and that tool is forced: a provider with native tool calling answers in JSON, and a
server with constrained decoding (llama.cpp's grammars) cannot answer anything else. A model without tool calling,
or ``method="text"``, answers in text, which is read by ``ActionSpace.resolve``. Either way, an answer naming no
single action ("none", garbage, two names) is no reading: bad model output is data, never an exception.

Errors: ``__call__`` and ``aread`` never raise; a failed model call (network, provider, rate limit) is logged on the
``guardrail_langchain.judge`` logger and read as no reading. :class:`guardrail.CascadeReader` calls ``ask`` /
``aask`` instead, which raise what the model raised, so that the cascade counts the failure (``stats.errors``) and
does not cache it as a verdict: the cascade is the layer that counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, Literal, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig

from guardrail import ActionSpace, JudgeBase, JudgeQuestion, RationaleReading
from guardrail.exceptions import ConfigurationError
from guardrail.rationale import NO_READING
from guardrail_langchain._messages import message_text

__all__ = ["JUDGE_TOOL", "JudgeMethod", "JudgeReader"]

JudgeMethod = Literal["tools", "text"]
"""How the judge asks for its answer: one forced tool call with an enum argument, or plain text."""

JUDGE_TOOL: Final = "recommended_action"
"""The name of the tool the judge's answer is a call of (``method="tools"``)."""

_logger = logging.getLogger("guardrail_langchain.judge")
_DEFAULT_CONFIG: Final[RunnableConfig] = {"run_name": "guardrail_judge", "tags": ["guardrail:judge"]}


class JudgeReader(JudgeBase):
    """A :class:`~guardrail.RationaleReader` that asks a LangChain chat model (see the module docstring).

    >>> from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    >>> from guardrail import ActionSpace
    >>> judge = JudgeReader(GenericFakeChatModel(messages=iter(["search_docs"])))
    >>> reading = judge("The docs should have it.", ActionSpace(["search_docs", "send_email"]))
    >>> (reading.action, reading.confidence, reading.judge_calls)
    ('search_docs', 0.7, 1)

    Args:
        model: the chat model; configure it for judging (a cheap model, temperature 0, a client timeout).
        confidence: the confidence of every reading the judge gives (a judge has no graded confidence; the
            default, 0.7, is enough for the ``KnowingDoingGap`` detector but below ``OverrideToRationale``'s 0.8).
        max_tokens: sent as ``max_tokens`` with every call (None sends nothing); an answer is one short name.
        method: ``"tools"`` (default; falls back to text for a model without ``bind_tools``) or ``"text"``.
        max_chars: the most characters of a rationale put in the prompt (its end: the conclusion).
        config: the ``RunnableConfig`` of every call (default: run name ``guardrail_judge``, tag
            ``guardrail:judge``, so traces and callbacks tell judge calls from the agent's).

    Raises:
        ConfigurationError: a bad argument (the message names it).
    """

    __slots__ = ("config", "method", "model")
    logger = _logger
    failure = "the judge's model call failed"

    def __init__(
        self,
        model: BaseChatModel,
        *,
        confidence: float = 0.7,
        max_tokens: int | None = 16,
        method: JudgeMethod = "tools",
        max_chars: int = 4000,
        config: RunnableConfig | None = None,
    ) -> None:
        if not isinstance(model, BaseChatModel):
            raise ConfigurationError(f"model must be a LangChain BaseChatModel; got {model!r}")
        super().__init__(confidence=confidence, max_tokens=max_tokens, max_chars=max_chars)
        if method not in ("tools", "text"):
            raise ConfigurationError(f"method must be 'tools' or 'text'; got {method!r}")
        if config is not None and not isinstance(config, Mapping):
            raise ConfigurationError(f"config must be a RunnableConfig (a mapping) or None; got {config!r}")
        self.model = model
        self.method: JudgeMethod = method
        self.config = cast(RunnableConfig, dict(config if config is not None else _DEFAULT_CONFIG))

    def __repr__(self) -> str:
        return (
            f"JudgeReader({type(self.model).__name__}, confidence={self.confidence!r}, "
            f"max_tokens={self.max_tokens!r}, method={self.method!r})"
        )

    def ask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Ask the model; raises what the model raised. Bad output is no reading, never an exception."""
        question = self._question(rationale, actions)
        if question is None:
            return NO_READING
        runnable, messages = self._request(question)
        answer = runnable.invoke(messages, self.config, **self._options())
        return self._reading(question, answer)

    async def aask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """:meth:`ask`, with the model's async path."""
        question = self._question(rationale, actions)
        if question is None:
            return NO_READING
        runnable, messages = self._request(question)
        answer = await runnable.ainvoke(messages, self.config, **self._options())
        return self._reading(question, answer)

    # ----------------------------------------------------------------------------------------------------------

    def _question(self, rationale: object, actions: object) -> JudgeQuestion | None:
        if not isinstance(rationale, str) or not rationale.strip() or not isinstance(actions, ActionSpace):
            return None  # nothing to ask
        return JudgeQuestion(rationale, actions, max_chars=self.max_chars)

    def _options(self) -> dict[str, Any]:
        return {} if self.max_tokens is None else {"max_tokens": self.max_tokens}

    def _request(self, question: JudgeQuestion) -> tuple[Runnable[Any, Any], list[BaseMessage]]:
        messages: list[BaseMessage] = [HumanMessage(content=question.prompt())]
        if self.method == "tools":
            tool = {
                "type": "function",
                "function": {
                    "name": JUDGE_TOOL,
                    "description": "The action the rationale recommends as the immediate next step.",
                    "parameters": {
                        "type": "object",
                        "properties": {"action": {"type": "string", "enum": list(question.choices)}},
                        "required": ["action"],
                    },
                },
            }
            try:
                return self.model.bind_tools([tool], tool_choice=JUDGE_TOOL), messages
            except NotImplementedError:  # a model without tool calling answers in text
                pass
        return self.model, messages

    def _reading(self, question: JudgeQuestion, answer: object) -> RationaleReading:
        return question.read(_answer_of(answer), confidence=self.confidence, evidence=self._evidence)

    @property
    def _evidence(self) -> str:
        name = getattr(self.model, "model_name", None) or getattr(self.model, "model", None)
        return f"judge ({name if isinstance(name, str) else type(self.model).__name__})"


def _answer_of(message: object) -> object:
    """What the model answered: the arguments of its ``recommended_action`` call, else its text."""
    if not isinstance(message, AIMessage):
        return message if isinstance(message, str) else None
    for call in message.tool_calls:
        if call.get("name") == JUDGE_TOOL:
            return call.get("args")
    for invalid in message.invalid_tool_calls:  # arguments that were not valid JSON: read them as text
        if invalid.get("name") == JUDGE_TOOL:
            return invalid.get("args")
    return message_text(message)[1]
