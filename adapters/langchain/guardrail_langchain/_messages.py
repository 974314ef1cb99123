"""Reading LangChain messages into Decisions, and writing the guard's verdict back into them.

An ``AIMessage`` is read as one decision: the rationale is its text (and its reasoning content), the action is the
name of its first tool call (the other tool calls pass through unchanged), or, when it called no tool, whatever a
text format (``ACTION=x``, JSON, XML, ReAct) names in its text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolCall
from langchain_core.messages.utils import convert_to_messages, message_chunk_to_message
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableBinding, RunnableSequence
from langchain_core.utils.function_calling import convert_to_openai_tool

from guardrail import ActionSpace, Decision, Reply, StepResult, Usage, parse
from guardrail.arguments import argument_errors, carried_arguments
from guardrail.exceptions import ConfigurationError, InvalidInputError
from guardrail.parsing import Format, RawReading, decision_from_reading
from guardrail.rationale import RationaleReader

__all__ = [
    "TOOL_CALL_FORMAT",
    "MessageParser",
    "ToolLike",
    "as_message",
    "bound_tools",
    "message_text",
    "reply_of",
    "rewrite_message",
    "to_messages",
    "tool_action_space",
    "tool_schemas",
]

TOOL_CALL_FORMAT = "tool_call"
"""``Decision.format`` of a decision read from a tool call."""

ToolLike = Mapping[str, Any] | type | Any
"""Anything ``bind_tools`` accepts: a ``BaseTool``, a function, a pydantic class or an OpenAI tool dict."""

_GUARDRAIL_KEY = "guardrail"


# -- tools ----------------------------------------------------------------------------------------------------
def _tool_schema(tool: ToolLike) -> tuple[str, dict[str, Any]]:
    name, parameters, _ = _tool_parts(tool)
    return name, parameters


def _tool_parts(tool: ToolLike) -> tuple[str, dict[str, Any], str]:
    """A tool's name, argument schema and description (``""`` when it has none)."""
    try:
        converted = convert_to_openai_tool(tool)
    except Exception as error:  # langchain raises ValueError, TypeError, ... for unsupported objects
        raise ConfigurationError(f"cannot read a tool name from {tool!r}: {error}") from error
    function = converted.get("function", converted)
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"tool {tool!r} has no name")
    parameters = function.get("parameters") if isinstance(function, Mapping) else None
    description = function.get("description") if isinstance(function, Mapping) else None
    first_line = description.strip().splitlines()[0] if isinstance(description, str) and description.strip() else ""
    return name, dict(parameters) if isinstance(parameters, Mapping) else {}, first_line


def tool_schemas(tools: Iterable[ToolLike]) -> dict[str, dict[str, Any]]:
    """The JSON schema of each tool's arguments, by tool name (``{}`` when a tool declares none)."""
    return dict(_tool_schema(tool) for tool in tools)


def tool_action_space(tools: Iterable[ToolLike], *, extra: Sequence[str] = ()) -> ActionSpace:
    """The action space of a tool-calling agent: one action per tool name (plus ``extra`` actions).

    Each tool's description (its first line) becomes the action's description, so the rationale reader grounds
    "I'll look through the docs" to ``search_docs`` as well as its name; each tool's argument schema becomes the
    action's schema, so no correction emits a call to it without the arguments it needs.

    >>> from langchain_core.tools import tool
    >>> @tool
    ... def search_docs(query: str) -> str:
    ...     '''Search the docs.'''
    ...     return ""
    >>> tool_action_space([search_docs], extra=["final_answer"])
    ActionSpace(['search_docs', 'final_answer'])
    """
    parts = [_tool_parts(tool) for tool in tools]
    names = [name for name, _, _ in parts]
    descriptions = {name: description for name, _, description in parts if description}
    schemas = {name: parameters for name, parameters, _ in parts if parameters}
    return ActionSpace(
        [*names, *(name for name in extra if name not in names)], descriptions=descriptions, schemas=schemas
    )


def bound_tools(runnable: Runnable[Any, Any]) -> list[dict[str, Any]] | None:
    """The tools bound to a runnable (``model.bind_tools(...)``, also at the end of a sequence), or None."""
    seen: set[int] = set()
    current: object = runnable
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RunnableBinding):
            tools = current.kwargs.get("tools")
            if isinstance(tools, Sequence) and not isinstance(tools, str):
                return [dict(t) if isinstance(t, Mapping) else convert_to_openai_tool(t) for t in tools]
            current = current.bound
        elif isinstance(current, RunnableSequence):
            current = current.last
        else:
            return None
    return None


