"""GuardedRunnable: any Runnable or chat model, guarded step by step."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.messages import BaseMessage, BaseMessageChunk
from langchain_core.messages.utils import message_chunk_to_message
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config

from guardrail import ActionSpace, Guard, StepResult
from guardrail.exceptions import ConfigurationError, GuardrailRuntimeError, NoLegalActionError
from guardrail_langchain._events import adispatch_step, dispatch_step
from guardrail_langchain._guard import adapt_guard, guard_for_tools
from guardrail_langchain._messages import ToolLike, bound_tools, reply_of, rewrite_message, tool_schemas

__all__ = [
    "AsyncGuardedStream",
    "GuardedOutput",
    "GuardedRunnable",
    "GuardedStream",
    "episode_of",
    "guard_runnable",
]

EPISODE_KEYS = ("episode", "thread_id")
"""Keys of ``config["configurable"]`` that name the episode, in order of preference."""


def episode_of(config: Mapping[str, Any] | None, default: str = "default") -> str:
    """The episode a call belongs to: ``configurable["episode"]``, else ``configurable["thread_id"]``, else default."""
    configurable = (config or {}).get("configurable") or {}
    for key in EPISODE_KEYS:
        value = configurable.get(key)
        if value is not None and str(value):
            return str(value)
    return default


@dataclass(frozen=True, kw_only=True)
class GuardedOutput:
    """One guarded call: the output to use and the guard's :class:`~guardrail.StepResult`.

    ``output`` is the final answer: for a chat model, the last ``AIMessage`` with the final action written into
    its first tool call and a summary in ``response_metadata["guardrail"]``; for other runnables, the last output.
    """

    output: Any
    result: StepResult

    @property
    def action(self) -> str | None:
        """The action to execute (possibly corrected)."""
        return self.result.action

    @property
    def message(self) -> BaseMessage | None:
        """The output, when it is a message."""
        return self.output if isinstance(self.output, BaseMessage) else None


@dataclass
class _Holder:
    outcome: GuardedOutput | None = None


class _Agent:
    """The wrapped runnable as a guardrail agent ``prompt -> output``; the first answer may be given already."""

    def __init__(self, runnable: Runnable[Any, Any], config: RunnableConfig, kwargs: dict[str, Any]) -> None:
        self.name = runnable.get_name()
        self.runnable = runnable
        self.config = config
        self.kwargs = kwargs
        self.first: list[Any] = []

    def __call__(self, prompt: Any) -> Any:
        if self.first:
            return reply_of(self.first.pop())
        return reply_of(self.runnable.invoke(prompt, self.config, **self.kwargs))


class _AsyncAgent(_Agent):
    async def __call__(self, prompt: Any) -> Any:  # the async twin of _Agent
        if self.first:
            return reply_of(self.first.pop())
        return reply_of(await self.runnable.ainvoke(prompt, self.config, **self.kwargs))


def _merge(total: Any, chunk: Any) -> Any:
    if total is None:
        return chunk
    try:
        return total + chunk
    except TypeError:  # not addable: the last chunk is the output
        return chunk


def _whole(total: Any) -> Any:
    return message_chunk_to_message(total) if isinstance(total, BaseMessageChunk) else total


class GuardedStream(Iterator[Any]):
    """The chunks of a guarded stream; after the last one, :attr:`result` holds the guarded output."""

    def __init__(self, chunks: Iterator[Any], holder: _Holder) -> None:
        self._chunks = chunks
        self._holder = holder

    def __iter__(self) -> GuardedStream:
        return self

    def __next__(self) -> Any:
        return next(self._chunks)

    @property
    def result(self) -> GuardedOutput:
        """The guarded output (final message and StepResult); available once the stream is exhausted."""
        if self._holder.outcome is None:
            raise GuardrailRuntimeError("the guarded result is available once the stream has been read to the end")
        return self._holder.outcome


class AsyncGuardedStream(AsyncIterator[Any]):
    """Async twin of :class:`GuardedStream`."""

    def __init__(self, chunks: AsyncIterator[Any], holder: _Holder) -> None:
        self._chunks = chunks
        self._holder = holder

    def __aiter__(self) -> AsyncGuardedStream:
        return self

    async def __anext__(self) -> Any:
        return await self._chunks.__anext__()

    @property
    def result(self) -> GuardedOutput:
        """The guarded output (final message and StepResult); available once the stream is exhausted."""
        if self._holder.outcome is None:
            raise GuardrailRuntimeError("the guarded result is available once the stream has been read to the end")
        return self._holder.outcome


class GuardedRunnable(Runnable[Any, Any]):
    """A Runnable (a chat model, a chain) whose every call is one guarded step.

    ``invoke``/``ainvoke`` run the step: call the runnable, parse its answer, detect, correct by the guard's
    policies (a re-ask calls it again with the original messages, the failed answer and the feedback), record
    telemetry, and return the final output. ``batch``/``abatch`` guard each input as its own step. The episode
    is ``config["configurable"]["episode"]``, else its ``thread_id``, else ``episode``.

    ``stream``/``astream`` pass the runnable's chunks through as they come and guard the assembled message after
    the last chunk: findings, telemetry and custom events happen then. The chunks already sent cannot be taken
    back, so a correction after a stream is not streamed: a re-ask calls the runnable again with ``invoke``, and
    the corrected final message is in the ``guardrail_step`` custom event and, with :meth:`stream_step` /
    :meth:`astream_step`, in the stream's ``result`` once it has been read to the end.

    Args:
        bound: the runnable to guard; re-asks need it to take text or messages.
        guard: the guard; without a parser or with the plain-text prompter, a copy of it that reads and re-asks
            with messages is used (see :func:`adapt_guard`).
        tools: the tools, for the argument check when an override renames a tool call (default: the tools
            bound to ``bound``, if any).
        episode: the episode of calls whose config names none.
        name: the run name in traces (default: ``Guarded<name of bound>``).
    """

    def __init__(
        self,
        bound: Runnable[Any, Any],
        guard: Guard,
        *,
        tools: Iterable[ToolLike] | None = None,
        episode: str = "default",
        name: str | None = None,
    ) -> None:
        if not isinstance(bound, Runnable):
            raise ConfigurationError(f"GuardedRunnable needs a Runnable, got {bound!r}")
        if not isinstance(cast(object, episode), str) or not episode:
            raise ConfigurationError(f"episode must be a non-empty string, got {episode!r}")
        self.bound = bound
        self.guard = adapt_guard(guard)
        found = list(tools) if tools is not None else bound_tools(bound)
        self.schemas: dict[str, dict[str, Any]] | None = tool_schemas(found) if found is not None else None
        """Argument schemas of the tools by name, for the override's argument check (None: unknown)."""
        self.default_episode = episode
        self.name = name or f"Guarded{bound.get_name()}"

    @property
    def actions(self) -> ActionSpace:
        """The guard's action space."""
        return self.guard.actions

    @property
    def InputType(self) -> Any:
        """The wrapped runnable's input type."""
        return self.bound.InputType

    @property
    def OutputType(self) -> Any:
        """The wrapped runnable's output type."""
        return self.bound.OutputType

    def __repr__(self) -> str:
        return f"GuardedRunnable({self.bound!r}, {self.guard!r})"

    # -- the step ------------------------------------------------------------------------------------------
    def _finish(self, result: StepResult, config: RunnableConfig) -> GuardedOutput:
        raw = result.decision.raw
        output = rewrite_message(raw, result, schemas=self.schemas) if isinstance(raw, BaseMessage) else raw
        dispatch_step(result, config)
        return GuardedOutput(output=output, result=result)

    async def _afinish(self, result: StepResult, config: RunnableConfig) -> GuardedOutput:
        raw = result.decision.raw
        output = rewrite_message(raw, result, schemas=self.schemas) if isinstance(raw, BaseMessage) else raw
        await adispatch_step(result, config)
        return GuardedOutput(output=output, result=result)

    def _step(self, input: Any, agent: _Agent, config: RunnableConfig) -> GuardedOutput:
        try:
            result = self.guard.step(agent, input, episode=episode_of(config, self.default_episode))
        except NoLegalActionError as error:
            dispatch_step(error, config)
            raise
        return self._finish(result, config)

    async def _astep(self, input: Any, agent: _AsyncAgent, config: RunnableConfig) -> GuardedOutput:
        try:
            result = await self.guard.astep(agent, input, episode=episode_of(config, self.default_episode))
        except NoLegalActionError as error:
            await adispatch_step(error, config)
            raise
        return await self._afinish(result, config)

    def _invoke(self, input: Any, config: RunnableConfig, *, holder: _Holder, **kwargs: Any) -> Any:
        outcome = self._step(input, _Agent(self.bound, config, kwargs), config)
        holder.outcome = outcome
        return outcome.output

    async def _ainvoke(self, input: Any, config: RunnableConfig, *, holder: _Holder, **kwargs: Any) -> Any:
        outcome = await self._astep(input, _AsyncAgent(self.bound, config, kwargs), config)
        holder.outcome = outcome
        return outcome.output

    # -- Runnable ------------------------------------------------------------------------------------------
    def step(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> GuardedOutput:
        """Guard one call and return both the output and the guard's StepResult."""
        holder = _Holder()
        self._call_with_config(functools.partial(self._invoke, holder=holder), input, ensure_config(config), **kwargs)
        assert holder.outcome is not None
        return holder.outcome

    async def astep(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> GuardedOutput:
        """Async twin of :meth:`step`."""
        holder = _Holder()
        await self._acall_with_config(
            functools.partial(self._ainvoke, holder=holder), input, ensure_config(config), **kwargs
        )
        assert holder.outcome is not None
        return holder.outcome

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Guard one call; returns the final output (see :class:`GuardedOutput`)."""
        return self.step(input, config, **kwargs).output

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Async twin of :meth:`invoke`."""
        return (await self.astep(input, config, **kwargs)).output

    def _stream(
        self, inputs: Iterator[Any], config: RunnableConfig, *, holder: _Holder, **kwargs: Any
    ) -> Iterator[Any]:
        input = next(inputs)
        total: Any = None
        for chunk in self.bound.stream(input, config, **kwargs):
            yield chunk
            total = _merge(total, chunk)
        agent = _Agent(self.bound, config, kwargs)
        agent.first.append(_whole(total))
        holder.outcome = self._step(input, agent, config)

    async def _astream(
        self, inputs: AsyncIterator[Any], config: RunnableConfig, *, holder: _Holder, **kwargs: Any
    ) -> AsyncIterator[Any]:
        input = await inputs.__anext__()
        total: Any = None
        async for chunk in self.bound.astream(input, config, **kwargs):
            yield chunk
            total = _merge(total, chunk)
        agent = _AsyncAgent(self.bound, config, kwargs)
        agent.first.append(_whole(total))
        holder.outcome = await self._astep(input, agent, config)

    def stream_step(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> GuardedStream:
        """Stream the chunks; once read to the end, the stream's ``result`` is the guarded output."""
        holder = _Holder()
        chunks = self._transform_stream_with_config(
            iter([input]), functools.partial(self._stream, holder=holder), ensure_config(config), **kwargs
        )
        return GuardedStream(chunks, holder)

    def astream_step(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncGuardedStream:
        """Async twin of :meth:`stream_step`."""
        holder = _Holder()

        async def one() -> AsyncIterator[Any]:
            yield input

        chunks = self._atransform_stream_with_config(
            one(), functools.partial(self._astream, holder=holder), ensure_config(config), **kwargs
        )
        return AsyncGuardedStream(chunks, holder)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any | None) -> Iterator[Any]:
        """Pass the chunks through; the assembled message is guarded after the last one."""
        yield from self.stream_step(input, config, **kwargs)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream`."""
        async for chunk in self.astream_step(input, config, **kwargs):
            yield chunk


def guard_runnable(
    runnable: Runnable[Any, Any],
    guard: Guard | None = None,
    *,
    tools: Iterable[ToolLike] | None = None,
    actions: ActionSpace | Iterable[str] | None = None,
    episode: str = "default",
    **guard_options: Any,
) -> GuardedRunnable:
    """Guard a Runnable or chat model; without a guard, build one whose actions are the bound tools' names.

    Args:
        runnable: e.g. ``ChatOpenAI(...).bind_tools(tools)``.
        guard: the guard to use; or None to build one with :func:`guard_for_tools` from ``tools`` (default: the
            tools bound to ``runnable``) or ``actions``, passing ``guard_options`` (``policies``, ``telemetry``...).
        tools: the tools, when they are not bound to ``runnable``.
        actions: the legal actions, when they are not the tool names.
        episode: the episode of calls whose config names none.
    """
    if guard is not None:
        if actions is not None or guard_options:
            raise ConfigurationError("give either a guard, or the options to build one (actions=, policies=, ...)")
        return GuardedRunnable(runnable, guard, tools=tools, episode=episode)
    tool_list = list(tools) if tools is not None else bound_tools(runnable)
    if tool_list is None and actions is None:
        raise ConfigurationError(
            "guard_runnable() without a guard needs the action space: bind tools to the model, or pass tools= or "
            "actions="
        )
    built = guard_for_tools(tool_list, actions=actions, **guard_options)
    return GuardedRunnable(runnable, built, tools=tool_list, episode=episode)
