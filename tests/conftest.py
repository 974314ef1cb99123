"""Fixtures shared by the core tests."""

from __future__ import annotations

import pytest

COLOURS = ["red", "green", "blue"]


@pytest.fixture
def colours() -> list[str]:
    """Three colour-named actions."""
    return list(COLOURS)