# -- reading --------------------------------------------------------------------------------------------------
def as_message(output: Any) -> BaseMessage | None:
    """The message in an output: the message itself (a chunk made whole), the AI message of a ModelResponse."""
    if isinstance(output, Reply):
        output = output.output
    if isinstance(output, BaseMessage):
        return message_chunk_to_message(output)
    result = getattr(output, "result", None)  # langchain.agents' ModelResponse, without importing langchain
    if isinstance(result, list):
        found = [m for m in result if isinstance(m, AIMessage)]
        if found:
            return found[-1]
    return None


def _block_texts(content: Any, *, reasoning: bool) -> list[str]:
    if isinstance(content, str):
        return [] if reasoning else [content]
    texts: list[str] = []
    for block in content if isinstance(content, list) else ():
        if isinstance(block, str):
            if not reasoning:
                texts.append(block)
        elif isinstance(block, Mapping):
            kind = block.get("type")
            if reasoning and kind in ("reasoning", "thinking"):
                value = block.get("reasoning", block.get("thinking"))
                if isinstance(value, str):
                    texts.append(value)
                summary = block.get("summary")
                if isinstance(summary, list):
                    texts.extend(
                        s["text"] for s in summary if isinstance(s, Mapping) and isinstance(s.get("text"), str)
                    )
            elif not reasoning and kind == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
    return texts


def message_text(message: BaseMessage) -> tuple[str, str]:
    """A message's reasoning content and its visible text, each joined into one string.

    Reasoning comes from reasoning/thinking content blocks or ``additional_kwargs["reasoning_content"]``.
    """
    text = "".join(_block_texts(message.content, reasoning=False))
    reasoning = _block_texts(message.content, reasoning=True)
    extra = message.additional_kwargs.get("reasoning_content")
    if isinstance(extra, str) and extra not in reasoning:
        reasoning.insert(0, extra)
    return "\n".join(r for r in reasoning if r.strip()), text


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageParser:
    """A ``Guard(parser=...)`` for LangChain outputs: reads an ``AIMessage`` (or text) into a :class:`Decision`.

    Args:
        format: the text format of messages that call no tool (``"auto"`` detects it).
        reader: how to tell which action a rationale recommends (default: the lexical reader).
        answer_action: an action that a message calling no tool and naming no action in its text counts as (for
            agents that may answer directly, e.g. ``"final_answer"``); None leaves such a message without an action.

    A tool call is the action: its name is resolved against the action space (an unknown tool gives
    ``action=None`` and ``raw_action`` = the name), its arguments are kept in ``Decision.arguments`` and its id in
    ``Decision.raw`` (the message). Strings, dicts and pydantic models go to :func:`guardrail.parse`.
    """

    format: Format = "auto"
    reader: RationaleReader | None = None
    answer_action: str | None = None

    def __call__(self, raw: Any, actions: ActionSpace) -> Decision:
        """Parse one output against the action space."""
        message = as_message(raw)
        if message is None:
            if isinstance(raw, Reply):
                raw = raw.output
            return parse(raw, actions, format=self.format, reader=self.reader)
        reasoning, text = message_text(message)
        rationale = "\n".join(part for part in (reasoning, text) if part.strip())
        calls = _calls_of(message)
        if calls:
            first = calls[0]
            reading = RawReading(rationale=rationale, action_text=first["name"], arguments=dict(first["args"]))
            return decision_from_reading(reading, actions, format=TOOL_CALL_FORMAT, raw=message, reader=self.reader)
        decision = parse(text, actions, format=self.format, reader=self.reader)
        if decision.action is None and decision.raw_action is None and self.answer_action is not None:
            answer = actions.resolve(self.answer_action)
            if answer is None:
                raise ConfigurationError(f"answer_action {self.answer_action!r} is not in the action space")
            decision = decision.model_copy(update={"action": answer, "format": "answer"})
        if reasoning:
            # The reasoning is part of the rationale: read the recommendation from all of it.
            full = parse(f"{reasoning}\n{text}", actions, format=self.format, reader=self.reader)
            decision = decision.model_copy(
                update={
                    "rationale": rationale,
                    "rationale_action": full.rationale_action,
                    "rationale_confidence": full.rationale_confidence,
                    "rationale_evidence": full.rationale_evidence,
                }
            )
        return decision.model_copy(update={"raw": message})


def _calls_of(message: BaseMessage) -> list[ToolCall]:
    if not isinstance(message, AIMessage):
        return []
    if message.tool_calls:
        return list(message.tool_calls)
    # A malformed call still names the tool the model chose; its arguments could not be read.
    calls: list[ToolCall] = []
    for call in message.invalid_tool_calls:
        name = call.get("name")
        if isinstance(name, str) and name:
            calls.append(ToolCall(name=name, args={}, id=call.get("id"), type="tool_call"))
    return calls


