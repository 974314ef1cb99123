"""The acceptance line of loop detection: labelled traces replayed through the real Guard API."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from guardrail.loop_traces import areplay, load_traces, replay, score

DATA = Path(__file__).parent / "data" / "loop_traces"
TEST_SHA256 = "57d39f6f45f19247cfebf2dfc5d10e7a49a23e7aa19313c44e5e1ffed53f093a"
"""The blind test split as its writer handed it over (90 traces): it is never edited."""


def test_the_blind_test_split_is_frozen() -> None:
    assert hashlib.sha256((DATA / "test.jsonl").read_bytes()).hexdigest() == TEST_SHA256


@pytest.mark.parametrize("split", ["dev", "test"])
def test_loops_are_found_precisely_and_within_one_step_of_their_label(split: str) -> None:
    """Precision >= 0.95, recall >= 0.95, and each loop flagged is flagged within one step of its label."""
    traces = load_traces(DATA / f"{split}.jsonl")
    assert len(traces) >= 60
    result = score([replay(t) for t in traces])
    assert result.precision is not None
    assert result.precision >= 0.95, result.false_alarms
    assert result.recall is not None
    assert result.recall >= 0.95, result.misses
    assert result.off_by_more == []


def test_the_async_replay_flags_the_same_steps() -> None:
    traces = load_traces(DATA / "dev.jsonl")[::5]

    async def all_of() -> list[object]:
        return [await areplay(t) for t in traces]

    assert asyncio.run(all_of()) == [replay(t) for t in traces]


def test_a_malformed_trace_is_an_error_naming_its_line(tmp_path: Path) -> None:
    from guardrail import InvalidInputError

    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "kind": "varied", "loop": false, "events": [{"type": "call", "tool": "t"}]}\n')
    with pytest.raises(InvalidInputError, match=r"bad.jsonl:1: .*exactly one of result / error"):
        load_traces(path)


def test_renaming_the_tools_changes_no_flag() -> None:
    """Detection does not depend on what the tools are called (relabelling invariance)."""
    traces = load_traces(DATA / "dev.jsonl")
    for trace in traces:
        renamed = {
            **trace,
            "events": [{**e, "tool": f"srv__{e['tool'][::-1]}"} if e["type"] == "call" else e for e in trace["events"]],
        }
        before, after = replay(trace), replay(renamed)
        assert (before.flagged_step, before.pattern) == (after.flagged_step, after.pattern), trace["id"]
