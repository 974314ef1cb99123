"""One self-contained HTML page of a telemetry report (``guardrail report FILE --html out.html``).

The page needs no server and loads nothing: the style is inline, the pictures are PNGs inlined as ``data:`` URLs
(matplotlib, extra ``plot``; without it the page says so and keeps its tables), and there is no script. It shows
the summary (every rate with its denominator), the interventions by policy, the pictures of
:mod:`guardrail.telemetry.plots`, the worst contradictions with the rationale and the evidence the reader used
highlighted, and per-agent and per-episode tables.

Only what the telemetry holds is shown, so the guard's :class:`~guardrail.telemetry.Redaction` holds here too:
a truncated rationale appears truncated, a ``sha256`` digest is not shown as text, and a rationale that was not
logged is said to be missing. Every text from the events is HTML-escaped, after control characters (ANSI escapes)
are written as escapes.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from guardrail.exceptions import GuardrailError
from guardrail.telemetry.report import (
    POLICY_HEADERS,
    Contradiction,
    Figures,
    Summary,
    figure_rows,
    policy_rows,
    printable,
)

__all__ = ["render_html", "write_html"]

MAX_EPISODE_ROWS = 200
"""Episodes listed in the per-episode table (those with the most knowing-doing gaps, when there are more)."""

_STYLE = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --band: #f6f8fa; --accent: #2a7ab9; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); background: #fff; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.meta, p.note, figcaption { color: var(--muted); margin: 4px 0; }
nav { margin: 12px 0 0; } nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: right; white-space: nowrap; font-size: 13px; }
th:first-child, td:first-child { text-align: left; }
thead th { background: var(--band); position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #fbfcfd; }
figure { margin: 16px 0 24px; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
.cards { display: grid; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.card h3 { font-size: 14px; margin: 0 0 6px; }
.card .tag { display: inline-block; font-size: 12px; padding: 0 6px; border-radius: 10px; margin-left: 6px; }
.tag.unresolved { background: #ffebe9; color: #a40e26; } .tag.resolved { background: #dafbe1; color: #116329; }
.rationale { white-space: pre-wrap; background: var(--band); border-radius: 4px; padding: 8px 10px; margin: 6px 0;
  font: 13px/1.45 ui-monospace, "DejaVu Sans Mono", monospace; }
mark { background: #fff0a8; padding: 0 1px; border-bottom: 2px solid #d4a72c; }
td .n { display: block; font-size: 11px; color: var(--muted); }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; } dt { font-weight: 600; } dd { margin: 0; }
"""

_DEFINITIONS = (
    (
        "agreement",
        "executed action = the action the final answer's rationale recommends, over steps where both are known",
    ),
    ("knowing-doing gap", "the first answer's action contradicts its own rationale (before any correction)"),
    ("frequent-action rate", "the executed action was the single most frequent earlier action of its episode"),
    ("greedy rate", "the executed action had the best mean reward among the actions tried so far"),
    ("coverage", "the fraction of actions tried, at each episode's last step, averaged over episodes"),
    ("intervention rate", "steps with an applied correction (re-ask, override, exploration, vote, fallback)"),
    ("changed action", "a correction's own change: a re-ask is credited with the answer it got, not later policies"),
    (
        "extra calls / changed step",
        "the cost per fix: agent calls beyond one per step, over the steps whose executed action differs from the "
        "first answer's by a correction other than the fallback",
    ),
    ("reward, override/explore changed", "mean reward of steps whose action an override or exploration changed"),
)


def _text(value: object) -> str:
    return html.escape(printable(str(value)))


_COUNTED = re.compile(r"^(.+?) (\(.+\))$")


