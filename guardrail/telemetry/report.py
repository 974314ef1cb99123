"""Summaries of telemetry: :func:`summarize` (Python) and ``guardrail report FILE...`` (the CLI renders the same).

Definitions (every rate is a fraction in [0, 1]; ``None`` when nothing was measurable):

- ``steps``: step events; ``episodes``: distinct (run, episode) pairs; ``errors``: steps whose status is not ok.
- ``agreement``: executed action == the action the final answer's rationale recommends
  (:attr:`StepEvent.agrees`), over the steps where both are known (``agreement_steps``).
- ``knowing_doing_gap_rate``: steps with a ``knowing_doing_gap`` finding on the first attempt, over steps with
  an answer (at least one agent call that returned). ``finding_rates`` gives the same for every finding kind.
- ``invalid_rate``: steps whose first answer had no legal action, over steps with an answer.
- ``frequent_action_rate``: steps whose executed action was the single most frequent action of the episode's
  history before the step, over steps where one action was strictly most frequent (the paper's frequency bias).
- ``greedy_rate``: steps whose executed action had the highest mean reward among the actions already tried
  (ties count as greedy), over steps where some tried action has a known reward. Rewards come from
  :class:`RewardEvent` joined by run, episode and step.
- ``coverage``: the mean over episodes of the episode's last coverage (fraction of actions tried).
- ``intervention_rate``: steps with an applied correction; ``interventions``: per policy, corrections proposed,
  applied, and applied ones that changed the action (``to_action != from_action``).
- ``extra_agent_calls_per_step``: agent calls beyond the first, per step.
- ``mean_reward``: mean reward over the steps whose reward is known (``reward_steps``).

The summariser reads plain dicts (``EventLog.records()``), not validated models, so a million events take
seconds; ``summarize`` accepts models too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from guardrail.exceptions import GuardrailError, InvalidInputError, MissingDependencyError
from guardrail.telemetry.events import RewardEvent, StepEvent
from guardrail.telemetry.read import PathLike, read_events

__all__ = [
    "Figures",
    "GroupBy",
    "PolicyFigures",
    "ReportFormat",
    "StepPoint",
    "Summary",
    "plot",
    "register",
    "render",
    "summarize",
    "summarize_files",
]

GroupBy = Literal["episode", "agent", "policy", "run"]
ReportFormat = Literal["table", "markdown", "json"]

KNOWING_DOING_GAP = "knowing_doing_gap"
_ALL = "all"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PolicyFigures(_Model):
    """What one policy did: corrections it proposed, applied, and applied ones that changed the action."""

    policy: str
    proposed: int
    applied: int
    changed_action: int

    @property
    def change_rate(self) -> float | None:
        """Of the applied corrections, the fraction that changed the action."""
        return self.changed_action / self.applied if self.applied else None


class StepPoint(_Model):
    """Figures at one step index, across episodes (for plots)."""

    step: int
    steps: int
    knowing_doing_gap_rate: float | None
    coverage: float | None
    intervention_rate: float


class Figures(_Model):
    """The summary figures of one group of steps (or of all of them); see the module docstring."""

    key: str
    steps: int
    episodes: int
    runs: int
    errors: int
    agreement: float | None
    agreement_steps: int
    knowing_doing_gap_rate: float | None
    frequent_action_rate: float | None
    frequent_action_steps: int
    coverage: float | None
    greedy_rate: float | None
    greedy_steps: int
    invalid_rate: float | None
    intervention_rate: float | None
    extra_agent_calls_per_step: float | None
    mean_reward: float | None
    reward_steps: int
    finding_rates: dict[str, float]
    interventions: list[PolicyFigures]
    series: list[StepPoint] = []


class Summary(_Model):
    """:func:`summarize`'s result: figures for all steps and, with ``by``, for each group."""

    by: GroupBy | None
    total: Figures
    groups: list[Figures]
    skipped_lines: int = 0

    def figures(self) -> list[Figures]:
        """The total, then the groups."""
        return [self.total, *self.groups]

    def group(self, key: str) -> Figures:
        """The figures of one group (``"all"`` is the total)."""
        for figures in self.figures():
            if figures.key == key:
                return figures
        raise KeyError(key)


