"""``guardrail bench`` with the real Gemma 3 270M on the CI setting: 5 arms, T = 20, 2 bandits.

Asserts behaviour, not regret numbers: the run completes, results.json carries the per-configuration fields,
the best combination executes no invalid action (every step's action came from the agent or a correction),
and the telemetry is written. About a minute on 2 cores; run with ``make test-real`` (``pytest -m real``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrail.cli import main

pytestmark = pytest.mark.real

FIELDS = (
    "regret_mean",
    "regret_ci95",
    "coverage_final",
    "kd_agreement",
    "interventions_per_step",
    "agent_calls_per_step",
    "first_invalid_rate",
    "executed_invalid_rate",
    "knowing_doing_table",
    "wall_seconds",
)


def test_real_gemma_bench_small_setting(tmp_path: Path, gemma_model_path: str) -> None:
    """Gemma 3 270M unguarded and with the best combination; the guarded run has 0 executed invalid actions."""
    del gemma_model_path  # the fixture fails loudly on a broken install; the agent finds the model itself
    code = main(
        ["bench", "--agent", "gemma", "--policies", "none,best", "--bandits", "2", "--arms", "5", "--horizon", "20",
         "--seed", "0", "--out", str(tmp_path), "--no-progress", "--no-plots"]
    )  # fmt: skip
    assert code == 0
    data = json.loads((tmp_path / "results.json").read_text())
    rows = {(c["agent"], c["preset"]): c for c in data["configurations"]}
    assert set(rows) == {("gemma", "none"), ("gemma", "best"), ("ucb", "baseline"), ("random", "baseline")}
    for row in rows.values():
        assert all(field in row for field in FIELDS)
    unguarded, best = rows[("gemma", "none")], rows[("gemma", "best")]
    assert unguarded["agent_calls_per_step"] == 1.0
    assert best["executed_invalid_rate"] == 0.0
    assert best["fallbacks"] == 0
    assert best["coverage_final"] == 1.0  # try-all plays every arm within T = 20 on 5 arms
    cells = [v for r in unguarded["knowing_doing_table"].values() for v in r.values()]
    assert sum(cells) == pytest.approx(100.0 * (1 - unguarded["first_invalid_rate"]), abs=0.1)
    events = [json.loads(line) for line in (tmp_path / "telemetry.jsonl").read_text().splitlines()]
    steps = [e for e in events if "agent_calls" in e]
    assert len(steps) == 2 * 2 * 20
    assert {e["run_id"] for e in steps} == {"gemma/none", "gemma/best"}
