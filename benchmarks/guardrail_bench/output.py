"""Writing a benchmark's results: ``results.json``, ``results.md`` and PNG plots, plus a progress bar.

Kept apart from the CLI so scripts and tests can write the same files.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from guardrail_bench.metrics import PAPER_KNOWING_DOING_TABLE
from guardrail_bench.runner import RunSummary
from guardrail_bench.suites import SuiteResult

__all__ = [
    "COST_NOTE",
    "Progress",
    "bandit_markdown",
    "cost_cells",
    "knowing_doing_markdown",
    "plot_results",
    "write_bandit_outputs",
    "write_json",
]


class Progress:
    """A one-line progress bar on stderr (no dependency): ``label [#####.....] done/total elapsed``.

    On a terminal the line is redrawn in place; otherwise one line is printed per finished label.
    """

    def __init__(self, total_units: int, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total_units = max(total_units, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.done_units = 0
        self.started = time.perf_counter()
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last: tuple[str, int] = ("", 0)

    def __call__(self, label: str, done: int, total: int) -> None:
        """Report that ``done`` of ``total`` episodes of configuration ``label`` are finished."""
        previous_label, previous_done = self._last
        self.done_units += done - (previous_done if previous_label == label else 0)
        self._last = (label, done)
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        fraction = min(self.done_units / self.total_units, 1.0)
        bar = "#" * int(fraction * 24)
        eta = elapsed / fraction - elapsed if fraction > 0 else math.nan
        line = f"{label:<32.32} [{bar:<24}] {done}/{total}  total {fraction:4.0%}  {elapsed:6.0f}s  eta {eta:5.0f}s"
        if self._interactive:
            self.stream.write("\r" + line)
            if fraction >= 1.0:
                self.stream.write("\n")
        elif done == total:
            self.stream.write(line + "\n")
        self.stream.flush()


def _pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}%}"


def _cost(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def cost_cells(summary: RunSummary, unguarded: RunSummary | None, *, tokens: bool) -> list[str]:
    """The cost-per-fix cells of one row: changed steps, extra calls per changed step and per regret removed,
    and (with ``tokens``) extra tokens per changed step. Empty for a baseline policy."""
    if not summary.guarded:
        return ["", "", ""] + ([""] if tokens else [])
    per_regret = summary.extra_calls_per_regret_removed(unguarded) if unguarded is not None else None
    if summary.extra_calls == 0:
        per_regret_text = "0"
    elif unguarded is None or summary.regret_removed(unguarded) <= 0:
        per_regret_text = "n/a (none removed)"
    else:
        per_regret_text = _cost(per_regret)
    cells = [
        _pct(summary.changed_rate, 1),
        _cost(summary.extra_calls_per_changed_step) if summary.changed_steps else "n/a (none changed)",
        per_regret_text,
    ]
    if tokens:
        cells.append(_cost(summary.extra_tokens_per_changed_step(unguarded), 0) if unguarded is not None else "n/a")
    return cells


COST_NOTE = (
    "Cost per fix: *changed* steps are those whose executed action a correction (not the fallback) changed; "
    "extra calls are agent calls beyond one per step, per changed step and per unit of regret removed against "
    "the unguarded row (per episode)."
)


def bandit_markdown(results: Sequence[SuiteResult]) -> str:
    """One markdown table per agent: every preset beside the baselines, with costs and the cost per fix.

    "vs unguarded" compares with the agent's ``none`` preset; "vs UCB" with the ``ucb`` baseline, if present.
    Tokens are shown where the agent reports them.
    """
    baselines = [r for r in results if r.preset == "baseline"]
    ucb = next((r.summary for r in baselines if r.agent in ("ucb", "linucb")), None)
    agents: list[str | None] = list(dict.fromkeys(r.agent for r in results if r.preset != "baseline"))
    blocks: list[str] = []
    tokens = any(r.summary.tokens is not None for r in results)
    cost_columns = ["changed steps", "extra calls / changed step", "extra calls / regret removed"]
    if tokens:
        cost_columns.append("extra tokens / changed step")
    columns = [
        "configuration", "policies", "regret (mean ± 95% CI)", "vs unguarded", "vs UCB", "coverage at T",
        "rationale-action agreement", "interventions / step", "agent calls / step", *cost_columns,
        "first-answer invalid", "executed invalid", "wall s",
    ]  # fmt: skip
    header = "| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|"
    for agent in agents or [None]:
        rows = [r for r in results if r.agent == agent] if agent is not None else []
        unguarded = next((r.summary for r in rows if r.preset == "none"), None)
        lines = [f"### {agent}\n" if agent is not None else "### baselines\n", header]
        for r in [*rows, *baselines]:
            s = r.summary
            versus = f"{s.regret_mean / unguarded.regret_mean - 1:+.0%}" if unguarded and unguarded.regret_mean else ""
            vs_ucb = f"{s.regret_mean / ucb.regret_mean - 1:+.0%}" if ucb and ucb.regret_mean else ""
            calls = f"{s.agent_calls_per_step:.2f}" if s.guarded else "0 (baseline)"
            name = f"{r.agent}/{r.preset}" if r.preset != "baseline" else f"{r.agent} (baseline)"
            lines.append(
                f"| {name} | {r.policies} | {s.regret_mean:.2f} ± {s.regret_ci95:.2f} | {versus if s.guarded else ''} "
                f"| {vs_ucb} | {s.coverage_final:.0%} | {_pct(s.kd_agreement)} | {s.interventions_per_step:.3f} "
                f"| {calls} | {' | '.join(cost_cells(s, unguarded, tokens=tokens))} "
                f"| {_pct(s.first_invalid_rate, 1) if s.guarded else ''} "
                f"| {_pct(s.executed_invalid_rate, 1) if s.guarded else ''} | {s.wall_seconds:.1f} |"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n" + COST_NOTE


def knowing_doing_markdown(table: dict[str, dict[str, float]], *, reference: bool = False) -> str:
    """The knowing-doing table (percent of steps) as markdown; with ``reference``, the paper's 27B in brackets."""
    lines = ["| | greedy action | optimal (UCB) action | other |", "|---|---|---|---|"]
    rows = (("rationale_correct", "rationale correct"), ("rationale_wrong", "rationale wrong"))
    for index, (row, label) in enumerate(rows):
        cells = []
        for column_index, column in enumerate(("greedy", "optimal", "other")):
            value = f"{table.get(row, {}).get(column, 0.0):.1f}"
            if reference:
                value += f" ({PAPER_KNOWING_DOING_TABLE[index][column_index]:.1f})"
            cells.append(value)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON (NaN written as null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(payload), indent=1) + "\n", encoding="utf-8")
    return path


