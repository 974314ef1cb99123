"""MessagesPrompter: re-ask prompts and notes as chat messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from guardrail import TextPrompter
from guardrail_langchain._messages import as_message, to_messages

__all__ = ["MessagesPrompter"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MessagesPrompter:
    """A ``Guard(prompter=...)`` for chat models: a re-ask is the original messages, the failed answer, the feedback.

    A re-ask sends the ORIGINAL messages, then only the latest failed ``AIMessage``, then the feedback: as one
    ``ToolMessage`` per tool call of that answer (tool-calling APIs require every call id to be answered; each
    says the call was not executed and why), or as a ``HumanMessage`` when the answer called no tool. Earlier
    failed attempts are not included.

    Args:
        follow_up: also add a ``HumanMessage`` with the feedback after the ToolMessages (some models treat tool
            results as final and answer in prose instead of calling a tool again).
        not_executed: the text before the feedback in each ToolMessage.

    Text in, text out (no message anywhere): the core's plain-text re-ask prompt.
    """

    follow_up: bool = False
    not_executed: str = "Not executed:"

    def reask(self, observation: Any, last_output: Any, feedback: str) -> Any:
        """The original messages, the latest failed answer, and the feedback."""
        last = as_message(last_output)
        if last is None and isinstance(observation, str):
            return TextPrompter().reask(observation, last_output, feedback)
        messages = to_messages(observation)
        if last is None:
            last = AIMessage(content=str(getattr(last_output, "output", last_output)))
        reply: list[BaseMessage] = [last]
        calls = last.tool_calls if isinstance(last, AIMessage) else []
        if calls:
            reply.extend(
                ToolMessage(
                    content=f"{self.not_executed} {feedback}",
                    tool_call_id=call["id"] or "",
                    name=call["name"],
                    status="error",
                )
                for call in calls
            )
            if self.follow_up:
                reply.append(HumanMessage(content=feedback))
        else:
            reply.append(HumanMessage(content=feedback))
        return [*messages, *reply]

    def annotate(self, observation: Any, note: str) -> Any:
        """The input with a note: added to the last human message's text, or as a new human message."""
        if isinstance(observation, str):
            return TextPrompter().annotate(observation, note)
        messages = to_messages(observation)
        if messages and isinstance(messages[-1], HumanMessage) and isinstance(messages[-1].content, str):
            last = messages[-1]
            return [*messages[:-1], last.model_copy(update={"content": f"{last.content}\n\n{note}"})]
        return [*messages, HumanMessage(content=note)]
