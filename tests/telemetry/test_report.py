"""summarize() and `guardrail report`: the figures, grouping, rendering, plot; models and files agree."""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from guardrail import OverrideToRationale, ReAsk
from guardrail.exceptions import InvalidInputError
from guardrail.telemetry import JsonlSink, StepEvent, read_events, render, summarize, summarize_files
from guardrail.telemetry.report import register

from .conftest import AGREE_BLUE, AGREE_RED, GAP, INVALID, run_guard


def main(argv: list[str]) -> int:
    """`guardrail ARGV` with only the report subcommand registered, through its register() contract."""
    parser = argparse.ArgumentParser(prog="guardrail")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def _cells(line: str) -> list[str]:
    """The cells of one plain-text table line (columns are separated by at least two spaces)."""
    return [cell for cell in re.split(r"\s{2,}", line.strip()) if cell]


def _step(episode: str, step: int, action: str, **extra: Any) -> dict[str, Any]:
    return {"type": "step", "run_id": "r", "episode": episode, "step": step, "final_action": action, **extra}


def _reward(episode: str, step: int, reward: float) -> dict[str, Any]:
    return {"type": "reward", "run_id": "r", "episode": episode, "step": step, "reward": reward}


def test_guard_events_give_the_expected_figures() -> None:
    """On a scripted unguarded run: agreement, gap, invalid, coverage and reward are what the steps say."""
    events = run_guard([GAP, AGREE_RED, INVALID, AGREE_BLUE], rewards=[1.0, 0.0, 0.5, 0.5])
    total = summarize(events).total
    assert total.steps == 4
    assert total.episodes == 1
    assert total.runs == 1
    # GAP executes blue against red; INVALID falls back to a random action with no rationale action.
    assert total.agreement_steps == 3
    assert total.agreement == pytest.approx(2 / 3)
    assert total.knowing_doing_gap_rate == pytest.approx(1 / 4)
    assert total.invalid_rate == pytest.approx(1 / 4)
    assert total.finding_rates == {"invalid_action": 0.25, "knowing_doing_gap": 0.25}
    assert total.mean_reward == pytest.approx(0.5)
    assert total.reward_steps == 4
    assert total.extra_agent_calls_per_step == 0
    assert total.intervention_rate == pytest.approx(1 / 4)  # the fallback
    assert [p.policy for p in total.interventions] == ["fallback"]


def test_interventions_by_policy_and_whether_they_changed_the_action() -> None:
    """Per policy: corrections proposed, applied, and applied ones whose action differs from the agent's."""
    outputs = [GAP, AGREE_RED, GAP, AGREE_BLUE]
    events = run_guard(outputs, policies=[ReAsk(max_attempts=2), OverrideToRationale()], steps=2)
    # step 0: blue -> re-ask -> red (changed); step 1: blue -> re-ask -> blue with a revised rationale (unchanged)
    total = summarize(events).total
    reask = {p.policy: p for p in total.interventions}["ReAsk"]
    assert reask.proposed == reask.applied == 2
    assert reask.changed_action == 1
    assert reask.change_rate == pytest.approx(0.5)
    assert total.extra_agent_calls_per_step == pytest.approx(1.0)
    assert total.agreement == 1.0
    assert total.knowing_doing_gap_rate == 1.0  # counted on the first attempt, before the correction


def test_frequent_and_greedy_rates_replay_the_episode_history() -> None:
    """Frequent action = the strictly most frequent earlier action; greedy = the best mean reward so far."""
    events = [
        _step("e", 0, "a"),
        _reward("e", 0, 1.0),
        _step("e", 1, "a"),  # most frequent: a (hit); best mean: a (greedy)
        _reward("e", 1, 1.0),
        _step("e", 2, "b"),  # most frequent: a (miss); best mean: a (not greedy)
        _reward("e", 2, 5.0),
        _step("e", 3, "a"),  # most frequent: a (hit); best mean: b (not greedy)
        _reward("e", 3, 0.0),
    ]
    total = summarize(events).total
    assert total.frequent_action_rate == pytest.approx(2 / 3)
    assert total.frequent_action_steps == 3
    assert total.greedy_rate == pytest.approx(1 / 3)
    assert total.greedy_steps == 3
    assert total.mean_reward == pytest.approx(1.75)


