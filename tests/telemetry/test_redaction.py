"""Redaction that holds: every event field that can carry agent text goes through it; secrets are masked."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from guardrail import Guard, MemorySink
from guardrail.detectors import InvalidAction, KnowingDoingGap
from guardrail.detectors.base import Finding
from guardrail.exceptions import ConfigurationError
from guardrail.policies import ReAsk
from guardrail.policies.base import Override
from guardrail.state import StepState
from guardrail.telemetry import CorrectionRecord, FindingRecord, Redaction, RewardEvent, StepEvent
from guardrail.telemetry.events import DEFAULT_SCRUBBERS, Scrubber
from guardrail.testing import ScriptedAgent

from .conftest import COLOURS

CANARY = "Zq7canary"
"""Agent text that must not reach telemetry under mode "none" or "sha256"."""

AGENT_TEXT = {
    "StepEvent.raw",
    "StepEvent.rationale",
    "StepEvent.raw_action",
    "StepEvent.error",
    "StepEvent.agent_errors",
    "FindingRecord.detail",
    "FindingRecord.data",
    "CorrectionRecord.reason",
}
"""Every text field that can hold what the agent wrote, or text built from it: all go through the redaction."""

NOT_AGENT_TEXT = {
    "StepEvent.type",
    "StepEvent.event_id",
    "StepEvent.run_id",  # the user's
    "StepEvent.episode",  # the user's
    "StepEvent.status",
    "StepEvent.agent",  # the agent object's name, given by the user
    "StepEvent.format",  # a format name
    "StepEvent.parsed_action",  # the legal actions below: names from the action space, never free text
    "StepEvent.rationale_action",
    "StepEvent.final_rationale_action",
    "StepEvent.final_action",
    "StepEvent.counts",  # keys are action names
    "StepEvent.policies",  # policy names
    "FindingRecord.kind",
    "FindingRecord.actions",
    "CorrectionRecord.policy",
    "CorrectionRecord.kind",
    "CorrectionRecord.from_action",
    "CorrectionRecord.to_action",
    "RewardEvent.type",
    "RewardEvent.event_id",
    "RewardEvent.run_id",
    "RewardEvent.episode",
}


def _holds_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return any(isinstance(a, str) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _holds_text(typing.get_args(annotation)[0])
    if origin is dict:
        return True  # keys are text; values may be
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType, tuple, list):
        return any(_holds_text(a) for a in args if a is not Ellipsis)
    return False


def _text_fields(model: type[BaseModel]) -> Iterator[str]:
    for name, info in model.model_fields.items():
        if _holds_text(info.annotation):
            yield f"{model.__name__}.{name}"


def test_every_text_field_of_the_schema_is_classified() -> None:
    """Walks the event schema: each field that can hold text is either agent text (redacted) or not; a new text
    field fails here until it is classified (and, if agent text, redacted and added to the canary test)."""
    found = {f for model in (StepEvent, FindingRecord, CorrectionRecord, RewardEvent) for f in _text_fields(model)}
    assert found - AGENT_TEXT - NOT_AGENT_TEXT == set(), "classify these fields"
    assert (AGENT_TEXT | NOT_AGENT_TEXT) - found == set(), "these are no longer text fields of the schema"


def _quoting_detector(state: StepState) -> list[Finding]:
    """A user detector that quotes the agent's rationale in its detail and data."""
    decision = state.decision
    return [Finding(kind="quote", score=1.0, detail=f"said: {decision.rationale}", data={"q": decision.raw})]


def _quoting_policy(state: StepState) -> Override | None:
    """A user policy whose reason quotes the agent."""
    if state.decision.action is None:
        return None
    return Override(action=state.decision.action, reason=f"because {state.decision.rationale[:40]}")


