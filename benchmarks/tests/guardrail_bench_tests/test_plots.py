"""Plots: PNGs with bands, and a clear error naming the ``plot`` extra when matplotlib is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from guardrail.exceptions import MissingDependencyError
from guardrail_bench.plots import plot_curves, plot_knowing_doing


def test_curves_and_heatmap_are_pngs(tmp_path: Path) -> None:
    """Both plots write PNG files."""
    curves = plot_curves([("a", [1.0, 2.0, 3.0], [0.1, 0.2, 0.3])], tmp_path / "c.png", title="t", ylabel="y")
    table = {"rationale_correct": {"greedy": 58.1, "optimal": 21.6, "other": 10.6}}
    heat = plot_knowing_doing(table, tmp_path / "h.png", title="t")
    assert curves.read_bytes()[:4] == heat.read_bytes()[:4] == b"\x89PNG"


def test_missing_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib the error says `pip install 'guardrail-bench[plot]'`."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"guardrail-bench\[plot\]"):
        plot_curves([], tmp_path / "x.png", title="t", ylabel="y")


def test_progress_bar_prints_one_line_per_finished_configuration() -> None:
    """Off a terminal the bar prints a line when a configuration finishes, with the overall share."""
    import io

    from guardrail_bench.output import Progress

    stream = io.StringIO()
    progress = Progress(4, stream=stream)
    for label in ("a", "b"):
        for done in (1, 2):
            progress(label, done, 2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "2/2" in lines[0]
    assert "100%" in lines[1]