def test_replay_handles_out_of_order_events_and_ties() -> None:
    """Events may arrive out of step order (rewards first); a tie for most frequent is not counted."""
    events = [
        _reward("e", 1, 0.0),
        _step("e", 2, "a"),  # history a, b: a tie, so no frequent action
        _step("e", 1, "b"),
        _reward("e", 0, 1.0),
        _step("e", 0, "a"),
    ]
    total = summarize(events).total
    assert total.frequent_action_steps == 1
    assert total.frequent_action_rate == 0.0
    # step 1: only a has a mean, b chosen (miss); step 2: means a=1, b=0, a chosen (greedy)
    assert total.greedy_rate == pytest.approx(0.5)
    assert total.greedy_steps == 2


def test_interleaved_episodes_give_the_figures_of_the_same_events_episode_by_episode() -> None:
    """Concurrent agents interleave their episodes' events in one file: each episode is still replayed alone,
    including a run whose episode ids repeat another run's."""
    episodes = {
        ("r", "e1"): ["a", "a", "b", "a"],
        ("r", "e2"): ["b", "b", "b", "a"],
        ("other", "e1"): ["c", "a", "c", "c"],
    }
    rewards = {"a": 1.0, "b": 0.0, "c": 0.5}
    grouped: list[dict[str, Any]] = []
    for (run, episode), actions in episodes.items():
        for step, action in enumerate(actions):
            grouped.append({**_step(episode, step, action), "run_id": run, "agent": run})
            grouped.append({**_reward(episode, step, rewards[action]), "run_id": run})
    per_episode = [grouped[i : i + 8] for i in range(0, len(grouped), 8)]
    interleaved = [event for batch in zip(*per_episode, strict=True) for event in batch]  # e1, e2, e1', e1, ...
    assert interleaved[:3] == [per_episode[0][0], per_episode[1][0], per_episode[2][0]]
    for by in (None, "agent", "episode", "run"):
        assert summarize(interleaved, by=by) == summarize(grouped, by=by)
    total = summarize(interleaved).total
    assert (total.steps, total.episodes) == (12, 3)
    assert total.greedy_steps == 9  # three per episode: every step after the first reward


def _two_agent_log(path: Path) -> list[Any]:
    """What the demo does: the same scripted episode unguarded and guarded, as two runs, into one JSONL file."""
    outputs = [GAP, AGREE_RED, GAP, AGREE_BLUE]
    events = run_guard(
        outputs, sinks=[JsonlSink(path)], run_id="run-unguarded", agent_name="unguarded", rewards=[0.0, 1.0, 0.0, 1.0]
    )
    events += run_guard(
        [GAP, AGREE_RED, INVALID, AGREE_BLUE],
        sinks=[JsonlSink(path)],
        policies=[OverrideToRationale()],
        run_id="run-guarded",
        agent_name="guarded",
        rewards=[1.0, 1.0, 0.5, 1.0],
    )
    return events


def test_summary_from_files_equals_summary_from_events(tmp_path: Path) -> None:
    """summarize() on in-memory models and summarize_files() on the JSONL give identical figures."""
    path = tmp_path / "events.jsonl"
    events = _two_agent_log(path)
    for by in (None, "agent", "run", "episode", "policy"):
        assert summarize(events, by=by, series=True) == summarize_files(path, by=by, series=True)


def test_grouping_by_agent_run_episode_and_policy(tmp_path: Path) -> None:
    """--by splits the steps into groups whose step counts add up to the total."""
    path = tmp_path / "events.jsonl"
    _two_agent_log(path)
    by_agent = summarize_files(path, by="agent")
    assert [g.key for g in by_agent.groups] == ["guarded", "unguarded"]
    assert by_agent.group("unguarded").agreement == pytest.approx(0.5)
    assert by_agent.group("guarded").agreement == 1.0
    assert sum(g.steps for g in by_agent.groups) == by_agent.total.steps == 8
    assert [g.key for g in summarize_files(path, by="run").groups] == ["run-guarded", "run-unguarded"]
    assert [g.key for g in summarize_files(path, by="episode").groups] == ["run-guarded/ep-1", "run-unguarded/ep-1"]
    by_policy = {g.key: g.steps for g in summarize_files(path, by="policy").groups}
    # Guards that fill StepEvent.policies give one group per chain; older writers leave it empty: "(none)".
    assert by_policy in ({"(none)": 8}, {"(none)": 4, "OverrideToRationale": 4})
    with pytest.raises(InvalidInputError, match="by must be"):
        summarize([], by="colour")  # type: ignore[arg-type]


