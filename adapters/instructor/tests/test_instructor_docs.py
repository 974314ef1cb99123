"""The ``## instructor`` examples in docs/adapters.md run as written, against a scripted OpenAI endpoint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from instructor_fakes import BASE_URL, ScriptedChat, answer

ADAPTERS_PAGE = Path(__file__).resolve().parents[3] / "docs" / "adapters.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def instructor_section() -> str:
    text = ADAPTERS_PAGE.read_text(encoding="utf-8")
    start = text.index("\n## instructor")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_instructor_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every python block of the section runs, in order, with OpenAI(...) answered by a script."""
    blocks = BLOCK.findall(instructor_section())
    assert len(blocks) >= 2
    chat = ScriptedChat([answer("Blue looks best, so I choose blue.", "blue")] * 10)

    class ScriptedOpenAI(openai.OpenAI):  # still an openai.OpenAI, as instructor.from_openai checks
        def __init__(self, **kwargs: Any) -> None:
            transport = httpx2.MockTransport(chat.handle)
            super().__init__(api_key="x", base_url=BASE_URL, http_client=httpx2.Client(transport=transport))

    monkeypatch.setattr(openai, "OpenAI", ScriptedOpenAI)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_adapters_instructor"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/adapters.md instructor block {number}", "exec"), namespace)
    assert chat.requests
    assert (tmp_path / "guardrail-events.jsonl").exists()