class _Raises:
    """Fails once with the canary in its message (an API error echoing the output), then answers."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, prompt: object) -> str:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError(f"upstream said {CANARY}")
        return f"Red is best {CANARY}, so I should choose red.\nACTION=blue"


def _events(redaction: Redaction) -> list[StepEvent]:
    """Steps that put the canary into every agent-text field of the schema."""
    sink = MemorySink()
    guard = Guard(
        COLOURS,
        telemetry=sink,
        redaction=redaction,
        detectors=[KnowingDoingGap(), InvalidAction(), _quoting_detector],
        policies=[ReAsk(max_attempts=2), _quoting_policy],
        fallback="random",
        agent_retry=2,
        seed=0,
    )
    invalid = f"I like {CANARY}.\nACTION={CANARY}-purple"
    gap = f"Red looks best {CANARY}, so I should choose red.\nACTION=blue"
    guard.step(ScriptedAgent([invalid, invalid]), "pick", episode="a")  # raw_action, invalid detail, re-ask
    guard.step(ScriptedAgent([gap, gap]), "pick", episode="b")  # knowing-doing evidence
    guard.step(_Raises(), "pick", episode="c")  # agent_errors

    def broken(prompt: object) -> str:
        raise ValueError(f"bad output {CANARY}")

    with pytest.raises(ValueError, match="bad output"):
        Guard(COLOURS, telemetry=sink, redaction=redaction).step(broken, "pick", episode="d")  # error
    return sink.steps


def _field_values(event: StepEvent) -> dict[str, list[str]]:
    """The text of each agent-text field, as strings."""
    values: dict[str, list[str]] = {name: [] for name in AGENT_TEXT}
    for name in ("raw", "rationale", "raw_action", "error"):
        value = getattr(event, name)
        if value is not None:
            values[f"StepEvent.{name}"].append(value)
    values["StepEvent.agent_errors"].extend(event.agent_errors)
    for finding in event.findings:
        values["FindingRecord.detail"].append(finding.detail)
        values["FindingRecord.data"].extend(str(v) for v in finding.data.values())
    values["CorrectionRecord.reason"].extend(c.reason for c in event.corrections)
    return values


def test_the_canary_scenario_reaches_every_agent_text_field_when_nothing_is_redacted() -> None:
    """Under mode="full" without scrubbers the agent's canary appears in every agent-text field, so the next test
    checks each of them."""
    reached = set()
    for event in _events(Redaction(mode="full", scrubbers=())):
        for name, texts in _field_values(event).items():
            if any(CANARY in text for text in texts):
                reached.add(name)
    assert reached == AGENT_TEXT


@pytest.mark.parametrize("mode", ["none", "sha256"])
def test_no_agent_text_escapes_redaction_none_or_sha256(mode: str) -> None:
    """With Redaction(mode="none") or "sha256", the canary the agent wrote appears nowhere in any event."""
    events = _events(Redaction(mode=mode))  # type: ignore[arg-type]
    assert len(events) == 4
    for event in events:
        assert CANARY not in event.model_dump_json(), event.episode


GUARD_REASONS = {"budget exhausted", "shadow", "no legal action: seeded random legal action"}
"""Reasons the guard itself writes (not agent text), kept as they are."""


def test_truncation_applies_to_every_agent_text_field() -> None:
    """With max_chars=8 no agent-text field keeps more than 8 characters of text plus the marker (the guard's
    own fixed reasons excepted)."""
    for event in _events(Redaction(max_chars=8)):
        for name, texts in _field_values(event).items():
            for text in texts:
                if text in GUARD_REASONS:
                    continue
                kept = text.split(": ", 1)[1] if name.endswith(("error", "agent_errors")) and ": " in text else text
                assert len(kept.split("…[+")[0]) <= 8, (name, text)


def test_error_lines_keep_the_exception_type() -> None:
    """An agent error is logged as its exception type with the message redacted (sha256) or dropped (none)."""
    assert Redaction(mode="none").error("ValueError: bad output") == "ValueError"
    assert Redaction(mode="sha256").error("ValueError: bad").startswith("ValueError: sha256:")
    assert Redaction().error("ValueError: bad output") == "ValueError: bad output"


# -- the default scrubber ------------------------------------------------------------------------------------

SECRETS = {
    "email": "ada.lovelace+notes@analytical-engine.co.uk",
    "openai": "sk-proj-4f9aB3kLmN8pQ2rS7tUvWx1yZ0",
    "anthropic": "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_1234567890abcdefghijklmnopqrstuvwxyz12",
    "slack": "xoxb-123456789012-abcdefghijkl",
    "google": "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "stripe": "sk_live_51H8abcdefghijklmnop",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_default_scrubber_masks_common_secrets_and_emails(name: str) -> None:
    """By default, a secret in the raw output or the rationale is masked in what telemetry keeps."""
    secret = SECRETS[name]
    output = f"Using key {secret} I checked: red looks best, so I should choose red.\nACTION=red"
    sink = MemorySink()
    with Guard(COLOURS, telemetry=sink) as guard:
        guard.step(ScriptedAgent([output]), "pick")
    (event,) = sink.steps
    assert secret not in event.model_dump_json()
    assert "[redacted:" in (event.raw or "")
    assert "I should choose red" in (event.rationale or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2 and more", "password=[redacted:secret] and more"),
        ('"api_key": "abc123XYZ"', '"api_key": "[redacted:secret]"'),
        ("Authorization: Bearer abcdefghijklmnop0123", "Authorization: Bearer [redacted:bearer]"),
        ("no secrets in here, just 12345 and a@b", "no secrets in here, just 12345 and a@b"),
    ],
)
def test_key_value_secrets_keep_their_label(text: str, expected: str) -> None:
    """For password=/api_key:/Bearer the label stays and only the value is masked; plain text is untouched."""
    assert Redaction()(text) == expected


def test_a_secret_straddling_the_cut_is_masked_whole() -> None:
    """Truncation never keeps the head of a secret that the cut runs through."""
    text = "x" * 489 + " " + SECRETS["openai"] + " tail"
    kept = Redaction()(text)
    assert kept is not None
    assert "sk-proj" not in kept
    assert kept.endswith(f"…[+{len(text) - 500} chars]")


def test_scrubbers_are_configurable() -> None:
    """scrubbers=() keeps text as it is; a Scrubber or a plain function can be added to the defaults."""
    text = f"mail {SECRETS['email']} ticket TICKET-2024"
    assert Redaction(scrubbers=())(text) == text
    ticket = Scrubber("ticket", r"\bTICKET-\d{1,12}\b", triggers=("TICKET",))
    assert Redaction(scrubbers=(*DEFAULT_SCRUBBERS, ticket))(text) == "mail [redacted:email] ticket [redacted:ticket]"
    assert Redaction(scrubbers=(str.upper,))("abc") == "ABC"
    with pytest.raises(ConfigurationError, match="scrubber"):
        Redaction(scrubbers=("not callable",))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="group"):
        Scrubber("bad", r"a(b)", group=2)


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 20_000 + "@",
        "a@" * 10_000,
        "sk-" + "a" * 20_000,
        "password=" * 2_000,
        "eyJ" + "a" * 10_000 + "." * 5_000,
        "-----BEGIN PRIVATE KEY-----" + "x" * 20_000,
        ("x." * 5_000) + "@",
    ],
    ids=["at-after-run", "at-run", "key-prefix-run", "label-run", "jwt-run", "key-block-unclosed", "dot-run"],
)
def test_scrubbing_hostile_text_terminates_and_keeps_its_length_bounded(hostile: str) -> None:
    """Adversarial runs of the scrubbers' trigger characters are scrubbed in one pass (linear patterns only;
    scripts/bench_linear.py times them); the result never grows beyond a replacement per match."""
    scrubbed = Redaction(mode="full").scrub(hostile)
    assert len(scrubbed) <= len(hostile) + 20 * hostile.count("@") + 40


EMAIL_REGEX = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}\b")
"""The whole-address pattern the email scrubber stands for (it finds addresses from their "@" instead)."""


@given(st.lists(st.sampled_from(["a", "Z", "0", ".", "-", "_", "%", "+", "@", " ", "é", "ab.cd", "co", "x" * 70])))
def test_the_email_scrubber_masks_exactly_what_the_whole_address_regex_matches(pieces: list[str]) -> None:
    """Read backwards from each "@", the local part starts where the regex's leftmost match would: at a word
    boundary, at most 64 characters back, never inside an address already masked."""
    (email,) = (s for s in DEFAULT_SCRUBBERS if s.name == "email")
    text = "".join(pieces)
    assert email(text) == EMAIL_REGEX.sub(email.replacement, text)


def test_emails_next_to_each_other_are_masked_one_by_one() -> None:
    """Two addresses sharing characters, a too-long local part (cut to its last 64 characters) and a bare domain."""
    scrub = Redaction(mode="full").scrub
    assert scrub("a@b.com@c.org") == "[redacted:email]@c.org"
    assert scrub("x" * 70 + "@site.io") == "x" * 70 + "@site.io"  # no word boundary 64 back: not an address
    assert scrub("." * 70 + "ada@site.io") == "." * 70 + "[redacted:email]"
    assert scrub("see @site.io") == "see @site.io"
