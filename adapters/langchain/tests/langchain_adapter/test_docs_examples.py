"""The LangChain section of docs/adapters.md runs as written, with ChatOpenAI replaced by a scripted model."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import langchain_openai
import pytest
from langchain_core.messages import AIMessage

from guardrail_langchain.testing import ScriptedChatModel, tool_answer

DOCS = Path(__file__).resolve().parents[4] / "docs" / "adapters.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _section(text: str) -> str:
    start = text.index("## LangChain")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _fake_chat_openai(**_: Any) -> ScriptedChatModel:
    """A scripted stand-in for ChatOpenAI: a consistent search_docs call, then a final answer, repeated."""
    answers = [
        tool_answer("The docs answer this, so I should call search_docs.", "search_docs", {"query": "install"}),
        AIMessage(content="Install it with pip install guardrail-core."),
    ]
    return ScriptedChatModel(messages=itertools.cycle(answers))


def test_the_langchain_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of the LangChain section runs, in order, in one namespace."""
    blocks = BLOCK.findall(_section(DOCS.read_text(encoding="utf-8")))
    assert len(blocks) >= 4
    monkeypatch.setattr(langchain_openai, "ChatOpenAI", _fake_chat_openai)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_adapters_langchain"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/adapters.md LangChain block {number}", "exec"), namespace)
    assert (tmp_path / "guardrail-events.jsonl").exists()
