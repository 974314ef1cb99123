"""Test doubles for your own tests: scripted agents, telemetry capture, and a StepState factory.

>>> from guardrail import Guard, OverrideToRationale
>>> agent = ScriptedAgent(["Red looks best, so I should choose red.\\nACTION=blue"])
>>> guard = Guard(["red", "blue"], policies=[OverrideToRationale()])
>>> with capture_telemetry(guard) as events:
...     guard.step(agent, "pick a button").action
'red'
>>> events[0].corrections[0].to_action
'red'
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from guardrail.actions import ActionSpace
from guardrail.decision import Decision
from guardrail.detectors.base import Finding
from guardrail.exceptions import ConfigurationError, GuardrailError
from guardrail.history import EpisodeHistory, HistoryView
from guardrail.state import StepState
from guardrail.telemetry.events import StepEvent
from guardrail.telemetry.sinks import MemorySink

if TYPE_CHECKING:
    from guardrail.guard import Guard

__all__ = [
    "AsyncScriptedAgent",
    "FunctionAgent",
    "ScriptExhaustedError",
    "ScriptedAgent",
    "capture_telemetry",
    "make_step_state",
]


class ScriptExhaustedError(GuardrailError):
    """A ScriptedAgent was called more times than it has outputs."""


class ScriptedAgent:
    """Returns the given outputs in order, one per call, and records every prompt it was sent (``prompts``).

    An output that is an exception instance is raised instead of returned.
    """

    def __init__(self, outputs: Iterable[Any], *, name: str = "scripted") -> None:
        self.outputs = list(outputs)
        if not self.outputs:
            raise ConfigurationError("ScriptedAgent needs at least one output")
        self.name = name
        self.prompts: list[Any] = []
        self._lock = threading.Lock()

    @property
    def calls(self) -> int:
        """How many times the agent was called."""
        return len(self.prompts)

    def _next(self, prompt: Any) -> Any:
        with self._lock:
            if len(self.prompts) >= len(self.outputs):
                raise ScriptExhaustedError(
                    f"ScriptedAgent was called {len(self.prompts) + 1} times but has {len(self.outputs)} outputs"
                )
            self.prompts.append(prompt)
            output = self.outputs[len(self.prompts) - 1]
        if isinstance(output, BaseException):
            raise output
        return output

    def __call__(self, prompt: Any) -> Any:
        """The next scripted output."""
        return self._next(prompt)


class AsyncScriptedAgent(ScriptedAgent):
    """A :class:`ScriptedAgent` with an async ``__call__``."""

    async def __call__(self, prompt: Any) -> Any:
        """The next scripted output."""
        return self._next(prompt)


class FunctionAgent:
    """An agent from a function ``fn(prompt) -> output``; records prompts like :class:`ScriptedAgent`."""

    def __init__(self, fn: Callable[[Any], Any], *, name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigurationError(f"FunctionAgent needs a callable, got {fn!r}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "function")
        self.prompts: list[Any] = []

    def __call__(self, prompt: Any) -> Any:
        """Call the function."""
        self.prompts.append(prompt)
        return self.fn(prompt)


@contextmanager
def capture_telemetry(guard: Guard) -> Iterator[list[StepEvent]]:
    """Collect the step events ``guard`` emits inside the block (the list fills as steps run)."""
    sink = MemorySink()
    captured: list[StepEvent] = []

    class _Collect:
        def emit(self, event: Any) -> None:
            sink.emit(event)
            if isinstance(event, StepEvent):
                captured.append(event)

        def __repr__(self) -> str:
            return "capture_telemetry()"

    collector = _Collect()
    guard.telemetry.sinks.append(collector)
    try:
        yield captured
    finally:
        guard.telemetry.sinks.remove(collector)


def make_step_state(
    actions: ActionSpace | Iterable[str],
    decision: Decision | None = None,
    *,
    history: Iterable[tuple[str, float | None]] | HistoryView | None = None,
    findings: Iterable[Finding] = (),
    seed: int = 0,
    **overrides: Any,
) -> StepState:
    """Build a StepState for tests: ``history`` as ``[(action, reward or None), ...]``.

    >>> state = make_step_state(["red", "blue"], history=[("red", 1.0), ("red", 0.0)])
    >>> state.history.counts
    (2, 0)
    """
    space = ActionSpace.of(actions)
    if isinstance(history, HistoryView):
        view = history
    else:
        episode = EpisodeHistory(len(space))
        for action, reward in history or ():
            index = episode.add_step(space.index(action))
            if reward is not None:
                episode.add_reward(float(reward), index)
        view = episode.view()
    fields: dict[str, Any] = {"step": view.t, "seed": (seed,), **overrides}
    return StepState(
        actions=space,
        decision=decision if decision is not None else Decision(),
        history=view,
        findings=tuple(findings),
        **fields,
    )