class _Acc:
    """Running counts of one group."""

    __slots__ = (
        "agree",
        "agree_n",
        "answered",
        "corrections",
        "coverage",
        "episodes",
        "errors",
        "extra_calls",
        "freq_hits",
        "freq_n",
        "greedy_hits",
        "greedy_n",
        "intervened",
        "invalid",
        "kinds",
        "reward_n",
        "reward_sum",
        "runs",
        "series",
        "steps",
    )

    def __init__(self) -> None:
        self.steps = 0
        self.errors = 0
        self.answered = 0
        self.agree = 0
        self.agree_n = 0
        self.invalid = 0
        self.intervened = 0
        self.extra_calls = 0
        self.kinds: dict[str, int] = {}
        self.corrections: dict[str, list[int]] = {}
        self.coverage: dict[tuple[str, str], tuple[int, float]] = {}
        self.runs: set[str] = set()
        self.episodes: set[tuple[str, str]] = set()
        self.freq_hits = 0
        self.freq_n = 0
        self.greedy_hits = 0
        self.greedy_n = 0
        self.reward_sum = 0.0
        self.reward_n = 0
        self.series: dict[int, list[float]] = {}


class _Episode:
    __slots__ = ("accs", "actions", "rewards", "steps")

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.actions: list[str] = []
        self.accs: list[tuple[_Acc, ...]] = []
        self.rewards: dict[int, float] = {}


def summarize(
    events: Iterable[StepEvent | RewardEvent | Mapping[str, Any]],
    *,
    by: GroupBy | None = None,
    series: bool = False,
    skipped_lines: int = 0,
) -> Summary:
    """Summarise events (models, or the plain dicts of ``read_events(...).records()``).

    Args:
        by: also give figures per ``episode``, ``agent``, ``policy`` (the guard's configured policy chain,
            :attr:`StepEvent.policies`) or ``run``.
        series: also compute per-step-index figures (:attr:`Figures.series`) for plots.
        skipped_lines: carried into the summary (the reader's torn-line count).
    """
    if by not in (None, "episode", "agent", "policy", "run"):
        raise InvalidInputError(f"by must be one of episode, agent, policy, run; got {by!r}")
    total = _Acc()
    groups: dict[Any, _Acc] = {}
    episodes: dict[tuple[str, str], _Episode] = {}
    for item in events:
        data: Mapping[str, Any] = item.model_dump() if isinstance(item, (StepEvent, RewardEvent)) else item
        kind = data.get("type", "step")
        run_id = data.get("run_id", "")
        key = (run_id, data.get("episode", ""))
        episode = episodes.get(key)
        if episode is None:
            episode = episodes[key] = _Episode()
        if kind == "reward":
            reward = data.get("reward")
            if isinstance(reward, (int, float)):
                episode.rewards[data.get("step", -1)] = float(reward)
            continue
        if kind != "step":
            continue
        if by is None:
            accs: tuple[_Acc, ...] = (total,)
        else:
            group_key = _group_key(by, data, key)
            acc = groups.get(group_key)
            if acc is None:
                acc = groups[group_key] = _Acc()
            accs = (total, acc)
        _add_step(accs, data, key, run_id, series)
        action = data.get("final_action")
        if action is not None and data.get("status", "ok") == "ok":
            episode.steps.append(data.get("step", 0))
            episode.actions.append(action)
            episode.accs.append(accs)
    for episode in episodes.values():
        _replay(episode)
    runs_total = len(total.runs)
    labelled = [(_label(k, runs_total), acc) for k, acc in groups.items()]
    labelled.sort(key=lambda pair: pair[0])
    return Summary(
        by=by,
        total=_figures(_ALL, total),
        groups=[_figures(label, acc) for label, acc in labelled],
        skipped_lines=skipped_lines,
    )


def _group_key(by: GroupBy, data: Mapping[str, Any], episode_key: tuple[str, str]) -> Any:
    if by == "agent":
        return data.get("agent") or "(unknown)"
    if by == "run":
        return episode_key[0]
    if by == "episode":
        return episode_key
    policies = data.get("policies")
    return "+".join(policies) if policies else "(none)"


