"""The report's pictures (matplotlib, extra ``plot``): rates over time, the rationale-action matrix, interventions.

Each ``*_figure`` function takes a :class:`~guardrail.telemetry.report.Summary` computed with ``series=True`` and
returns a matplotlib figure; :func:`save_pictures` writes all three as PNGs (what ``guardrail report --plot``
does) and :func:`png_bytes` gives one as bytes (what the HTML page inlines).

- **Rates** (:func:`rates_figure`): per group, over wall-clock time bins (or the step index), each rate as its
  hits over its count summed over a rolling window of points, so a few episodes do not zig-zag between 0 and 1:
  how often the first answer acted against its rationale against how often the executed action still did; how
  often the guard corrected and how often that changed the action; the mean reward; and how many steps each
  point holds.
- **Matrix** (:func:`matrix_figure`): what the rationale recommended (rows) against what the agent did
  (columns), for first answers and after the guard; cells give counts, shading the share of the row.
- **Interventions** (:func:`interventions_figure`): per policy, corrections that changed the action, applied
  ones that did not, and ones not applied (shadow or budget); and, where rewards exist, the mean reward of steps
  an override or exploration changed against the other steps.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from guardrail.exceptions import InvalidInputError, MissingDependencyError
from guardrail.telemetry.report import Figures, Summary, TimeBin, printable

__all__ = ["interventions_figure", "matrix_figure", "png_bytes", "rates_figure", "save_pictures"]

Axis = Literal["time", "step"]
MAX_GROUPS = 8
"""Groups drawn in one picture (the first, in the summary's order)."""
_FEW_POINTS = 40  # markers on lines with at most this many points


def _pyplot() -> Any:
    """matplotlib.pyplot with the non-interactive Agg backend, or a MissingDependencyError naming extra ``plot``."""
    try:
        import matplotlib
    except ImportError as error:
        raise MissingDependencyError("matplotlib", extra="plot", feature="guardrail report pictures") from error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _groups(summary: Summary) -> list[Figures]:
    return summary.groups[:MAX_GROUPS] if summary.groups else [summary.total]


def _label(text: str, limit: int = 28) -> str:
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rolling(hits: npt.NDArray[np.float64], n: npt.NDArray[np.float64], window: int) -> npt.NDArray[np.float64]:
    """Sum of hits over sum of counts in a centred window (cut at the ends); NaN where the window holds no count."""
    index = np.arange(len(n))
    low = np.clip(index - (window - 1) // 2, 0, len(n))
    high = np.clip(index + window // 2 + 1, 0, len(n))
    hit_sums = np.concatenate([[0.0], np.cumsum(hits)])
    count_sums = np.concatenate([[0.0], np.cumsum(n)])
    h = hit_sums[high] - hit_sums[low]
    m = count_sums[high] - count_sums[low]
    out: npt.NDArray[np.float64] = np.full(len(n), np.nan)
    np.divide(h, m, out=out, where=m > 0)
    return out


def _time_unit(span: float) -> tuple[float, str]:
    if span >= 3 * 3600:
        return 3600.0, "h"
    if span >= 3 * 60:
        return 60.0, "min"
    return 1.0, "s"


def _dense(
    figures: Sequence[Figures], x: Axis
) -> tuple[npt.NDArray[np.float64], list[dict[str, npt.NDArray[np.float64]]]]:
    """The x positions shared by the groups and, per group, each count as an array over them (0 where absent)."""
    if x == "time":
        starts = sorted({b.start for f in figures for b in f.timeline})
        position = {start: i for i, start in enumerate(starts)}
        keys: list[float] = starts
    else:
        steps = sorted({p.step for f in figures for p in f.series})
        lo, hi = (steps[0], steps[-1]) if steps else (0, -1)
        keys = [float(s) for s in range(lo, hi + 1)]
        position = {float(s): i for i, s in enumerate(keys)}
    fields = (
        "steps",
        "answered_steps",
        "knowing_doing_gap_steps",
        "agreement_steps",
        "agreeing_steps",
        "intervened_steps",
        "changed_steps",
        "reward_steps",
    )
    per_group = []
    for f in figures:
        arrays = {name: np.zeros(len(keys)) for name in (*fields, "reward_sum")}
        points: Sequence[Any] = f.timeline if x == "time" else f.series
        for point in points:
            i = position[point.start if isinstance(point, TimeBin) else float(point.step)]
            for name in fields:
                arrays[name][i] = getattr(point, name)
            if point.mean_reward is not None:
                arrays["reward_sum"][i] = point.mean_reward * point.reward_steps
        per_group.append(arrays)
    xs = np.asarray(keys, dtype=np.float64)
    if x == "time" and figures and figures[0].timeline:
        first = next(f.timeline[0] for f in figures if f.timeline)
        xs = xs + (first.end - first.start) / 2  # bin centres
    return xs, per_group


def rates_figure(summary: Summary, *, x: Axis = "time", window: int = 5) -> Any:
    """Rates per group over wall-clock time bins or the step index, rolling over ``window`` points, with counts."""
    if x not in ("time", "step"):
        raise InvalidInputError(f"x must be time or step, got {x!r}")
    if window < 1:
        raise InvalidInputError(f"window must be >= 1, got {window}")
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    figures = _groups(summary)
    if not any(f.timeline if x == "time" else f.series for f in figures):
        raise InvalidInputError("the summary has no series: summarise with series=True")
    xs, dense = _dense(figures, x)
    if x == "time":
        bins = [b for f in figures for b in f.timeline]
        origin = min(b.start for b in bins)
        width = bins[0].end - bins[0].start
        span = max(b.end for b in bins) - origin
        scale, unit = _time_unit(span)
        xs = (xs - origin) / scale
        xlabel = f"wall-clock time since the first step ({unit})"
        about = f"over wall-clock time ({len(xs)} bins of {width / scale:.3g} {unit}; rolling over {window} bins)"
    else:
        xlabel = "step index (per episode)"
        about = f"per step index (rolling over {window} steps)"
    fig, axes = plt.subplots(2, 2, figsize=(12.5, 7.4), sharex=True)
    (against, corrected), (reward, counts) = axes
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    any_reward = any(d["reward_steps"].sum() > 0 for d in dense)
    few = max(int((d["steps"] > 0).sum()) for d in dense) <= _FEW_POINTS  # one choice for the whole picture
    for index, (f, d) in enumerate(zip(figures, dense, strict=True)):
        colour = colours[index % len(colours)]
        present = d["steps"] > 0
        style: dict[str, Any] = {"color": colour, "linewidth": 1.5}
        if few:
            style.update(marker="o", markersize=3.5)

        def draw(ax: Any, hits: Any, n: Any, dashed: bool = False, present: Any = present, style: Any = style) -> None:
            ys = _rolling(hits, n, window)
            ys[~present] = np.nan
            # solid lines wide and underneath, dashed ones thin on top: where the two coincide both stay visible
            extra = (
                {"linestyle": (0, (4, 2)), "linewidth": 1.2, "zorder": 3}
                if dashed
                else {"linewidth": 2.6, "alpha": 0.75}
            )
            ax.plot(xs, ys, **{**style, **extra})

        draw(against, d["agreement_steps"] - d["agreeing_steps"], d["agreement_steps"])
        draw(against, d["knowing_doing_gap_steps"], d["answered_steps"], dashed=True)
        draw(corrected, d["intervened_steps"], d["steps"])
        draw(corrected, d["changed_steps"], d["steps"], dashed=True)
        if any_reward:
            mean = _rolling(d["reward_sum"], d["reward_steps"], window)
            mean[d["reward_steps"] == 0] = np.nan
            reward.plot(xs, mean, **style)
        counts.plot(xs, np.where(present, d["steps"], np.nan), drawstyle="steps-mid", label=_label(f.key), **style)
    against.set_title("acting against its own rationale")
    against.set_ylabel("share of steps")
    against.legend(
        handles=[
            Line2D([], [], color="0.3", linestyle="--", label="first answer (knowing-doing gap)"),
            Line2D([], [], color="0.3", linestyle="-", label="executed action (after the guard)"),
        ],
        fontsize="small",
        loc="upper right",
    )
    corrected.set_title("guard corrections")
    corrected.legend(
        handles=[
            Line2D([], [], color="0.3", linestyle="-", label="steps with an applied correction"),
            Line2D([], [], color="0.3", linestyle="--", label="steps whose action a correction changed"),
        ],
        fontsize="small",
        loc="upper right",
    )
    for ax in (against, corrected):
        ax.set_ylim(-0.03, 1.03)
    reward.set_title("mean reward")
    if not any_reward:
        reward.text(0.5, 0.5, "no reward events in these files", ha="center", va="center", transform=reward.transAxes)
        reward.set_yticks([])
    counts.set_title("steps per point (the rates' denominators)")
    counts.set_ylim(bottom=0)
    counts.legend(fontsize="small", loc="best", title="group" if summary.groups else None)
    for ax in (reward, counts):
        ax.set_xlabel(xlabel)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        if x == "step":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    counts.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(f"guardrail report: rates {about}", fontsize="medium")
    fig.tight_layout()
    return fig


def _matrix_labels(cells: Sequence[tuple[str | None, str | None, int]], limit: int) -> list[str]:
    totals: dict[str, int] = {}
    for said, did, n in cells:
        for action in (said, did):
            if action is not None:
                totals[action] = totals.get(action, 0) + n
    ranked = sorted(totals, key=lambda a: (-totals[a], a))
    kept = sorted(ranked[:limit])
    return kept + (["(other)"] if len(ranked) > limit else [])


def matrix_figure(summary: Summary, *, max_actions: int = 12, max_groups: int = 3) -> Any:
    """What the rationale recommended (rows) against what the agent did (columns), first answers and after the
    guard, for up to ``max_groups`` groups; actions beyond the ``max_actions`` most frequent are pooled."""
    plt = _pyplot()
    figures = summary.groups[:max_groups] if summary.groups else [summary.total]
    if not any(f.matrix for f in figures):
        raise InvalidInputError("the summary has no matrix: summarise with series=True")
    labels = _matrix_labels(
        [(c.rationale_action, c.action, c.first + c.final) for f in figures for c in f.matrix], max_actions
    )
    unnamed = any(c.rationale_action is None for f in figures for c in f.matrix)
    invalid = any(c.action is None for f in figures for c in f.matrix)
    rows = [*labels, *(["(none)"] if unnamed else [])]
    cols = [*labels, *(["(invalid)"] if invalid else [])]
    fig, axes = plt.subplots(
        len(figures), 2, figsize=(11.5, 0.6 + 5.0 * len(figures) * max(0.7, len(rows) / 12)), squeeze=False
    )
    kept = set(labels)
    for row_axes, f in zip(axes, figures, strict=True):
        for ax, which, title in zip(row_axes, ("first", "final"), ("first answers", "after the guard"), strict=True):
            grid = np.zeros((len(rows), len(cols)), dtype=np.int64)
            for cell in f.matrix:
                n = getattr(cell, which)
                if not n:
                    continue
                said = cell.rationale_action
                did = cell.action
                r = rows.index("(none)" if said is None else said if said in kept else "(other)")
                c = cols.index("(invalid)" if did is None else did if did in kept else "(other)")
                grid[r, c] += n
            row_sums = grid.sum(axis=1, keepdims=True)
            share = np.divide(grid, row_sums, out=np.zeros(grid.shape), where=row_sums > 0)
            ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
            if len(rows) <= 16:
                for (r, c), n in np.ndenumerate(grid):
                    if n:
                        ax.text(
                            c,
                            r,
                            str(n),
                            ha="center",
                            va="center",
                            fontsize=7,
                            color="white" if share[r, c] > 0.6 else "black",
                        )
            total = int(grid.sum())
            on_diagonal = int(sum(grid[i, i] for i in range(len(labels))))
            agreement = (
                f"{100 * on_diagonal / total:.1f}% ({on_diagonal}/{total}) on the diagonal" if total else "no steps"
            )
            ax.set_title(f"{_label(f.key)}: {title}\n{agreement}", fontsize="medium")
            ax.set_xticks(range(len(cols)), [_label(c, 16) for c in cols], rotation=60, ha="right", fontsize=8)
            ax.set_yticks(range(len(rows)), [_label(r, 16) for r in rows], fontsize=8)
            ax.set_xlabel("what the agent did")
            ax.set_ylabel("what the rationale recommended")
    fig.suptitle("rationale-action matrix (counts; shading: share of the row)", fontsize="medium")
    fig.tight_layout()
    return fig


def interventions_figure(summary: Summary) -> Any:
    """Per group and policy: corrections that changed the action, applied without a change, not applied; and the
    mean reward of steps an override or exploration changed against the other steps, with counts."""
    plt = _pyplot()
    figures = _groups(summary)
    policies = sum(len(f.interventions) for f in figures)
    fig, (bars, outcome) = plt.subplots(1, 2, figsize=(12.5, max(3.6, 1.4 + 0.5 * policies)))
    names: list[str] = []
    changed: list[int] = []
    unchanged: list[int] = []
    not_applied: list[int] = []
    for f in figures:
        for p in f.interventions:
            names.append(f"{_label(f.key, 18)} · {_label(p.policy, 22)}" if summary.groups else _label(p.policy, 30))
            changed.append(p.changed_action)
            unchanged.append(p.applied - p.changed_action)
            not_applied.append(p.proposed - p.applied)
    if names:
        ys = np.arange(len(names))[::-1]
        left = np.zeros(len(names))
        for values, label, colour in (
            (changed, "applied, changed the action", "#2a7ab9"),
            (unchanged, "applied, action unchanged", "#9ecae1"),
            (not_applied, "not applied (shadow or budget)", "#d9d9d9"),
        ):
            bars.barh(ys, values, left=left, color=colour, label=label)
            left = left + np.asarray(values)
        for y, total in zip(ys, left, strict=True):
            bars.text(total, y, f" {int(total)}", va="center", fontsize=8)
        bars.set_yticks(ys, names, fontsize=8)
        bars.set_xlabel("corrections proposed")
        bars.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
        bars.set_xlim(0, max(left) * 1.15 + 1)
    else:
        bars.text(0.5, 0.5, "no corrections in these events", ha="center", va="center", transform=bars.transAxes)
        bars.set_yticks([])
    bars.set_title("corrections by policy and outcome")
    rewarded = [f for f in figures if f.outcome is not None]
    if rewarded:
        width = 0.38
        xs = np.arange(len(rewarded))
        bars_of = (
            (-width / 2, "override/explore changed the action", "#2a7ab9", True),
            (width / 2, "other steps", "#bdbdbd", False),
        )
        for shift, label, colour, changed_side in bars_of:
            means: list[tuple[float | None, int]] = []
            for f in rewarded:
                assert f.outcome is not None
                o = f.outcome
                means.append(
                    (o.changed_mean_reward, o.changed_steps)
                    if changed_side
                    else (o.unchanged_mean_reward, o.unchanged_steps)
                )
            heights = [v if v is not None else 0.0 for v, _ in means]
            outcome.bar(xs + shift, heights, width, color=colour, label=label)
            for x, (v, n) in zip(xs + shift, means, strict=True):
                text = f"{v:.2f}\n(n={n})" if v is not None else "n=0"
                outcome.text(x, v if v is not None else 0.0, text, ha="center", va="bottom", fontsize=7)
        outcome.set_xticks(xs, [_label(f.key, 18) for f in rewarded], fontsize=8)
        outcome.axhline(0, color="0.4", linewidth=0.8)
        outcome.set_ylabel("mean reward of the step")
        outcome.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
        outcome.margins(y=0.25)
    else:
        outcome.text(
            0.5, 0.5, "no reward events: outcomes need rewards", ha="center", va="center", transform=outcome.transAxes
        )
        outcome.set_yticks([])
    outcome.set_title("did the changes pay off? mean reward of the step itself", fontsize="medium")
    fig.tight_layout()
    return fig


def png_bytes(figure: Any, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.15)
    plt.close(figure)
    return buffer.getvalue()


def save_pictures(summary: Summary, path: str | Path, *, x: Axis = "time", window: int = 5) -> list[Path]:
    """Write ``path`` (the rates), ``STEM-matrix.png`` and ``STEM-interventions.png`` beside it; the paths written.

    The directory is created when missing.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    stem = out.with_suffix("") if out.suffix.lower() == ".png" else out
    suffix = out.suffix or ".png"
    targets: list[tuple[Path, Callable[[], Any]]] = [
        (out, lambda: rates_figure(summary, x=x, window=window)),
        (Path(f"{stem}-matrix{suffix}"), lambda: matrix_figure(summary)),
        (Path(f"{stem}-interventions{suffix}"), lambda: interventions_figure(summary)),
    ]
    written = []
    for target, make in targets:
        target.write_bytes(png_bytes(make(), dpi=110))
        written.append(target)
    return written
