"""Make the report pictures of docs/telemetry.md from the demo's telemetry, so that they stay current.

    .venv/bin/python scripts/make_report_images.py [--out docs/img] [--no-screenshot]

Runs ``guardrail demo`` (seed 0, its defaults) into a temporary file, then writes into ``--out``:

- ``report-rates.png``: rates over wall-clock time (``guardrail report FILE --by agent --plot``),
- ``report-rates-step.png``: the same over the step index (``--x step``),
- ``report-matrix.png``: the rationale-action matrix,
- ``report-interventions.png``: interventions by policy and outcome,
- ``report-html.png``: the top of the HTML page (``--html``) as headless Chromium renders it (needs the system's
  Chromium; the page must load with no console error).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from guardrail.telemetry import plots
from guardrail.telemetry.html import write_html
from guardrail.telemetry.read import read_events
from guardrail.telemetry.report import summarize_many
from guardrail_bench.demo import run_demo

REPO = Path(__file__).resolve().parent.parent


def _chromium() -> ModuleType:
    spec = importlib.util.spec_from_file_location("headless_chromium", REPO / "scripts" / "headless_chromium.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    """Write the pictures; 1 if the page had console errors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--no-screenshot", action="store_true", help="skip the browser screenshot of the page")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "guardrail-demo-events.jsonl"
        with contextlib.redirect_stdout(io.StringIO()):
            run_demo(telemetry=events)
        log = read_events(events)
        summary, by_agent, by_episode = summarize_many(
            log.records(), by=["agent", "agent", "episode"], series={None, "agent"}
        )
        pictures = {
            "report-rates.png": plots.rates_figure(summary, x="time"),
            "report-rates-step.png": plots.rates_figure(summary, x="step"),
            "report-matrix.png": plots.matrix_figure(summary),
            "report-interventions.png": plots.interventions_figure(summary),
        }
        for name, figure in pictures.items():
            (args.out / name).write_bytes(plots.png_bytes(figure, dpi=90))
            print(f"wrote {args.out / name}")
        if args.no_screenshot:
            return 0
        page_path = write_html(
            Path(tmp) / "report.html", summary, by_agent=by_agent, by_episode=by_episode, sources=[events.name]
        )
        page = _chromium().load(page_path, width=1280, max_height=1900)
    if page.errors:
        for error in page.errors:
            print(f"console error: {error}", file=sys.stderr)
        return 1
    (args.out / "report-html.png").write_bytes(page.screenshot)
    print(f"wrote {args.out / 'report-html.png'} (the top 1900 of {page.size[1]} CSS px; no console errors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
