"""``guardrail bench``: every environment runs end to end on a small simulated setting and writes its files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrail.cli import main
from guardrail.exceptions import ConfigurationError
from guardrail_bench.suites import parse_agent, parse_presets

FIELDS = (
    "regret_mean",
    "regret_ci95",
    "coverage_final",
    "kd_agreement",
    "interventions_per_step",
    "agent_calls_per_step",
    "invalid_rate",
    "executed_invalid_rate",
    "knowing_doing_table",
    "wall_seconds",
)


def test_bandit_bench_writes_json_markdown_plots_and_telemetry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One command: results.json with the per-configuration fields, results.md, PNGs, telemetry.jsonl."""
    code = main(
        ["bench", "--agent", "knowing-doing", "--policies", "none,best", "--bandits", "3", "--arms", "4",
         "--horizon", "8", "--out", str(tmp_path), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("$ guardrail bench --agent knowing-doing --env bandit")
    data = json.loads((tmp_path / "results.json").read_text())
    names = [(c["agent"], c["preset"]) for c in data["configurations"]]
    assert names == [("knowing-doing", "none"), ("knowing-doing", "best"), ("ucb", "baseline"), ("random", "baseline")]
    for configuration in data["configurations"]:
        assert all(field in configuration for field in FIELDS)
    assert data["command"].startswith("guardrail bench")
    assert "| knowing-doing/best |" in (tmp_path / "results.md").read_text()
    for png in ("regret_knowing-doing.png", "coverage_knowing-doing.png", "knowing_doing_knowing-doing.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "telemetry.jsonl").stat().st_size > 0


def test_the_printed_command_reproduces_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Running the printed command line again gives the same figures."""
    args = ["bench", "--agent", "frequency-bias", "--policies", "try-all", "--bandits", "2", "--arms", "3",
            "--horizon", "6", "--out", str(tmp_path / "a"), "--no-progress", "--no-plots",
            "--no-telemetry"]  # fmt: skip
    assert main(args) == 0
    command = capsys.readouterr().out.splitlines()[0].removeprefix("$ guardrail ").split()
    command[command.index("--out") + 1] = str(tmp_path / "b")
    assert main([*command, "--no-progress", "--no-plots", "--no-telemetry"]) == 0

    def figures(path: Path) -> list[float]:
        return [c["regret_mean"] for c in json.loads((path / "results.json").read_text())["configurations"]]

    assert figures(tmp_path / "a") == figures(tmp_path / "b")


@pytest.mark.parametrize(
    ("env", "extra"),
    [
        ("contextual", ["--policies", "none,override", "--bandits", "2", "--arms", "4", "--horizon", "6"]),
        ("tictactoe", ["--policies", "none,reask-override", "--games", "3", "--opponent", "minimax"]),
    ],
)
def test_other_environments_run(tmp_path: Path, env: str, extra: list[str]) -> None:
    """The contextual bandit and tic-tac-toe run with their simulated agents and write results.json."""
    code = main(["bench", "--env", env, "--agent", "knowing-doing", *extra, "--out", str(tmp_path), "--no-progress",
                 "--no-plots"])  # fmt: skip
    assert code == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["environment"] == env
    assert len(data["configurations"]) >= 2


def test_tictactoe_guard_leaves_no_executed_invalid_move(tmp_path: Path) -> None:
    """The simulated player names occupied cells; re-ask + override leaves no move to the fallback."""
    main(["bench", "--env", "tictactoe", "--agent", "knowing-doing", "--policies", "none,reask-override", "--games",
          "6", "--out", str(tmp_path), "--no-progress"])  # fmt: skip
    rows = {r["preset"]: r for r in json.loads((tmp_path / "results.json").read_text())["configurations"]}
    assert rows["none"]["executed_invalid_rate"] > 0
    assert rows["reask-override"]["executed_invalid_rate"] == 0


def test_bad_agent_and_preset_are_configuration_errors(tmp_path: Path) -> None:
    """Unknown names fail with a clear message (exit code 2 from the CLI)."""
    with pytest.raises(ConfigurationError):
        parse_agent("gpt-17")
    with pytest.raises(ConfigurationError):
        parse_presets("none,teleport")
    assert parse_presets("all")[0] == "none"
    assert main(["bench", "--agent", "nobody", "--out", str(tmp_path), "--no-progress"]) == 2


def test_url_agent_is_openai_compatible() -> None:
    """An http(s) URL selects the OpenAI-compatible agent."""
    spec = parse_agent("http://127.0.0.1:9/v1")
    assert (spec.kind, spec.url) == ("openai", "http://127.0.0.1:9/v1")
