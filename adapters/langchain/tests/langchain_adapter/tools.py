"""The two tools every LangChain adapter test uses, fake-model and real-server alike."""

from __future__ import annotations

from langchain_core.tools import tool


@tool
def search_docs(query: str) -> str:
    """Search the documentation."""
    return f"docs about {query}: pip install guardrail"


@tool
def send_email(to: str, body: str) -> str:
    """Send an email."""
    return f"sent to {to}"
