"""The performance benchmark's code runs and reports sane figures (no timing assertions: figures are printed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from guardrail import InMemoryHistoryStore
from guardrail_bench.perf import (
    consistent_answer,
    consistent_json_answer,
    format_table,
    measure_jsonl_throughput,
    measure_step_overhead,
    prefill,
)


def test_prefill_records_steps_and_rewards() -> None:
    """prefill() leaves an episode with exactly the requested number of steps, every one rewarded."""
    store = InMemoryHistoryStore()
    prefill(store, "e", 5, 300, np.random.default_rng(0))
    view = store.view("e", 5)
    assert view.t == 300
    assert view.rewarded_steps == 300


def test_consistent_answer_never_makes_the_guard_intervene() -> None:
    """The instant agent's answer parses to the same action in its rationale and its ACTION line."""
    from guardrail import parse

    decision = parse(consistent_answer("a7"), [f"a{i}" for i in range(20)])
    assert decision.action == "a7"
    assert decision.rationale_action == "a7"


def test_the_json_answer_states_its_intended_action_so_no_lexical_reading_is_needed() -> None:
    """The JSON style parses to the same action, with the rationale's action taken from intended_action."""
    from guardrail import parse

    def no_reader(rationale: object, actions: object) -> object:
        raise AssertionError("the lexical reader must not run when intended_action is given")

    decision = parse(consistent_json_answer("a7"), [f"a{i}" for i in range(20)], reader=no_reader)  # type: ignore[arg-type]
    assert (decision.format, decision.action, decision.rationale_action) == ("json", "a7", "a7")
    assert decision.rationale_evidence == "explicit intended_action field"


def test_measure_step_overhead_rejects_unknown_styles(tmp_path: Path) -> None:
    """An unknown output style or detector set is a clear error, not a silent default."""
    import pytest

    with pytest.raises(ValueError, match="output must be"):
        measure_step_overhead(actions=5, history=0, steps=1, warmup=0, directory=tmp_path, output="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="detectors"):
        measure_step_overhead(actions=5, history=0, steps=1, warmup=0, directory=tmp_path, detectors="some")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reader"):
        measure_step_overhead(actions=5, history=0, steps=1, warmup=0, directory=tmp_path, reader="fast")  # type: ignore[arg-type]


def test_the_unread_reader_names_the_action_the_lexical_reader_finds() -> None:
    """reader="none" skips the lexical reading but gives the same action, so the step does the same work."""
    from guardrail import ActionSpace, read_rationale
    from guardrail_bench.perf import _unread

    space = ActionSpace([f"a{i}" for i in range(20)])
    for name in space.names:
        rationale = consistent_answer(name).split("\n", 1)[0]
        assert _unread(rationale, space).action == read_rationale(rationale, space).action == name
    assert _unread("no action named here", space).action is None


def test_measure_step_overhead_and_throughput_report_positive_figures(tmp_path: Path) -> None:
    """A tiny run gives positive medians with p90 >= median, and a positive JSONL rate; the table lists it."""
    result = measure_step_overhead(actions=5, history=20, steps=30, warmup=5, directory=tmp_path)
    assert 0 < result.median_us <= result.p90_us
    assert result.ratio_to_agent_call > 0
    throughput = measure_jsonl_throughput(events=200, directory=tmp_path)
    assert throughput.events_per_second > 0
    json_result = measure_step_overhead(
        actions=5, history=20, steps=30, warmup=5, directory=tmp_path, output="json", detectors="default"
    )
    assert (json_result.output, json_result.detectors) == ("json", "default")
    assert 0 < json_result.median_us <= json_result.p90_us
    table = format_table([result, json_result], throughput)
    assert "| text | all | 5 | 20 | 30 |" in table
    assert "| json | default | 5 | 20 | 30 |" in table
    unread = measure_step_overhead(actions=5, history=20, steps=30, warmup=5, directory=tmp_path, reader="none")
    assert unread.reader == "none"
    assert "| text (not read) | all | 5 | 20 | 30 |" in format_table([unread])
    assert "events/s" in table


def test_bench_script_runs(tmp_path: Path, capsys: object) -> None:
    """scripts/bench_perf.py prints its command line, the table and the targets."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[3] / "scripts" / "bench_perf.py"
    spec = importlib.util.spec_from_file_location("bench_perf", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--actions", "5", "20", "--history", "10", "1000", "--steps", "20", "--warmup", "2", "--events", "100"]
    old = sys.argv
    sys.argv = ["bench_perf.py", *argv]
    try:
        assert module.main([*argv, "--dir", str(tmp_path)]) == 0
    finally:
        sys.argv = old
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.startswith("$ ")
    assert "median µs" in out
    assert "events/s" in out
    assert "json output, default detectors: median" in out
