"""LoggingSink messages: ids and names with control characters are escaped, so they cannot split or forge lines."""

from __future__ import annotations

import logging
import shlex

import pytest

from guardrail.telemetry import LoggingSink, RewardEvent, StepEvent
from guardrail.telemetry.logging_sink import log_value

from .conftest import AGREE_RED, run_guard

HOSTILE = [
    "ep\nguardrail step run=forged episode=x step=0 action=blue",
    "\x1b[2J\x1b[31mred alert\x1b[0m",
    "tab\there\rcarriage",
    'quote" and back\\slash',
    "line\u2028separator\x85next\x7fdel",
]


def _fields(message: str) -> dict[str, str]:
    """The key=value pairs of a message, read the way a log parser reads quoted values."""
    return dict(token.split("=", 1) for token in shlex.split(message, posix=True)[2:])


@pytest.mark.parametrize("episode", HOSTILE, ids=["newline-forgery", "ansi", "tab-cr", "quotes", "separators"])
def test_hostile_episode_and_run_ids_stay_on_one_escaped_line(episode: str, caplog: pytest.LogCaptureFixture) -> None:
    """A step whose episode id and run id carry newlines, ANSI escapes or other controls logs one line holding no
    control character; its fields read back with the real action, and the id is its escaped form."""
    caplog.set_level(logging.INFO, logger="guardrail.telemetry")
    run_guard([AGREE_RED], sinks=[LoggingSink()], episode=episode, run_id=episode)
    (record,) = [r for r in caplog.records if getattr(r, "guardrail_type", None) == "step"]
    message = record.getMessage()
    assert message.isprintable()
    fields = _fields(message)
    assert fields["action"] == "red"
    assert list(fields) == ["run", "episode", "step", "action"]
    assert getattr(record, "guardrail")["episode"] == episode  # noqa: B009 - the structured extras keep the real value


def test_plain_values_are_left_bare_and_reward_lines_are_escaped_too() -> None:
    """Ordinary ids stay bare; a reward event's ids are escaped the same way."""
    assert log_value("ep-1") == "ep-1"
    assert log_value(None) == "None"
    assert log_value("a=b") == '"a=b"'
    assert log_value("lone\ud800") == '"lone\\ud800"'
    sink_message = LoggingSink()
    event = RewardEvent(run_id="r\n", episode="e\x1b", step=0, reward=1.0)
    from guardrail.telemetry.logging_sink import _message

    assert _message(event) == 'guardrail reward run="r\\n" episode="e\\x1b" step=0 reward=1'
    assert repr(sink_message) == "LoggingSink('guardrail.telemetry')"
    assert _message(StepEvent(run_id="r", episode="e", step=1, final_action="red")).endswith("action=red")
