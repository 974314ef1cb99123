"""Tools, a callback recorder and scripted answers shared by the adapter's unit tests."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import BaseTool

from .tools import search_docs, send_email

GAP = "The documentation answers this, so I should call search_docs."
"""A rationale that recommends search_docs (read with high confidence by the lexical reader)."""


TOOLS: list[BaseTool] = [search_docs, send_email]


class EventRecorder(BaseCallbackHandler):
    """Records the custom events a run dispatches, as (name, data)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(
        self,
        name: str,
        data: Any,
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Record one custom event."""
        self.events.append((name, data))

    def named(self, name: str) -> list[Any]:
        """The data of the events called ``name``."""
        return [data for event, data in self.events if event == name]


@pytest.fixture
def tools() -> list[BaseTool]:
    """search_docs and send_email."""
    return list(TOOLS)


@pytest.fixture
def recorder() -> EventRecorder:
    """A callback handler recording custom events."""
    return EventRecorder()
