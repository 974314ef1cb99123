"""The HTML report in a real headless Chromium (the system's, not a downloaded one): it loads with no console
error, makes no request beyond the file and its inlined images, and a screenshot is saved as a test artifact.

Marked ``real``: run by ``make test-real`` (``.ci/run`` installs Chromium with apt when it is missing). The
screenshot goes to ``$GUARDRAIL_TEST_ARTIFACTS`` (default ``results/test-artifacts/`` in the repository).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from guardrail.telemetry.report import register

pytestmark = pytest.mark.real

REPO = Path(__file__).resolve().parents[2]


def _chromium() -> ModuleType:
    """scripts/headless_chromium.py (DevTools over a pipe), loaded by path; fails when Chromium is missing."""
    spec = importlib.util.spec_from_file_location("headless_chromium", REPO / "scripts" / "headless_chromium.py")
    assert spec is not None
    assert spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module  # its dataclasses look their module up while being built
        spec.loader.exec_module(module)
    if module.chromium_path() is None:
        pytest.fail("no chromium on PATH: apt-get install chromium (.ci/run does) or set GUARDRAIL_CHROMIUM")
    return module


def _artifacts() -> Path:
    out = Path(os.environ.get("GUARDRAIL_TEST_ARTIFACTS", REPO / "results" / "test-artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="guardrail")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_demo_report_renders_in_headless_chromium_with_no_console_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo's telemetry as an HTML page: it loads, every image decodes, no console error, no network."""
    pytest.importorskip("matplotlib")
    run_demo = pytest.importorskip("guardrail_bench.demo", reason="the demo is in guardrail-bench").run_demo
    chromium = _chromium()
    events = tmp_path / "demo.jsonl"
    run_demo(telemetry=events)
    page_path = tmp_path / "report.html"
    assert _report(["report", str(events), "--by", "agent", "--html", str(page_path)]) == 0
    capsys.readouterr()
    page = chromium.load(
        page_path,
        width=1280,
        evaluate=[
            "Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)",
            "Array.from(document.querySelectorAll('h2')).map(h => h.id)",
            "document.querySelectorAll('.card mark').length",
        ],
    )
    screenshot = _artifacts() / "report-html.png"
    assert page.screenshot is not None
    screenshot.write_bytes(page.screenshot)
    print(f"screenshot: {screenshot} ({page.size[0]}x{page.size[1]} CSS px)")
    assert page.loaded
    assert page.errors == []
    assert all(url.startswith(("file:", "data:")) for url in page.requests), page.requests
    images, sections, marks = page.values
    assert images == [True, True, True]
    assert sections == ["summary", "interventions", "pictures", "contradictions", "agents", "episodes", "definitions"]
    assert marks >= 1  # the evidence is highlighted in the contradictions
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.size[1] > 2000


def test_the_browser_check_catches_console_errors(tmp_path: Path) -> None:
    """The same check on a page that logs an error and throws reports both: a clean result above means clean."""
    chromium = _chromium()
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); throw new Error('bang');</script>"
        "</body></html>",
        encoding="utf-8",
    )
    page = chromium.load(broken, screenshot=False)
    assert page.loaded
    assert any("boom" in error for error in page.errors)
    assert any("bang" in error for error in page.errors)
