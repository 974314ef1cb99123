"""Test doubles for your own tests: a scripted tool-calling chat model.

>>> from guardrail_langchain.testing import ScriptedChatModel, tool_answer
>>> model = ScriptedChatModel.script([tool_answer("I should call search_docs.", "search_docs", {"query": "x"})])
>>> model.invoke("help").tool_calls[0]["name"]
'search_docs'
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

__all__ = ["ScriptedChatModel", "tool_answer"]

_ids = itertools.count(1)


def tool_answer(
    rationale: str,
    tool: str | None = None,
    args: Mapping[str, Any] | None = None,
    *,
    call_id: str | None = None,
) -> AIMessage:
    """An ``AIMessage`` with a rationale as its text and, when ``tool`` is given, one call of that tool."""
    if tool is None:
        return AIMessage(content=rationale)
    call = ToolCall(name=tool, args=dict(args or {}), id=call_id or f"call_{next(_ids)}", type="tool_call")
    return AIMessage(content=rationale, tool_calls=[call])


class ScriptedChatModel(GenericFakeChatModel):
    """A fake chat model that answers with scripted messages in order, records every request, and binds tools.

    ``requests`` holds the messages of each call. ``stream`` yields the text word by word, then one chunk per
    tool call, so the assembled message has the same tool calls.
    """

    requests: list[list[BaseMessage]] = Field(default_factory=list)

    @classmethod
    def script(cls, outputs: Iterable[AIMessage | str]) -> ScriptedChatModel:
        """A model answering with ``outputs`` in order."""
        return cls(messages=iter(list(outputs)))

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools as OpenAI tool schemas (they are recorded, not used)."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.requests.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._generate(messages, stop=stop, run_manager=run_manager, **kwargs).generations[0].message
        text = message.content if isinstance(message.content, str) else ""
        for token in re.split(r"(\s)", text) if text else ():
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token, id=message.id))
            if run_manager:
                run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk
        calls = message.tool_calls if isinstance(message, AIMessage) else []
        for index, call in enumerate(calls):
            piece = tool_call_chunk(name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=index)
            yield ChatGenerationChunk(message=AIMessageChunk(content="", id=message.id, tool_call_chunks=[piece]))
