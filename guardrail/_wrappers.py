"""The agents :meth:`Guard.wrap` returns: an agent and its guard, called as the agent was."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrail._calling import AsyncAgent, SyncAgent
from guardrail._step import StepResult

if TYPE_CHECKING:
    from guardrail.guard import Guard

__all__ = ["AsyncGuardedAgent", "GuardedAgent"]


class GuardedAgent:
    """A synchronous agent wrapped by a Guard."""

    def __init__(self, guard: Guard, agent: SyncAgent) -> None:
        self.guard = guard
        self.agent = agent

    def __call__(self, observation: Any, *, episode: str = "default", reward: float | None = None) -> StepResult:
        """Guard one step; see :meth:`Guard.step`."""
        return self.guard.step(self.agent, observation, episode=episode, reward=reward)

    async def acall(self, observation: Any, *, episode: str = "default", reward: float | None = None) -> StepResult:
        """Guard one step without blocking the event loop (the agent runs in a worker thread)."""
        return await self.guard.astep(self.agent, observation, episode=episode, reward=reward)


class AsyncGuardedAgent:
    """An async agent wrapped by a Guard."""

    def __init__(self, guard: Guard, agent: AsyncAgent) -> None:
        self.guard = guard
        self.agent = agent

    async def __call__(self, observation: Any, *, episode: str = "default", reward: float | None = None) -> StepResult:
        """Guard one step; see :meth:`Guard.astep`."""
        return await self.guard.astep(self.agent, observation, episode=episode, reward=reward)
