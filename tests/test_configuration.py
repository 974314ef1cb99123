"""Misconfiguration is found when a Guard or a policy is built: a ConfigurationError that names the value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from guardrail import (
    ConfigurationError,
    EpsilonGreedy,
    Guard,
    KnowingDoingGap,
    ReAsk,
    SelfConsistency,
)

COLOURS = ["red", "green", "blue"]


def test_a_policy_class_instead_of_an_instance_asks_whether_you_meant_an_instance() -> None:
    """policies=[ReAsk] (the class) is refused with 'did you mean ReAsk()?'."""
    with pytest.raises(ConfigurationError, match=re.escape("did you mean ReAsk()?")):
        Guard(COLOURS, policies=[ReAsk])  # type: ignore[list-item]


def test_a_single_policy_not_in_a_list_is_named_with_the_list_it_needs() -> None:
    """policies=ReAsk() is refused, naming the policy and suggesting the list."""
    with pytest.raises(ConfigurationError, match=re.escape("did you mean [ReAsk(")):
        Guard(COLOURS, policies=ReAsk())  # type: ignore[arg-type]


def test_a_detector_given_as_a_string_is_named() -> None:
    """detectors=["knowing_doing_gap"] is refused, naming the string and the object it wants instead."""
    with pytest.raises(ConfigurationError, match="'knowing_doing_gap' is a string"):
        Guard(COLOURS, detectors=["knowing_doing_gap"])  # type: ignore[list-item]


def test_a_detector_class_instead_of_an_instance_asks_whether_you_meant_an_instance() -> None:
    """detectors=[KnowingDoingGap] is refused with 'did you mean KnowingDoingGap()?'."""
    with pytest.raises(ConfigurationError, match=re.escape("did you mean KnowingDoingGap()?")):
        Guard(COLOURS, detectors=[KnowingDoingGap])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("budget", 5),
        ("history", "redis://localhost"),
        ("prompter", "plain"),
        ("redaction", "full"),
        ("seed", "42"),
        ("fallback", 3),
        ("agent_timeout", "10"),
        ("agent_retry", "3"),
        ("agent_retry_wait", 2.0),
        ("max_abandoned_calls", 2.5),
        ("sleep", 0.5),
        ("clock", 0),
    ],
)
def test_a_guard_argument_of_the_wrong_type_is_named_with_its_value(argument: str, value: Any) -> None:
    """A wrong type is a ConfigurationError naming the argument and the value, not a TypeError at step 1."""
    kwargs: dict[str, Any] = {argument: value}
    with pytest.raises(ConfigurationError) as raised:
        Guard(COLOURS, **kwargs)
    assert argument in str(raised.value)
    assert repr(value) in str(raised.value)


def test_actions_given_as_one_string_are_refused() -> None:
    """Guard("red") would be three one-letter actions: refused, naming the string."""
    with pytest.raises(ConfigurationError, match="'red'"):
        Guard("red")


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda: ReAsk(max_attempts="2"), "max_attempts"),  # type: ignore[arg-type]
        (lambda: SelfConsistency(samples=2.5), "samples"),  # type: ignore[arg-type]
        (lambda: EpsilonGreedy(epsilon="0.1"), "epsilon"),  # type: ignore[arg-type]
        (lambda: KnowingDoingGap(min_confidence="high"), "min_confidence"),  # type: ignore[arg-type]
    ],
)
def test_a_policy_or_detector_argument_of_the_wrong_type_is_named(build: Any, named: str) -> None:
    """Policies and detectors check their argument types when built, naming the argument and the value."""
    with pytest.raises(ConfigurationError, match=named):
        build()


def test_an_unwritable_telemetry_path_is_named(tmp_path: Path) -> None:
    """A telemetry path that cannot be created (its parent is a file) is refused when the Guard is built."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file")
    path = blocker / "events.jsonl"
    with pytest.raises(ConfigurationError, match=re.escape(str(path))):
        Guard(COLOURS, telemetry=path)