def reply_of(output: Any) -> Any:
    """The output as a :class:`~guardrail.Reply` carrying the message's token usage, when it reports any."""
    message = output if isinstance(output, AIMessage) else None
    usage = message.usage_metadata if message is not None else None
    if usage is None:
        return output
    return Reply(
        output=output,
        usage=Usage(input_tokens=usage.get("input_tokens", 0), output_tokens=usage.get("output_tokens", 0)),
    )


def to_messages(observation: Any) -> list[BaseMessage]:
    """A chat model input (text, a prompt value, a list of message-likes) as a list of messages."""
    if isinstance(observation, str):
        return [HumanMessage(content=observation)]
    if isinstance(observation, PromptValue):
        return observation.to_messages()
    if isinstance(observation, Sequence):
        return convert_to_messages(observation)
    raise InvalidInputError(
        f"cannot re-ask with an input of type {type(observation).__name__}: re-asking appends messages, so the "
        "guarded runnable must take text or messages (guard the chat model, e.g. `prompt | guard_runnable(model, "
        "guard)`, rather than a chain that takes a dict)"
    )


# -- writing --------------------------------------------------------------------------------------------------
def summary_of(result: StepResult) -> dict[str, Any]:
    """What the guard did in this step, as JSON-ready data (put in ``response_metadata["guardrail"]``)."""
    return {
        "action": result.action,
        "episode": result.episode,
        "step": result.step,
        "intervened": result.intervened,
        "agent_calls": result.agent_calls,
        "findings": [finding.kind for finding in result.findings],
        "corrections": [c.kind for c in result.corrections if c.applied],
        "event_id": result.event.event_id,
    }


def rewrite_message(
    message: BaseMessage,
    result: StepResult,
    *,
    schemas: Mapping[str, Mapping[str, Any]] | None = None,
) -> BaseMessage:
    """The message with the guard's final action written into it, and a summary in ``response_metadata``.

    When the final action differs from the message's own: the first tool call is renamed to the final action,
    keeping its id and the arguments the final tool declares. A message that called no tool gets a tool call to
    the final action (a new id, no arguments) when the action is one of the tools in ``schemas``; a text answer is
    left as written (the action is in the summary and in the StepResult).

    No call is ever written that fails its tool's argument schema (see :func:`guardrail.arguments.argument_errors`):
    when the final tool needs arguments the message does not give, the message keeps its own calls (or stays a
    text answer) and the summary says why under ``"kept_call"``.
    """
    if not isinstance(message, AIMessage):
        return message
    update: dict[str, Any] = {"response_metadata": {**message.response_metadata, _GUARDRAIL_KEY: summary_of(result)}}
    action = result.action
    calls = list(message.tool_calls)
    current = calls[0]["name"] if calls else None
    if action is not None and action != current and (calls or (schemas is not None and action in schemas)):
        schema = schemas.get(action) if schemas is not None else None
        # with no schema to check against, a renamed call carries no arguments from another tool
        arguments = carried_arguments(calls[0]["args"], schema) if calls and schema is not None else {}
        errors = argument_errors(arguments, schema)
        if errors:
            summary = {**update["response_metadata"][_GUARDRAIL_KEY], "kept_call": f"{action!r}: {'; '.join(errors)}"}
            update["response_metadata"] = {**message.response_metadata, _GUARDRAIL_KEY: summary}
            return cast(BaseMessage, message.model_copy(update=update))
        if calls:
            first = calls[0]
            renamed = ToolCall(name=action, args=dict(arguments), id=first["id"], type="tool_call")
            calls = [renamed, *calls[1:]]
            call_id = first["id"]
        else:
            call_id = f"guardrail_{uuid.uuid4().hex[:24]}"
            calls = [ToolCall(name=action, args={}, id=call_id, type="tool_call")]
        update["tool_calls"] = calls
        update["invalid_tool_calls"] = [c for c in message.invalid_tool_calls if c.get("id") != call_id]
        # The provider's raw copy of the calls would contradict the rewritten ones.
        update["additional_kwargs"] = {k: v for k, v in message.additional_kwargs.items() if k != "tool_calls"}
        if isinstance(message.content, list):
            update["content"] = [_rewrite_block(block, calls[0]) for block in message.content]
    # model_copy skips validation, so tool_calls and content stay as given (no re-parsing of content blocks).
    return cast(BaseMessage, message.model_copy(update=update))


def _rewrite_block(block: Any, call: ToolCall) -> Any:
    if isinstance(block, Mapping) and block.get("type") == "tool_call" and block.get("id") == call["id"]:
        return {**block, "name": call["name"], "args": call["args"]}
    return block
