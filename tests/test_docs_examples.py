"""The Python examples in the docs run as written (each page's blocks in order, in one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
# Pages whose examples need no server, model or optional extra.
PAGES = ["getting-started.md", "concepts.md", "parsing.md", "policies.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", PAGES)
def test_python_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of the page runs without error (in a temporary working directory)."""
    path = DOCS / page
    if not path.exists():
        pytest.fail(f"docs/{page} is missing")
    blocks = BLOCK.findall(path.read_text(encoding="utf-8"))
    assert blocks, f"docs/{page} has no python examples"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"docs/{page} block {number}", "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message is the point
            pytest.fail(f"docs/{page} block {number} failed: {error!r}\n{block}")