def write_bandit_outputs(
    out: Path, results: Sequence[SuiteResult], *, header: dict[str, Any], plots: bool = True
) -> list[Path]:
    """Write ``results.json``, ``results.md`` and (with ``plots``) the PNGs into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = [write_json(out / "results.json", {**header, "configurations": [r.as_dict() for r in results]})]
    parts = [f"# guardrail bench: {header.get('environment', 'bandit')}\n", f"```\n$ {header['command']}\n```\n"]
    parts.append(f"{header.get('setting', '')}\n")
    parts.append(bandit_markdown(results))
    for r in results:
        if r.preset == "none":
            s = r.summary
            parts.append(
                f"\n#### knowing-doing table, {r.agent}, unguarded (% of all steps; first answers; "
                f"{_pct(s.first_invalid_rate, 1)} of steps had no legal action and are in no cell)\n"
            )
            parts.append(knowing_doing_markdown(s.knowing_doing_table, reference=r.agent == "knowing-doing"))
            if s.frequency:
                f = s.frequency
                parts.append(
                    f"\nfrequent / greedy / other share on steps whose most frequent action is not greedy: "
                    f"{_pct(float(f['frequent']), 1)} / {_pct(float(f['greedy']), 1)} / {_pct(float(f['other']), 1)} "
                    f"({f['n_steps']} steps)"
                )
    (out / "results.md").write_text("\n".join(parts) + "\n", encoding="utf-8")
    written.append(out / "results.md")
    if plots:
        written.extend(_bandit_plots(out, [r.as_dict() for r in results]))
    return written


def plot_results(out: Path) -> list[Path]:
    """(Re)draw the PNGs of a bandit ``results.json`` in ``out`` (e.g. after changing the plot style)."""
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return _bandit_plots(out, data["configurations"])


def _bandit_plots(out: Path, rows: Sequence[dict[str, Any]]) -> list[Path]:
    from guardrail_bench.plots import plot_curves, plot_knowing_doing

    written: list[Path] = []
    baselines = [r for r in rows if r["preset"] == "baseline"]
    agents = list(dict.fromkeys(r["agent"] for r in rows if r["preset"] != "baseline")) or ["baselines"]
    for agent in agents:
        chosen = [r for r in rows if r["agent"] == agent and r["preset"] != "baseline"] + baselines
        slug = agent.replace("/", "_")
        labels = [r["preset"] if r["preset"] != "baseline" else f"{r['agent']} (baseline)" for r in chosen]
        written.append(
            plot_curves(
                [(lb, r["regret_curve"], r["regret_band"]) for lb, r in zip(labels, chosen, strict=True)],
                out / f"regret_{slug}.png",
                title=f"cumulative regret, {agent} (mean, 95% band)",
                ylabel="cumulative regret",
            )
        )
        written.append(
            plot_curves(
                [(lb, r["coverage_curve"], r["coverage_band"]) for lb, r in zip(labels, chosen, strict=True)],
                out / f"coverage_{slug}.png",
                title=f"coverage C_t, {agent} (mean, 95% band)",
                ylabel="fraction of arms tried",
            )
        )
        unguarded = next((r for r in chosen if r["preset"] == "none"), None)
        if unguarded is not None:
            written.append(
                plot_knowing_doing(
                    unguarded["knowing_doing_table"],
                    out / f"knowing_doing_{slug}.png",
                    title=f"knowing-doing table, {agent}, unguarded (% of steps)",
                )
            )
    return written