def _cell(text: str) -> str:
    """A figure's cell: the value, with its counts (``(hits/n)``) on a second, smaller line."""
    match = _COUNTED.match(text)
    if match is None:
        return _text(text)
    return f"{_text(match.group(1))}<span class='n'>{_text(match.group(2))}</span>"


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, caption: str | None = None, labels: int = 1
) -> str:
    """An HTML table; the first ``labels`` columns are names, the others figures."""
    head = "".join(f"<th>{_text(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(c) if i < labels else _cell(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    note = f"<p class='note'>{_text(caption)}</p>" if caption else ""
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>{note}"


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "unknown time"
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _prose(text: str | None, evidence: str | None) -> tuple[str, bool]:
    """The rationale as HTML with the evidence marked; whether it was found. Redacted forms are described."""
    if text is None:
        return "<em>no rationale logged (redaction, or the answer had none)</em>", False
    if text.startswith("sha256:"):
        return "<em>rationale redacted (sha256 digest)</em>", False
    clean = printable(text, keep_lines=True)
    at = clean.find(evidence) if evidence else -1
    if evidence and at >= 0:
        before, span, after = clean[:at], clean[at : at + len(evidence)], clean[at + len(evidence) :]
        return f"{html.escape(before)}<mark>{html.escape(span)}</mark>{html.escape(after)}", True
    return html.escape(clean), False


def _contradiction_card(c: Contradiction) -> str:
    evidence = printable(c.evidence, keep_lines=True) if c.evidence and not c.evidence.startswith("sha256:") else None
    prose, found = _prose(c.rationale, evidence)
    status = "resolved" if c.resolved else "unresolved"
    where = (
        f"{_text(c.agent or '(unknown agent)')} · run {_text(c.run_id)} · episode {_text(c.episode)} · step {c.step}"
    )
    lines = [
        f"<div class='card'><h3>said <code>{_text(c.rationale_action)}</code>, did <code>{_text(c.action)}</code>"
        f", executed <code>{_text(c.final_action)}</code><span class='tag {status}'>{status}</span></h3>",
        f"<p class='meta'>{where} · {_when(c.timestamp)} · reader confidence {c.score:.2f} · attempt {c.attempt}</p>",
        f"<div class='rationale'>{prose}</div>",
    ]
    if evidence and not found:
        lines.append(
            f"<p class='meta'>evidence (from attempt {c.attempt}; the logged rationale is the last answer's): "
            f"<mark>{html.escape(evidence)}</mark></p>"
        )
    elif c.evidence and evidence is None:
        lines.append("<p class='meta'>evidence redacted (sha256 digest)</p>")
    if c.corrections:
        lines.append("<p class='meta'>corrections: " + "; ".join(_text(x) for x in c.corrections) + "</p>")
    lines.append("</div>")
    return "".join(lines)


def _pictures(summary: Summary, x: Literal["time", "step"], window: int) -> str:
    try:
        from guardrail.telemetry import plots

        made = [
            (
                plots.rates_figure(summary, x=x, window=window),
                "Rates per group, each as its hits over its count summed over a rolling window; the last panel "
                "gives the counts. Dashed (left): the first answer acted against its rationale; solid: the executed "
                "action still did.",
            ),
            (
                plots.matrix_figure(summary),
                "What the rationale recommended (rows) against what the agent did (columns): first answers, and "
                "after the guard. Off-diagonal cells are contradictions.",
            ),
            (
                plots.interventions_figure(summary),
                "Corrections by policy: changed the action, applied without a change, not applied; and the mean "
                "reward of steps an override or exploration changed against the rest.",
            ),
        ]
    except GuardrailError as exc:  # matplotlib missing (MissingDependencyError) or no series to draw
        return f"<p class='note'>No pictures: {_text(exc)}</p>"
    parts = []
    for number, (figure, caption) in enumerate(made, 1):
        data = base64.b64encode(plots.png_bytes(figure, dpi=96)).decode("ascii")
        parts.append(
            f"<figure><img alt='figure {number}' src='data:image/png;base64,{data}'>"
            f"<figcaption>Figure {number}. {html.escape(caption)}</figcaption></figure>"
        )
    return "".join(parts)


def _episode_table(by_episode: Summary, limit: int) -> str:
    groups: list[Figures] = by_episode.groups
    caption = f"{len(groups)} episodes."
    if len(groups) > limit:
        groups = sorted(groups, key=lambda f: (-f.knowing_doing_gap_steps, f.key))[:limit]
        caption = (
            f"The {limit} of {len(by_episode.groups)} episodes with the most knowing-doing gaps; "
            "`guardrail report FILE --by episode --format json` lists them all."
        )
    headers, rows = figure_rows(by_episode, layout="rows", groups=groups)
    return _table(headers, rows, caption=caption)


def render_html(
    summary: Summary,
    *,
    by_agent: Summary | None = None,
    by_episode: Summary | None = None,
    sources: Sequence[str] = (),
    x: Literal["time", "step"] = "time",
    window: int = 5,
    max_episodes: int = MAX_EPISODE_ROWS,
    generated_at: float | None = None,
) -> str:
    """The report as one self-contained HTML page.

    Args:
        summary: the figures for the summary table and the pictures; computed with ``series=True`` (for the
            total and its groups) to have pictures and contradictions.
        by_agent: the same events grouped by agent (a per-agent table); ``by_episode`` likewise, per episode.
        sources: the files read, named in the header.
        x, window: the rates picture's x axis and rolling window.
        max_episodes: rows of the per-episode table.
        generated_at: the page's time stamp (default: now).
    """
    total = summary.total
    times = [b.start for b in total.timeline] + [b.end for b in total.timeline]
    span = f"{_when(min(times))} to {_when(max(times))}" if times else "time range unknown"
    headers, rows = figure_rows(summary)
    interventions = policy_rows(summary)
    contradictions = total.contradictions
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>guardrail report: {_text(', '.join(sources) or 'telemetry')}</title>",
        f"<style>{_STYLE}</style></head><body><main>",
        "<h1>guardrail report</h1>",
        f"<p class='meta'>{_text(', '.join(sources) or 'telemetry')} · {total.steps:,} steps in {total.episodes:,} "
        f"episodes of {total.runs:,} run(s) · {span}"
        + (f" · skipped {summary.skipped_lines} torn line(s)" if summary.skipped_lines else "")
        + f" · generated {_when(time.time() if generated_at is None else generated_at)}</p>",
        "<nav><a href='#summary'>summary</a><a href='#interventions'>interventions</a><a href='#pictures'>pictures</a>"
        "<a href='#contradictions'>contradictions</a><a href='#agents'>agents</a><a href='#episodes'>episodes</a>"
        "<a href='#definitions'>definitions</a></nav>",
        "<h2 id='summary'>Summary</h2>",
        _table(headers, rows, caption="Every rate with its numerator and denominator; n/a says what is missing."),
        "<h2 id='interventions'>Interventions</h2>",
        _table(POLICY_HEADERS, interventions, labels=2) if interventions else "<p class='note'>No corrections.</p>",
        "<h2 id='pictures'>Pictures</h2>",
        _pictures(summary, x, window),
        "<h2 id='contradictions'>Worst contradictions</h2>",
        "<p class='note'>First answers that acted against their own rationale: unresolved ones (the executed action "
        "still contradicts the rationale) first, then by the reader's confidence. The marked span is the evidence "
        "the rationale reader used.</p>",
        "<div class='cards'>" + "".join(_contradiction_card(c) for c in contradictions) + "</div>"
        if contradictions
        else "<p class='note'>None found"
        + ("" if total.contradictions or total.timeline else " (summarise with series=True to collect them)")
        + ".</p>",
        "<h2 id='agents'>Per agent</h2>",
        _table(*figure_rows(by_agent, layout="rows")) if by_agent else "<p class='note'>Not computed.</p>",
        "<h2 id='episodes'>Per episode</h2>",
        _episode_table(by_episode, max_episodes) if by_episode else "<p class='note'>Not computed.</p>",
        "<h2 id='definitions'>Definitions</h2>",
        "<dl>" + "".join(f"<dt>{_text(k)}</dt><dd>{_text(v)}</dd>" for k, v in _DEFINITIONS) + "</dl>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_html(
    path: str | Path,
    summary: Summary,
    *,
    by_agent: Summary | None = None,
    by_episode: Summary | None = None,
    sources: Sequence[str] = (),
    x: Literal["time", "step"] = "time",
    window: int = 5,
) -> Path:
    """Write :func:`render_html`'s page to ``path`` (its directory is created); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = render_html(summary, by_agent=by_agent, by_episode=by_episode, sources=sources, x=x, window=window)
    out.write_text(page, encoding="utf-8")
    return out
