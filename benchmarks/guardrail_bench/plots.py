"""PNG plots of benchmark results: curves with 95% bands, the knowing-doing heatmap, grouped bars.

matplotlib is optional (extra ``plot``); it is imported lazily, with the Agg backend, when a plot is drawn.
Every function takes plain figures (means, half-widths, table cells), so results loaded back from
``results.json`` can be plotted again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from guardrail.exceptions import MissingDependencyError

__all__ = ["Curve", "plot_bars", "plot_curves", "plot_knowing_doing"]

#: One line of a curve plot: ``(label, mean per step, 95% CI half-width per step)``.
Curve = tuple[str, Sequence[float], Sequence[float]]


def _pyplot() -> Any:
    """matplotlib.pyplot with a non-interactive backend, or a MissingDependencyError naming extra ``plot``."""
    try:
        import matplotlib
    except ImportError as error:
        raise MissingDependencyError(
            "matplotlib", extra="plot", feature="benchmark plots", distribution="guardrail-bench"
        ) from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: str | Path) -> Path:
    """Lay ``figure`` out and write it to ``path`` as a PNG, creating its folder; returns the path."""
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    return out


def plot_curves(curves: Sequence[Curve], path: str | Path, *, title: str, ylabel: str) -> Path:
    """Mean curves over steps ``1..T`` with shaded 95% confidence bands; writes a PNG and returns its path."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=90)
    try:
        colours = plt.get_cmap("tab20" if len(curves) > 10 else "tab10")
        for index, (label, mean, band) in enumerate(curves):
            steps = list(range(1, len(mean) + 1))
            low = [m - b for m, b in zip(mean, band, strict=True)] if band else list(mean)
            high = [m + b for m, b in zip(mean, band, strict=True)] if band else list(mean)
            style = "--" if "baseline" in label else "-"  # baselines dashed
            colour = colours(index)
            (line,) = axes.plot(steps, list(mean), style, label=label, linewidth=1.4, color=colour)
            axes.fill_between(steps, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
        axes.set_xlabel("step t")
        axes.set_ylabel(ylabel)
        axes.set_title(title, fontsize=10)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="best")
        return _save(figure, path)
    finally:
        plt.close(figure)


def plot_knowing_doing(table: Mapping[str, Mapping[str, float]], path: str | Path, *, title: str) -> Path:
    """The knowing-doing 2x3 table (percent of steps) as an annotated heatmap; writes a PNG."""
    plt = _pyplot()
    rows = ("rationale_correct", "rationale_wrong")
    columns = ("greedy", "optimal", "other")
    cells = [[float(table.get(row, {}).get(column, 0.0)) for column in columns] for row in rows]
    figure, axes = plt.subplots(figsize=(4.6, 2.6), dpi=90)
    try:
        image = axes.imshow(cells, cmap="Blues", vmin=0.0, vmax=max(100.0 / 1.5, max(max(r) for r in cells)))
        axes.set_xticks(range(3), ["greedy action", "optimal (UCB)", "other"], fontsize=8)
        axes.set_yticks(range(2), ["rationale correct", "rationale wrong"], fontsize=8)
        for i, row in enumerate(cells):
            for j, value in enumerate(row):
                axes.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=9)
        axes.set_title(title, fontsize=9)
        figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="% of steps")
        return _save(figure, path)
    finally:
        plt.close(figure)


def plot_bars(
    groups: Sequence[str], series: Mapping[str, Sequence[float | None]], path: str | Path, *, title: str, ylabel: str
) -> Path:
    """Grouped bars: one group per entry of ``groups``, one bar per series (None draws no bar); writes a PNG."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=90)
    try:
        colours = plt.get_cmap("tab10")
        width = 0.8 / max(len(series), 1)
        for index, (label, values) in enumerate(series.items()):
            xs = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
            heights = [float("nan") if v is None else float(v) for v in values]
            axes.bar(xs, heights, width=width, label=label, color=colours(index))
        axes.set_xticks(range(len(groups)), list(groups), fontsize=7)
        axes.set_ylabel(ylabel)
        axes.set_title(title, fontsize=10)
        axes.grid(alpha=0.3, axis="y")
        axes.legend(fontsize=7, loc="best")
        return _save(figure, path)
    finally:
        plt.close(figure)
