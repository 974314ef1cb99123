"""Fixtures shared by the core tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

COLOURS = ["red", "green", "blue"]


@pytest.fixture
def colours() -> list[str]:
    """Three colour-named actions."""
    return list(COLOURS)


@pytest.fixture(params=["step", "astep"])
def run(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``run(guard, agent, observation, **kw)``: one step through ``Guard.step`` or ``Guard.astep``.

    A test that takes ``run`` states a behaviour of both (an async agent goes through ``astep`` either way).
    """
    if request.param == "step":
        return lambda guard, agent, observation="o", **kw: guard.step(agent, observation, **kw)
    return lambda guard, agent, observation="o", **kw: asyncio.run(guard.astep(agent, observation, **kw))
