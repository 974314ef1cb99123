"""Building a Guard for LangChain, and giving an existing Guard the LangChain parser and prompter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from guardrail import ActionSpace, Guard, InvalidAction, KnowingDoingGap, UnexecutedIntent
from guardrail.exceptions import ConfigurationError
from guardrail_langchain._messages import MessageParser, ToolLike, tool_action_space
from guardrail_langchain._prompter import MessagesPrompter

__all__ = ["adapt_guard", "guard_for_tools"]


def guard_for_tools(
    tools: Iterable[ToolLike] | None = None,
    *,
    actions: ActionSpace | Iterable[str] | None = None,
    answer_action: str | None = None,
    parser: MessageParser | None = None,
    prompter: MessagesPrompter | None = None,
    **guard_options: Any,
) -> Guard:
    """A :class:`~guardrail.Guard` whose actions are the tools' names, reading LangChain messages.

    Args:
        tools: the agent's tools (``BaseTool``, functions, pydantic classes or OpenAI tool dicts); their names are
            the action space unless ``actions`` is given.
        actions: the legal actions, when they are not the tools (e.g. text-format actions like ``ACTION=red``).
        answer_action: an extra action that a message calling no tool counts as (e.g. ``"final_answer"``), so a
            direct answer is a guarded, counted action; it is added to the action space.
        parser: the message parser (default: ``MessageParser(answer_action=answer_action)``).
        prompter: the re-ask prompter (default: :class:`MessagesPrompter`).
        **guard_options: passed to :class:`~guardrail.Guard` (``policies``, ``telemetry``, ``seed``, ...). Without
            ``detectors``, a tool agent's guard detects the knowing-doing gap, invalid actions and unexecuted intent
            (a rationale that commits to a tool in a message that calls none).

    >>> guard = guard_for_tools(actions=["red", "blue"])
    >>> guard.actions
    ActionSpace(['red', 'blue'])
    """
    if actions is None:
        if tools is None:
            raise ConfigurationError("guard_for_tools needs tools or actions")
        space = tool_action_space(tools, extra=[answer_action] if answer_action else ())
    else:
        space = ActionSpace.of(actions)
        if answer_action and space.resolve(answer_action) is None:
            space = ActionSpace([*space.names, answer_action], aliases=space.aliases, descriptions=space.descriptions)
    if parser is not None and answer_action is not None and parser.answer_action != answer_action:
        raise ConfigurationError("give answer_action either to guard_for_tools or to the MessageParser, not both")
    guard_options.setdefault("detectors", (KnowingDoingGap(), InvalidAction(), UnexecutedIntent()))
    return Guard(
        space,
        # the guard's reader (e.g. a CascadeReader) reads the messages' rationales too
        parser=parser or MessageParser(answer_action=answer_action, reader=guard_options.get("reader")),
        prompter=prompter or MessagesPrompter(),
        **guard_options,
    )


def adapt_guard(guard: Guard) -> Guard:
    """The guard itself when it already has a parser and a non-text prompter; otherwise a shallow copy of it that
    reads messages (:class:`MessageParser`) and re-asks with messages (:class:`MessagesPrompter`).

    The copy shares the guard's history, telemetry, policies and budget, so steps through it count in the same
    episodes and write to the same sinks; the guard you passed is not changed.
    """
    if not isinstance(guard, Guard):
        raise ConfigurationError(f"expected a guardrail.Guard, got {guard!r}")
    return guard.adapted(parser=MessageParser(format=guard.format, reader=guard.reader), prompter=MessagesPrompter())
