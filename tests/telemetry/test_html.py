"""`guardrail report --html`: one self-contained page with the summary, pictures, contradictions and tables."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from guardrail import OverrideToRationale, ReAsk
from guardrail.exceptions import MissingDependencyError
from guardrail.telemetry import JsonlSink, Redaction, summarize
from guardrail.telemetry.html import render_html
from guardrail.telemetry.report import register, summarize_many

from .conftest import AGREE_BLUE, AGREE_RED, GAP, run_guard

HOSTILE_AGENT = "<script>alert(1)</script>\x1b[31m"
HOSTILE_GAP = "Red <b>looks</b> best & so I should choose red.\nACTION=blue"


def main(argv: list[str]) -> int:
    """`guardrail ARGV` with only the report subcommand registered."""
    parser = argparse.ArgumentParser(prog="guardrail")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def _page(tmp_path: Path, *extra: str, **guard: object) -> str:
    """The page of two runs: an unguarded agent, and one with markup in its name and rationale that ignores re-asks."""
    path = tmp_path / "events.jsonl"
    run_guard(
        [GAP, AGREE_RED, GAP, AGREE_BLUE],
        sinks=[JsonlSink(path)],
        agent_name="unguarded",
        rewards=[0.0, 1.0, 0.0, 1.0],
        **guard,
    )
    run_guard(
        [HOSTILE_GAP, HOSTILE_GAP, AGREE_RED],
        sinks=[JsonlSink(path)],
        policies=[ReAsk(max_attempts=2), OverrideToRationale()],
        run_id="run-2",
        agent_name=HOSTILE_AGENT,
        rewards=[1.0, 0.5],
        steps=2,
        **guard,
    )
    out = tmp_path / "report.html"
    assert main(["report", str(path), "--html", str(out), *extra]) == 0
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The page of :func:`_page` (built once for the module: drawing the pictures is the slow part)."""
    return _page(tmp_path_factory.mktemp("html"))


def test_page_is_self_contained_with_no_script_and_no_network(page: str) -> None:
    """No script, no stylesheet link, no http(s) reference: the pictures are PNGs inlined as data: URLs."""
    pytest.importorskip("matplotlib")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.replace("&lt;script", "")
    assert "<link" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*(['"])(?!data:|#)""", page)
    assert "http://" not in page
    assert "https://" not in page
    assert len(re.findall(r"<img [^>]*src='data:image/png;base64,[A-Za-z0-9+/=]+'", page)) == 3


def test_page_shows_the_summary_interventions_and_tables_with_denominators(page: str) -> None:
    """The summary's rates carry their counts; interventions, per-agent and per-episode tables are there."""
    assert "<h2 id='summary'>" in page
    assert "rationale-action agreement" in page
    assert re.search(r"\d+\.\d%<span class='n'>\(\d+/\d+\)</span>", page)
    for section in ("interventions", "pictures", "contradictions", "agents", "episodes", "definitions"):
        assert f"<h2 id='{section}'>" in page
    assert "<td>ReAsk</td>" in page
    assert "0.0%<span class='n'>(0/2)</span>" in page  # the stubborn re-asks changed nothing
    assert "run-2/ep-1" in page  # the per-episode table


def test_text_from_events_is_escaped_and_control_characters_written_as_escapes(page: str) -> None:
    """An agent name with markup and ANSI escapes, and a rationale with markup, appear as text."""
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m" in page
    assert "\x1b" not in page
    assert "Red &lt;b&gt;looks&lt;/b&gt; best &amp; so" in page


def test_contradictions_show_the_rationale_with_the_evidence_highlighted(page: str) -> None:
    """Each contradiction card shows what the rationale said and the agent did, with the evidence marked."""
    cards = re.findall(r"<div class='card'>.*?</div></div>|<div class='card'>.*?</p></div>", page, re.S)
    assert cards
    assert "said <code>red</code>, did <code>blue</code>" in page
    assert re.search(r"<div class='rationale'>[^<]*<mark>[^<]+</mark>", page)
    assert "<span class='tag unresolved'>unresolved</span>" in page
    assert "<span class='tag resolved'>resolved</span>" in page
    assert "corrections: ReAsk: blue -&gt; blue; OverrideToRationale: blue -&gt; red" in page


def test_redacted_rationales_are_not_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With sha256 redaction the page says the rationale is redacted and shows neither text nor digest."""
    page = _page(tmp_path, redaction=Redaction(mode="sha256"))
    assert "rationale redacted (sha256 digest)" in page
    assert "so I should choose red" not in page
    assert "sha256:" not in page


def test_page_keeps_its_tables_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the plot extra the page says why there are no pictures and still has every table."""
    from guardrail.telemetry import plots

    def missing() -> None:
        raise MissingDependencyError("matplotlib", extra="plot", feature="guardrail report pictures")

    monkeypatch.setattr(plots, "_pyplot", missing)
    events = run_guard([GAP, AGREE_RED])
    summary, by_agent, by_episode = summarize_many(events, by=[None, "agent", "episode"], series=True)
    page = render_html(summary, by_agent=by_agent, by_episode=by_episode)
    assert "No pictures: guardrail report pictures needs the optional package &#x27;matplotlib&#x27;" in page
    assert "<img" not in page
    assert "<h2 id='agents'>" in page


def test_per_episode_table_lists_the_episodes_with_most_gaps_when_there_are_many() -> None:
    """Beyond max_episodes, the table keeps the episodes with the most knowing-doing gaps and says so."""
    events = [
        *run_guard([GAP, GAP], episode="gappy"),
        *(e for i in range(3) for e in run_guard([AGREE_RED], episode=f"calm-{i}", run_id=f"r{i}")),
    ]
    summary, by_episode = summarize_many(events, by=[None, "episode"])
    page = render_html(summary, by_episode=by_episode, max_episodes=2)
    episodes = page[page.index("<h2 id='episodes'>") : page.index("<h2 id='definitions'>")]
    assert "run-1/gappy" in episodes
    assert "The 2 of 4 episodes with the most knowing-doing gaps" in episodes
    assert episodes.count("<tr>") == 1 + 1 + 2  # header, the total, two episodes
    assert summarize(events).total.steps == 5


def test_page_shows_the_cost_per_fix_with_its_counts(page: str) -> None:
    """The summary has a row of extra calls per changed step with (calls/changed steps), defined below: the
    stubborn agent's one re-ask ended in an override (1 call, 1 fix); the unguarded agent changed nothing."""
    summary = page.split("<h2 id='summary'>")[1].split("<h2 id=")[0]
    row = next(r for r in summary.split("<tr>") if r.startswith("<td>extra calls / changed step</td>"))
    cells = re.findall(r"<td>(.*?)</td>", row)[1:]
    assert cells == ["1.000<span class='n'>(1/1)</span>"] * 2 + ["n/a<span class='n'>(none changed)</span>"]
    assert "<dt>extra calls / changed step</dt>" in page
