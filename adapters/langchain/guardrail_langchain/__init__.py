"""guardrail inside LangChain: guarded Runnables and chat models, tool-call parsing, agent middleware, a judge.

>>> from guardrail import OverrideToRationale, ReAsk
>>> from guardrail_langchain import guard_runnable
>>> guarded = guard_runnable(model.bind_tools(tools), policies=[ReAsk(), OverrideToRationale()])  # doctest: +SKIP
>>> message = guarded.invoke("Which tool fits?", {"configurable": {"thread_id": "t1"}})  # doctest: +SKIP

:class:`JudgeReader` asks a chat model which action a rationale recommends, for
``guardrail.CascadeReader(LexicalReader(), JudgeReader(model))`` where the lexical reader abstains.

:class:`GuardrailMiddleware` (for ``langchain.agents.create_agent``) needs the ``agents`` extra and is imported on
first use, so this package works with ``langchain-core`` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrail_langchain._errors import MissingDependencyError
from guardrail_langchain._events import FINDING_EVENT, PASS_EVENT, STEP_EVENT, step_events
from guardrail_langchain._guard import adapt_guard, guard_for_tools
from guardrail_langchain._judge import JUDGE_TOOL, JudgeMethod, JudgeReader
from guardrail_langchain._messages import (
    TOOL_CALL_FORMAT,
    MessageParser,
    bound_tools,
    message_text,
    rewrite_message,
    tool_action_space,
    tool_schemas,
)
from guardrail_langchain._prompter import MessagesPrompter
from guardrail_langchain._runnable import (
    AsyncGuardedStream,
    GuardedOutput,
    GuardedRunnable,
    GuardedStream,
    episode_of,
    guard_runnable,
)

if TYPE_CHECKING:
    from guardrail_langchain.middleware import GuardrailMiddleware

__version__ = "0.1.0"

__all__ = [
    "FINDING_EVENT",
    "JUDGE_TOOL",
    "PASS_EVENT",
    "STEP_EVENT",
    "TOOL_CALL_FORMAT",
    "AsyncGuardedStream",
    "GuardedOutput",
    "GuardedRunnable",
    "GuardedStream",
    "GuardrailMiddleware",
    "JudgeMethod",
    "JudgeReader",
    "MessageParser",
    "MessagesPrompter",
    "MissingDependencyError",
    "__version__",
    "adapt_guard",
    "bound_tools",
    "episode_of",
    "guard_for_tools",
    "guard_runnable",
    "message_text",
    "rewrite_message",
    "step_events",
    "tool_action_space",
    "tool_schemas",
]


def __getattr__(name: str) -> Any:
    # GuardrailMiddleware needs langchain (the `agents` extra): import it only when asked for.
    if name == "GuardrailMiddleware":
        from guardrail_langchain.middleware import GuardrailMiddleware

        return GuardrailMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