def _label(key: Any, runs: int) -> str:
    if isinstance(key, tuple):
        return f"{key[0]}/{key[1]}" if runs > 1 else str(key[1])
    return str(key)


def _add_step(accs: tuple[_Acc, ...], data: Mapping[str, Any], key: tuple[str, str], run_id: str, series: bool) -> None:
    status = data.get("status", "ok")
    calls = data.get("agent_calls", 0)
    errors = data.get("agent_errors")
    answered = calls > (len(errors) if errors else 0)
    final = data.get("final_action")
    said = data.get("final_rationale_action")
    agree = None if final is None or said is None else final == said
    first_kinds: set[str] = set()
    findings = data.get("findings")
    if findings:
        for finding in findings:
            if finding.get("attempt", 1) == 1:
                first_kinds.add(finding["kind"])
    gap = KNOWING_DOING_GAP in first_kinds
    invalid = answered and data.get("parsed_action") is None
    corrections = data.get("corrections")
    intervened = False
    changes: list[tuple[str, bool, bool]] = []
    if corrections:
        for correction in corrections:
            applied = correction.get("applied", True)
            intervened = intervened or applied
            changed = applied and correction.get("to_action") != correction.get("from_action")
            changes.append((correction["policy"], applied, changed))
    coverage = data.get("coverage")
    step = data.get("step", 0)
    extra = calls - 1 if calls > 1 else 0
    for acc in accs:
        acc.steps += 1
        acc.runs.add(run_id)
        acc.episodes.add(key)
        if status != "ok":
            acc.errors += 1
        if answered:
            acc.answered += 1
            if invalid:
                acc.invalid += 1
            for kind in first_kinds:
                acc.kinds[kind] = acc.kinds.get(kind, 0) + 1
        if agree is not None:
            acc.agree_n += 1
            if agree:
                acc.agree += 1
        if intervened:
            acc.intervened += 1
        acc.extra_calls += extra
        for policy, applied, changed in changes:
            counts = acc.corrections.get(policy)
            if counts is None:
                counts = acc.corrections[policy] = [0, 0, 0]
            counts[0] += 1
            if applied:
                counts[1] += 1
            if changed:
                counts[2] += 1
        if coverage is not None:
            seen = acc.coverage.get(key)
            if seen is None or step >= seen[0]:
                acc.coverage[key] = (step, coverage)
        if series:
            point = acc.series.get(step)
            if point is None:
                point = acc.series[step] = [0, 0, 0, 0.0, 0]
            point[0] += 1
            if answered and gap:
                point[1] += 1
            if intervened:
                point[2] += 1
            if coverage is not None:
                point[3] += coverage
                point[4] += 1


def _replay(episode: _Episode) -> None:
    """Walk the episode's executed actions in step order: frequent-action and greedy checks, rewards."""
    order: Sequence[int] = range(len(episode.steps))
    if any(episode.steps[i] > episode.steps[i + 1] for i in range(len(episode.steps) - 1)):
        order = sorted(order, key=episode.steps.__getitem__)
    rewards = episode.rewards
    counts: dict[str, int] = {}
    sums: dict[str, float] = {}
    rewarded: dict[str, int] = {}
    top: str | None = None
    top_count = 0
    top_unique = False
    for i in order:
        action = episode.actions[i]
        accs = episode.accs[i]
        if top_unique:
            hit = action == top
            for acc in accs:
                acc.freq_n += 1
                if hit:
                    acc.freq_hits += 1
        if rewarded:
            best = max(sums[a] / n for a, n in rewarded.items())
            n = rewarded.get(action)
            greedy = n is not None and sums[action] / n >= best - 1e-12
            for acc in accs:
                acc.greedy_n += 1
                if greedy:
                    acc.greedy_hits += 1
        count = counts.get(action, 0) + 1
        counts[action] = count
        if count > top_count:  # counts only grow by one, so the new top is strictly ahead of the rest
            top, top_count, top_unique = action, count, True
        elif count == top_count:
            top_unique = False
        reward = rewards.get(episode.steps[i])
        if reward is not None:
            sums[action] = sums.get(action, 0.0) + reward
            rewarded[action] = rewarded.get(action, 0) + 1
            for acc in accs:
                acc.reward_sum += reward
                acc.reward_n += 1


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