def test_policy_grouping_uses_the_configured_chain() -> None:
    """With StepEvent.policies set, --by policy groups by the configured chain joined with '+'."""
    events = [
        _step("e", 0, "a", policies=["ReAsk", "OverrideToRationale"]),
        _step("e", 1, "a", policies=["ReAsk", "OverrideToRationale"]),
        _step("f", 0, "a"),
    ]
    summary = summarize(events, by="policy")
    assert {g.key: g.steps for g in summary.groups} == {"(none)": 1, "ReAsk+OverrideToRationale": 2}


def test_cli_table_prints_the_figures_summarize_computes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`guardrail report FILE --by agent` prints the rendered summary: the same figures as summarize()."""
    path = tmp_path / "events.jsonl"
    _two_agent_log(path)
    assert main(["report", str(path), "--by", "agent"]) == 0
    out = capsys.readouterr().out
    assert out == render(summarize_files(path, by="agent"))
    rows = {cells[0]: cells[1:] for cells in map(_cells, out.splitlines()) if cells}
    # 5 of 7 known: every rate carries its numerator and denominator
    assert rows["rationale-action agreement"] == ["71.4% (5/7)", "100.0% (3/3)", "50.0% (2/4)"]
    assert "OverrideToRationale" in out


def test_cli_markdown_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format markdown prints pipe tables; --format json prints the Summary model."""
    path = tmp_path / "events.jsonl"
    _two_agent_log(path)
    assert main(["report", str(path), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("| ")
    assert "|---" in markdown
    assert main(["report", str(path), "--format", "json", "--by", "run"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"]["steps"] == 8
    assert data["by"] == "run"
    assert data == summarize_files(path, by="run").model_dump(mode="json")


def test_cli_filters_and_many_groups_render_as_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--run filters; with more than four groups the table turns to one row per group."""
    path = tmp_path / "events.jsonl"
    for index in range(6):
        run_guard([AGREE_RED], sinks=[JsonlSink(path)], episode=f"ep-{index}")
    assert main(["report", str(path), "--by", "episode"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["episode", "steps", "episodes"]
    assert main(["report", str(path), "--run", "no-such-run"]) == 1
    assert "no step events" in capsys.readouterr().err


def test_cli_missing_file_is_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that does not exist is reported on stderr with exit code 2."""
    assert main(["report", str(tmp_path / "nope.jsonl")]) == 2
    assert "no telemetry file" in capsys.readouterr().err


def test_cli_reports_torn_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The table mentions skipped torn lines."""
    path = tmp_path / "events.jsonl"
    run_guard([AGREE_RED], sinks=[JsonlSink(path)])
    with path.open("ab") as handle:
        handle.write(b'{"type":"st')
    assert main(["report", str(path)]) == 0
    assert "skipped 1 torn line(s)" in capsys.readouterr().out


def test_plot_writes_rates_matrix_and_interventions_pngs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--plot OUT.png saves the rates there and the matrix and the interventions beside it, over time or step."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "events.jsonl"
    _two_agent_log(path)
    for x in ("time", "step"):
        out = tmp_path / x / "report.png"
        assert main(["report", str(path), "--by", "agent", "--plot", str(out), "--x", x, "--window", "2"]) == 0
        written = [out, out.with_name("report-matrix.png"), out.with_name("report-interventions.png")]
        assert capsys.readouterr().err.splitlines() == [f"wrote {p}" for p in written]
        for picture in written:
            assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = summarize_files(path, by="agent", series=True)
    assert [p.step for p in summary.group("guarded").series] == [0, 1, 2, 3]


# -- honest figures ---------------------------------------------------------------------------------------------

_RATE = re.compile(r"^(\d+\.\d% \(\d+/\d+\)|n/a \(.+\))$")
_RATE_ROWS = (
    "rationale-action agreement",
    "knowing-doing gap rate",
    "frequent-action rate",
    "greedy rate",
    "invalid rate",
    "intervention rate",
    "steps with errors",
)


def _stubborn_events(steps: int = 3) -> list[Any]:
    """An agent that ignores every re-ask (same gap again), under [ReAsk(max_attempts=2), OverrideToRationale()]."""
    return run_guard(
        [GAP] * (2 * steps), policies=[ReAsk(max_attempts=2), OverrideToRationale()], steps=steps, rewards=[1.0] * steps
    )


def test_reask_ignored_by_a_stubborn_agent_is_credited_with_no_change_in_table_markdown_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The override after an ignored re-ask changed the action; the re-ask did not: ReAsk 0 changed, override 3."""
    path = tmp_path / "events.jsonl"
    events = _stubborn_events(3)
    path.write_text("".join(e.model_dump_json(exclude_none=True) + "\n" for e in events))
    reask = [c for e in events if isinstance(e, StepEvent) for c in e.corrections if c.kind == "reask"]
    assert [(c.from_action, c.to_action) for c in reask] == [("blue", "blue")] * 3  # the answer it got

    assert main(["report", str(path)]) == 0
    table = {cells[1]: cells[2:] for cells in map(_cells, capsys.readouterr().out.splitlines()) if len(cells) == 6}
    assert table["ReAsk"] == ["3", "3", "0.0% (0/3)", "n/a (none)"]
    assert table["OverrideToRationale"] == ["3", "3", "100.0% (3/3)", "1.000 (3 steps)"]

    assert main(["report", str(path), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert re.search(r"\|\s+ReAsk \|\s+3 \|\s+3 \|\s+0\.0% \(0/3\) \|", markdown)
    assert re.search(r"\|\s+OverrideToRationale \|\s+3 \|\s+3 \|\s+100\.0% \(3/3\) \|", markdown)

    assert main(["report", str(path), "--format", "json"]) == 0
    policies = {p["policy"]: p for p in json.loads(capsys.readouterr().out)["total"]["interventions"]}
    assert (policies["ReAsk"]["applied"], policies["ReAsk"]["changed_action"]) == (3, 0)
    assert (policies["OverrideToRationale"]["applied"], policies["OverrideToRationale"]["changed_action"]) == (3, 3)


def test_every_rate_prints_its_denominator_in_table_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each rate cell reads `P% (hits/n)` (or `n/a (why)`), in the table and in Markdown, for each group."""
    path = tmp_path / "events.jsonl"
    _two_agent_log(path)
    assert main(["report", str(path), "--by", "agent"]) == 0
    rows = {cells[0]: cells[1:] for cells in map(_cells, capsys.readouterr().out.splitlines()) if cells}
    for label in _RATE_ROWS:
        assert len(rows[label]) == 3
        assert all(_RATE.match(cell) for cell in rows[label]), (label, rows[label])
    assert rows["knowing-doing gap rate"][0] == "37.5% (3/8)"  # two in the unguarded run, one in the guarded
    assert rows["coverage (final, per episode)"][0] == "83.3% (2 episodes)"
    assert rows["extra agent calls / step"][0] == "0.000 (0/8)"
    assert rows["mean reward"][0] == "0.688 (8 steps)"

    assert main(["report", str(path), "--by", "agent", "--format", "markdown"]) == 0
    markdown = {
        cells[0]: cells[1:]
        for line in capsys.readouterr().out.splitlines()
        if (cells := [c.strip() for c in line.strip().strip("|").split("|")])
    }
    for label in _RATE_ROWS:
        assert markdown[label] == rows[label]


def test_json_carries_every_figure_the_table_shows_with_its_counts(tmp_path: Path) -> None:
    """Each rate in the JSON equals its numerator over its denominator, both present beside it."""
    path = tmp_path / "events.jsonl"
    _two_agent_log(path)
    data = json.loads(render(summarize_files(path, by="agent"), "json"))
    pairs = {
        "agreement": ("agreeing_steps", "agreement_steps"),
        "knowing_doing_gap_rate": ("knowing_doing_gap_steps", "answered_steps"),
        "frequent_action_rate": ("frequent_action_hits", "frequent_action_steps"),
        "greedy_rate": ("greedy_hits", "greedy_steps"),
        "invalid_rate": ("invalid_steps", "answered_steps"),
        "intervention_rate": ("intervened_steps", "steps"),
        "extra_agent_calls_per_step": ("extra_agent_calls", "steps"),
    }
    for figures in [data["total"], *data["groups"]]:
        for rate, (hits, n) in pairs.items():
            assert figures[rate] == pytest.approx(figures[hits] / figures[n]), (figures["key"], rate)
        for kind, count in figures["finding_counts"].items():
            assert figures["finding_rates"][kind] == pytest.approx(count / figures["answered_steps"])
        assert figures["coverage_episodes"] == figures["episodes"]
        assert figures["reward_steps"] > 0
        assert figures["outcome"]["changed_steps"] + figures["outcome"]["unchanged_steps"] == figures["reward_steps"]


def test_figures_that_need_rewards_or_rationales_say_so_when_there_are_none() -> None:
    """No reward events: greedy rate, mean reward and outcomes say "no rewards"; no rationale: the gap says so."""
    events = [_step("e", i, "a", agent_calls=1, parsed_action="a") for i in range(3)]
    rows = {cells[0]: cells[1:] for cells in map(_cells, render(summarize(events)).splitlines()) if cells}
    assert rows["greedy rate"] == ["n/a (no rewards)"]
    assert rows["mean reward"] == ["n/a (no rewards)"]
    assert rows["reward, override/explore changed"] == ["n/a (no rewards)"]
    assert rows["knowing-doing gap rate"] == ["n/a (no rationale named an action)"]
    assert rows["rationale-action agreement"] == ["n/a (no rationale named an action)"]
    assert summarize(events).total.outcome is None


def test_reward_outcome_compares_steps_an_override_changed_with_the_rest() -> None:
    """Outcome: mean reward of steps an override or exploration changed vs other rewarded steps; a re-ask's change
    counts for its own policy only."""
    override = {"policy": "OverrideToRationale", "kind": "override", "from_action": "a", "to_action": "b"}
    reask = {"policy": "ReAsk", "kind": "reask", "from_action": "a", "to_action": "b"}
    events = [
        _step("e", 0, "b", corrections=[override]),
        _reward("e", 0, 1.0),
        _step("e", 1, "b", corrections=[reask]),
        _reward("e", 1, 0.0),
        _step("e", 2, "a"),
        _reward("e", 2, 0.5),
        _step("e", 3, "b", corrections=[{**override, "applied": False}]),  # a shadow: changed nothing
    ]
    total = summarize(events).total
    assert total.outcome is not None
    assert (total.outcome.changed_steps, total.outcome.changed_mean_reward) == (1, 1.0)
    assert (total.outcome.unchanged_steps, total.outcome.unchanged_mean_reward) == (2, pytest.approx(0.25))
    policies = {p.policy: p for p in total.interventions}
    assert (policies["OverrideToRationale"].proposed, policies["OverrideToRationale"].changed_action) == (2, 1)
    assert (policies["ReAsk"].changed_reward_steps, policies["ReAsk"].changed_mean_reward) == (1, 0.0)


def test_a_correction_to_no_legal_action_is_not_a_changed_action() -> None:
    """A re-ask answered without a legal action changed nothing the step executed: not counted as a change."""
    events = [
        _step("e", 0, "b", corrections=[{"policy": "ReAsk", "kind": "reask", "from_action": "a", "to_action": None}])
    ]
    assert summarize(events).total.interventions[0].changed_action == 0


# -- the figures behind the pictures ------------------------------------------------------------------------------


def _demo_events(path: Path) -> list[Any]:
    """A small run of the demo (guarded and unguarded simulated agents) into ``path``, read back as models.

    The demo ships in guardrail-bench; the core alone (``make test-core-only``) skips these two tests."""
    run_demo = pytest.importorskip("guardrail_bench.demo", reason="the demo is in guardrail-bench").run_demo
    run_demo(bandits=3, horizon=12, telemetry=path)
    return list(read_events(path))


def test_matrix_counts_equal_those_computed_from_the_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The rationale-action matrix, first answers and after the guard, per group: the counts the events give."""
    path = tmp_path / "demo.jsonl"
    events = _demo_events(path) + _two_agent_log(tmp_path / "more.jsonl")
    capsys.readouterr()
    steps = [e for e in events if isinstance(e, StepEvent)]
    summary = summarize(events, by="agent", series=True)
    for figures in summary.figures():
        mine = [e for e in steps if figures.key in ("all", e.agent)]
        first = Counter((e.rationale_action, e.parsed_action) for e in mine if e.agent_calls > len(e.agent_errors))
        final = Counter((e.final_rationale_action, e.final_action) for e in mine if e.final_action is not None)
        assert {(c.rationale_action, c.action): c.first for c in figures.matrix if c.first} == dict(first)
        assert {(c.rationale_action, c.action): c.final for c in figures.matrix if c.final} == dict(final)
    assert summarize(events).total.matrix == []  # only with series=True


def test_series_over_step_and_time_count_every_step_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Step points and time bins partition the steps; the bins of all groups share one set of edges."""
    events = _demo_events(tmp_path / "demo.jsonl")
    capsys.readouterr()
    summary = summarize(events, by="agent", series=True)
    for figures in summary.figures():
        assert sum(p.steps for p in figures.series) == figures.steps
        assert sum(b.steps for b in figures.timeline) == figures.steps
        assert sum(p.knowing_doing_gap_steps for p in figures.series) == figures.knowing_doing_gap_steps
        assert sum(b.reward_steps for b in figures.timeline) == figures.reward_steps
        assert [p.step for p in figures.series] == sorted({p.step for p in figures.series})
    edges = {(b.start, b.end) for f in summary.groups for b in f.timeline}
    assert edges <= {(b.start, b.end) for b in summary.total.timeline}


def test_worst_contradictions_come_unresolved_first_with_their_evidence() -> None:
    """The top contradictions: first-attempt knowing-doing gaps, unresolved before resolved, evidence kept."""
    guarded = run_guard([GAP, AGREE_RED], policies=[ReAsk(max_attempts=2)], steps=1, agent_name="guarded")
    unguarded = run_guard([GAP], agent_name="unguarded", run_id="run-2")
    summary = summarize([*guarded, *unguarded], series=True, top=5)
    worst = summary.total.contradictions
    assert [(c.agent, c.resolved) for c in worst] == [("unguarded", False), ("guarded", True)]
    assert (worst[0].rationale_action, worst[0].action, worst[0].final_action) == ("red", "blue", "blue")
    assert worst[0].evidence is not None
    assert worst[0].evidence in (worst[0].rationale or "")
    assert worst[1].corrections == ["ReAsk: blue -> red"]
    assert len(summarize([*guarded, *unguarded], series=True, top=1).total.contradictions) == 1


def test_control_characters_in_ids_and_agent_names_are_escaped_in_table_and_markdown() -> None:
    """ANSI escapes and newlines in agent names and episode ids are written as escapes; Markdown escapes pipes."""
    events = [
        _step("ep\n1", 0, "a", agent="evil\x1b[31m|name"),
        _step(
            "ep-2\r", 0, "a", agent="ok", corrections=[{"policy": "P\x1b]8;;", "kind": "override", "to_action": "a"}]
        ),
    ]
    for by in ("agent", "episode"):
        for format in ("table", "markdown"):
            out = render(summarize(events, by=by), format)  # type: ignore[arg-type]
            assert "\x1b" not in out
            assert "\r" not in out
            assert all(len(line) == len(out.splitlines()[0]) or not line for line in out.splitlines()[:4])
    table = render(summarize(events, by="agent"))
    assert "evil\\x1b[31m|name" in table
    assert "P\\x1b]8;;" in table
    assert "evil\\x1b[31m\\|name" in render(summarize(events, by="agent"), "markdown")
    assert "ep\\n1" in render(summarize(events, by="episode"))


# -- the CLI's edges ------------------------------------------------------------------------------------------------


def test_empty_file_says_no_step_events_and_exits_1_without_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty file (or one with rewards only): "no step events" on stderr, exit 1, nothing on stdout."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["report", str(empty)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == f"guardrail report: no step events in {empty}"
    rewards_only = tmp_path / "rewards.jsonl"
    rewards_only.write_text(json.dumps(_reward("e", 0, 1.0)) + "\n")
    assert main(["report", str(rewards_only), "--html", str(tmp_path / "out.html")]) == 1
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "out.html").exists()


def test_plot_into_a_missing_directory_creates_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--plot and --html into directories that do not exist yet create them."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "events.jsonl"
    _two_agent_log(path)
    out = tmp_path / "new" / "deeper" / "report.png"
    page = tmp_path / "other" / "report.html"
    assert main(["report", str(path), "--plot", str(out), "--html", str(page)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_output_directory_that_cannot_be_created_is_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the output's directory cannot be made (a file is in the way), one line on stderr and exit 2."""
    path = tmp_path / "events.jsonl"
    _two_agent_log(path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["report", str(path), "--plot", str(blocker / "report.png")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"guardrail report: cannot create directory {blocker}")


def _cost_per_fix_log(path: Path) -> list[Any]:
    """An unguarded run and a guarded one: a re-ask that fixes its step, one the override finishes, an invalid answer
    that only the fallback ends (extra calls, no fix) and a step that needs nothing."""
    events = run_guard([GAP, AGREE_RED], sinks=[JsonlSink(path)], run_id="run-unguarded", agent_name="unguarded")
    events += run_guard(
        [GAP, AGREE_RED, GAP, GAP, INVALID, INVALID, AGREE_BLUE],
        sinks=[JsonlSink(path)],
        policies=[ReAsk(max_attempts=2), OverrideToRationale()],
        run_id="run-guarded",
        agent_name="guarded",
        steps=4,
    )
    return events


def _expected_cost_per_fix(events: list[Any]) -> tuple[int, int]:
    """(extra agent calls, steps the guard changed), read from the step events the way the bench reads results."""
    steps = [e for e in events if isinstance(e, StepEvent)]
    changed = sum(
        e.final_action is not None
        and e.final_action != e.parsed_action
        and not any(c.kind == "fallback" and c.applied for c in e.corrections)
        for e in steps
    )
    return sum(e.agent_calls - 1 for e in steps), changed


def test_cost_per_fix_is_extra_calls_over_the_steps_the_guard_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Per agent and per policy chain, in the table, Markdown and JSON: extra agent calls over the steps whose
    executed action a correction other than the fallback changed, with both counts beside it."""
    path = tmp_path / "events.jsonl"
    events = _cost_per_fix_log(path)
    assert _expected_cost_per_fix(events) == (3, 2)  # the script does what its docstring says
    for by, key in (("agent", "agent"), ("policy", "policies")):
        groups: dict[str, list[Any]] = {}
        for event in events:
            if isinstance(event, StepEvent):
                value = getattr(event, key)
                groups.setdefault(value if by == "agent" else "+".join(value) or "(none)", []).append(event)
        groups["all"] = [e for e in events if isinstance(e, StepEvent)]
        expected = {k: _expected_cost_per_fix(v) for k, v in groups.items()}
        cost_cells = {k: f"{x / n:.3f} ({x}/{n})" if n else "n/a (none changed)" for k, (x, n) in expected.items()}
        changed_cells = {k: f"{100 * n / len(groups[k]):.1f}% ({n}/{len(groups[k])})" for k, (_, n) in expected.items()}

        assert main(["report", str(path), "--by", by, "--format", "json"]) == 0
        data = json.loads(capsys.readouterr().out)
        for figures in [data["total"], *data["groups"]]:
            extra, changed = expected[figures["key"]]
            assert (figures["extra_agent_calls"], figures["guard_changed_steps"]) == (extra, changed)
            assert figures["extra_agent_calls_per_changed_step"] == (
                pytest.approx(extra / changed) if changed else None
            )

        assert main(["report", str(path), "--by", by]) == 0
        lines = capsys.readouterr().out.splitlines()
        keys = _cells(lines[0])
        rows = {cells[0]: cells[1:] for cells in map(_cells, lines) if cells}
        assert dict(zip(keys, rows["extra calls / changed step"], strict=True)) == cost_cells
        assert dict(zip(keys, rows["steps the guard changed"], strict=True)) == changed_cells
        assert main(["report", str(path), "--by", by, "--format", "markdown"]) == 0
        markdown = {
            cells[0]: cells[1:]
            for line in capsys.readouterr().out.splitlines()
            if (cells := [c.strip() for c in line.strip().strip("|").split("|")])
        }
        assert markdown["extra calls / changed step"] == rows["extra calls / changed step"]


def test_a_step_only_the_fallback_ended_costs_calls_but_is_not_a_fix() -> None:
    """Re-asks that never got a legal answer count in the extra calls and not in the changed steps: the cost per
    fix of a guard that fixed nothing is "n/a (none changed)", not zero."""
    fallback = {"policy": "fallback", "kind": "fallback", "to_action": "a", "reason": "random"}
    events = [_step("e", i, "a", agent_calls=3, parsed_action=None, corrections=[fallback]) for i in range(2)]
    total = summarize(events).total
    assert (total.extra_agent_calls, total.guard_changed_steps) == (4, 0)
    assert total.extra_agent_calls_per_changed_step is None
    rows = {cells[0]: cells[1:] for cells in map(_cells, render(summarize(events)).splitlines()) if cells}
    assert rows["extra calls / changed step"] == ["n/a (none changed)"]
    assert rows["steps the guard changed"] == ["0.0% (0/2)"]
