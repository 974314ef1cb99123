"""summarize() and `guardrail report`: the figures, grouping, rendering, plot; models and files agree."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from guardrail import OverrideToRationale, ReAsk
from guardrail.exceptions import InvalidInputError
from guardrail.telemetry import JsonlSink, render, summarize, summarize_files
from guardrail.telemetry.report import register

from .conftest import AGREE_BLUE, AGREE_RED, GAP, INVALID, run_guard


def main(argv: list[str]) -> int:
    """`guardrail ARGV` with only the report subcommand registered, through its register() contract."""
    parser = argparse.ArgumentParser(prog="guardrail")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


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
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "rationale-action agreement" in lines
    assert lines["rationale-action agreement"].split()[-3:] == ["71.4%", "100.0%", "50.0%"]  # 5 of 7 known
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


def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--plot saves gap rate, coverage and intervention rate over steps as a PNG."""
    pytest.importorskip("matplotlib")
    path = tmp_path / "events.jsonl"
    _two_agent_log(path)
    out = tmp_path / "report.png"
    assert main(["report", str(path), "--by", "agent", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = summarize_files(path, by="agent", series=True)
    assert [p.step for p in summary.group("guarded").series] == [0, 1, 2, 3]