def _figures(key: str, acc: _Acc) -> Figures:
    coverages = [c for _, c in acc.coverage.values()]
    points = [
        StepPoint(
            step=step,
            steps=int(p[0]),
            knowing_doing_gap_rate=p[1] / p[0] if p[0] else None,
            coverage=p[3] / p[4] if p[4] else None,
            intervention_rate=p[2] / p[0] if p[0] else 0.0,
        )
        for step, p in sorted(acc.series.items())
    ]
    return Figures(
        key=key,
        steps=acc.steps,
        episodes=len(acc.episodes),
        runs=len(acc.runs),
        errors=acc.errors,
        agreement=_rate(acc.agree, acc.agree_n),
        agreement_steps=acc.agree_n,
        knowing_doing_gap_rate=_rate(acc.kinds.get(KNOWING_DOING_GAP, 0), acc.answered),
        frequent_action_rate=_rate(acc.freq_hits, acc.freq_n),
        frequent_action_steps=acc.freq_n,
        coverage=sum(coverages) / len(coverages) if coverages else None,
        greedy_rate=_rate(acc.greedy_hits, acc.greedy_n),
        greedy_steps=acc.greedy_n,
        invalid_rate=_rate(acc.invalid, acc.answered),
        intervention_rate=_rate(acc.intervened, acc.steps),
        extra_agent_calls_per_step=acc.extra_calls / acc.steps if acc.steps else None,
        mean_reward=acc.reward_sum / acc.reward_n if acc.reward_n else None,
        reward_steps=acc.reward_n,
        finding_rates={k: n / acc.answered for k, n in sorted(acc.kinds.items())},
        interventions=[
            PolicyFigures(policy=p, proposed=c[0], applied=c[1], changed_action=c[2])
            for p, c in sorted(acc.corrections.items())
        ],
        series=points,
    )


def summarize_files(
    paths: PathLike | Iterable[PathLike],
    *,
    by: GroupBy | None = None,
    run: str | None = None,
    episode: str | None = None,
    since: float | None = None,
    series: bool = False,
) -> Summary:
    """Summarise JSONL telemetry files (rotated backups included) without validating each line."""
    log = read_events(paths, run=run, episode=episode, since=since)
    summary = summarize(log.records(), by=by, series=series)
    return summary.model_copy(update={"skipped_lines": log.skipped_lines})


# -- rendering -------------------------------------------------------------------------------------------------

_ROWS: tuple[tuple[str, str, str], ...] = (
    # (label, Figures field, format: n = count, p = percent, f = number)
    ("steps", "steps", "n"),
    ("episodes", "episodes", "n"),
    ("rationale-action agreement", "agreement", "p"),
    ("knowing-doing gap rate", "knowing_doing_gap_rate", "p"),
    ("frequent-action rate", "frequent_action_rate", "p"),
    ("greedy rate", "greedy_rate", "p"),
    ("coverage (final, per episode)", "coverage", "p"),
    ("invalid rate", "invalid_rate", "p"),
    ("intervention rate", "intervention_rate", "p"),
    ("extra agent calls / step", "extra_agent_calls_per_step", "f"),
    ("mean reward", "mean_reward", "f"),
    ("steps with errors", "errors", "n"),
)
_SHORT = {
    "steps": "steps",
    "episodes": "episodes",
    "agreement": "agree",
    "knowing_doing_gap_rate": "kd-gap",
    "frequent_action_rate": "frequent",
    "greedy_rate": "greedy",
    "coverage": "coverage",
    "invalid_rate": "invalid",
    "intervention_rate": "interv",
    "extra_agent_calls_per_step": "extra/step",
    "mean_reward": "reward",
    "errors": "errors",
}


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if fmt == "p":
        return f"{100 * value:.1f}%"
    if fmt == "f":
        return f"{value:.3f}"
    return str(value)


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |" if markdown else "  ".join(padded).rstrip()

    rule = (
        "|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
        if markdown
        else "  ".join("-" * w for w in widths)
    )
    return [line(headers), rule, *(line(r) for r in rows)]


def render(summary: Summary, format: ReportFormat = "table") -> str:
    """The summary as a plain-text table, a Markdown table, or JSON (what ``guardrail report`` prints)."""
    if format == "json":
        return json.dumps(summary.model_dump(mode="json"), indent=2) + "\n"
    if format not in ("table", "markdown"):
        raise InvalidInputError(f"format must be table, markdown or json; got {format!r}")
    markdown = format == "markdown"
    figures = summary.figures() if summary.groups else [summary.total]
    lines: list[str] = []
    if len(figures) <= 5:
        headers = ["", *(f.key for f in figures)]
        rows = [[label, *(_cell(getattr(f, field), fmt) for f in figures)] for label, field, fmt in _ROWS]
    else:
        headers = [summary.by or "", *(_SHORT[field] for _, field, _ in _ROWS)]
        rows = [[f.key, *(_cell(getattr(f, field), fmt) for _, field, fmt in _ROWS)] for f in figures]
    lines += _grid(headers, rows, markdown=markdown)
    policy_rows = [
        [f.key, p.policy, str(p.proposed), str(p.applied), str(p.changed_action), _cell(p.change_rate, "p")]
        for f in figures
        for p in f.interventions
    ]
    if policy_rows:
        lines.append("")
        lines += _grid(
            ["group", "policy", "proposed", "applied", "changed action", "changed %"], policy_rows, markdown=markdown
        )
    if summary.skipped_lines:
        lines.append("")
        lines.append(f"skipped {summary.skipped_lines} torn line(s)")
    return "\n".join(lines) + "\n"


def plot(summary: Summary, path: str | Path) -> Path:
    """Save a PNG: knowing-doing gap rate, coverage and intervention rate over the step index, per group.

    Needs ``summary`` computed with ``series=True`` and the ``plot`` extra (matplotlib).
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError(package="matplotlib", extra="plot", feature="guardrail report --plot") from exc
    figures = summary.groups or [summary.total]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    panels = (
        ("knowing-doing gap rate", "knowing_doing_gap_rate"),
        ("coverage (mean over episodes)", "coverage"),
        ("intervention rate", "intervention_rate"),
    )
    for ax, (title, field) in zip(axes, panels, strict=True):
        for f in figures[:12]:
            xs = [p.step for p in f.series if getattr(p, field) is not None]
            ys = [getattr(p, field) for p in f.series if getattr(p, field) is not None]
            ax.plot(xs, ys, label=f.key, linewidth=1.4)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


# -- the CLI ---------------------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand to ``guardrail``'s argument parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="summarise telemetry files",
        description="A one-screen summary of guardrail JSONL telemetry (rotated backups are read too).",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSONL files or directories of them")
    parser.add_argument("--by", choices=["episode", "agent", "policy", "run"], help="also summarise per group")
    parser.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    parser.add_argument("--plot", metavar="OUT.png", help="save gap rate, coverage and interventions over steps")
    parser.add_argument("--run", help="only this run id")
    parser.add_argument("--episode", help="only this episode")
    parser.add_argument("--since", type=float, metavar="UNIX_TIME", help="only events at or after this time")
    parser.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """``guardrail report``: print the summary; 0 on success, 1 when no step was found, 2 on bad input."""
    try:
        summary = summarize_files(
            args.files,
            by=args.by,
            run=args.run,
            episode=args.episode,
            since=args.since,
            series=args.plot is not None,
        )
        sys.stdout.write(render(summary, args.format))
        if args.plot is not None:
            out = plot(summary, args.plot)
            sys.stderr.write(f"wrote {out}\n")
    except GuardrailError as exc:
        sys.stderr.write(f"guardrail report: {exc}\n")
        return 2
    if summary.total.steps == 0:
        sys.stderr.write("guardrail report: no step events matched\n")
        return 1
    return 0
