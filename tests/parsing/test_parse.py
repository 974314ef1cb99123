"""parse(): every output format, and bad output that must never raise."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from guardrail import ActionSpace, ConfigurationError, InvalidInputError, parse

SPACE = ActionSpace(["red", "green", "blue"])


def test_action_eq_last_match_counts_as_in_the_paper() -> None:
    """With several ACTION= lines, the last one is the action and the text before it the rationale."""
    text = "Maybe ACTION=red at first.\nBlue has the highest UCB, so I should choose blue.\nACTION=green"
    decision = parse(text, SPACE)
    assert decision.format == "action_eq"
    assert decision.action == "green"
    assert decision.raw_action == "green"
    assert "highest UCB" in decision.rationale
    assert "ACTION=green" not in decision.rationale


def test_action_eq_with_markdown_and_trailing_words() -> None:
    """'ACTION= **Blue**.' resolves to blue."""
    assert parse("thinking...\nACTION= **Blue**.", SPACE).action == "blue"


def test_illegal_action_is_none_and_kept_as_raw_action() -> None:
    """An action outside the space is None; what was written is kept in raw_action."""
    decision = parse("I pick purple.\nACTION=purple", SPACE)
    assert decision.action is None
    assert decision.raw_action == "purple"


@pytest.mark.parametrize(
    "text",
    [
        '{"rationale": "blue is best", "action": "blue"}',
        'Here is my answer:\n```json\n{"rationale": "blue is best", "action": "Blue"}\n```',
        'I thought about it. {"reasoning": "blue is best", "choice": "blue"} Done.',
    ],
)
def test_json_bare_fenced_or_in_prose(text: str) -> None:
    """A JSON object is read bare, from a fenced block, or from inside prose."""
    decision = parse(text, SPACE)
    assert decision.format == "json"
    assert decision.action == "blue"
    assert "blue is best" in decision.rationale


def test_json_explicit_intended_action_is_the_rationale_action() -> None:
    """An intended_action field is taken as the rationale's action with full confidence."""
    decision = parse('{"rationale": "...", "intended_action": "red", "action": "green"}', SPACE)
    assert decision.rationale_action == "red"
    assert decision.rationale_confidence == 1.0
    assert decision.action == "green"


def test_json_tool_call_shape_keeps_arguments() -> None:
    """An OpenAI-style tool call names the action and keeps its arguments."""
    tools = ActionSpace(["search_docs", "send_email"])
    text = json.dumps({"type": "function", "function": {"name": "send_email", "arguments": '{"to": "a@b.c"}'}})
    decision = parse(text, tools)
    assert decision.action == "send_email"
    assert decision.arguments == {"to": "a@b.c"}


def test_json_cut_off_before_it_closes_is_read_by_its_fields() -> None:
    """A model that runs out of tokens mid-object: its thought is the rationale (not the raw text with its fields),
    and its tool field the action."""
    tools = ActionSpace(["get_forecast", "book_flight"])
    text = '{"thought": "I need the forecast first, so I will call get_forecast.", "tool": "book_flight", "args": {"c'
    decision = parse(text, tools)
    assert decision.format == "json"
    assert decision.rationale == "I need the forecast first, so I will call get_forecast."
    assert decision.action == "book_flight"
    assert decision.rationale_action == "get_forecast"


def test_react_thought_action_input() -> None:
    """ReAct: the last Action line is the action; Thought is the rationale; Action Input the arguments."""
    tools = ActionSpace(["search_docs", "send_email"])
    text = (
        "Thought: the user asked about the API, so I should search the docs first.\n"
        "Action: send_email\n"
        'Action Input: {"to": "boss@example.com"}'
    )
    decision = parse(text, tools)
    assert decision.format == "react"
    assert decision.action == "send_email"
    assert decision.arguments == {"to": "boss@example.com"}
    assert decision.rationale.startswith("the user asked")


def test_xml_tags_and_truncated_action_tag() -> None:
    """XML-style tags are read; a cut-off <action> tag still yields its first line."""
    full = parse("<rationale>green looks best</rationale>\n<action>green</action>", SPACE)
    assert (full.format, full.action, full.rationale) == ("xml", "green", "green looks best")
    truncated = parse("<rationale>green looks best</rationale><action>green", SPACE)
    assert truncated.action == "green"
    intended = parse("<rationale>x</rationale><intended_action>red</intended_action><action>blue</action>", SPACE)
    assert intended.rationale_action == "red"


def test_structured_dict_and_pydantic_model() -> None:
    """Already-structured output (a dict or a pydantic model) is read without text parsing."""

    class Answer(BaseModel):
        rationale: str
        action: str

    assert parse({"rationale": "r", "action": "RED"}, SPACE).action == "red"
    model = parse(Answer(rationale="because", action="blue"), SPACE)
    assert (model.format, model.action, model.rationale) == ("structured", "blue", "because")
    assert parse({"unrelated": 1}, SPACE).action is None


def test_bare_action_and_plain_prose() -> None:
    """A bare action is read as the action; prose with no action format has none."""
    assert parse("**Green**", SPACE).action == "green"
    prose = parse("I am not sure what to do here.", SPACE)
    assert prose.action is None
    assert prose.raw_action is None


@pytest.mark.parametrize(
    "text",
    ["", "   ", "ACTION=", "ACTION", "{", '{"action": ', "<action>", "Action:", "\x00\x01", "ACTION=" + "x" * 5000],
)
def test_malformed_truncated_and_empty_outputs_never_raise(text: str) -> None:
    """Malformed, truncated and empty outputs give action=None, never an exception."""
    assert parse(text, SPACE).action is None


def test_one_megabyte_output() -> None:
    """A 1 MB output with the action at the end parses (and quickly enough to be a unit test)."""
    text = ("blah { not json } " * 60_000)[:1_000_000] + "\nACTION=blue"
    assert len(text) > 1_000_000
    assert parse(text, SPACE).action == "blue"


def test_non_ascii_actions_and_text() -> None:
    """Non-ASCII action names and text resolve like ASCII ones."""
    space = ActionSpace(["rouge", "vert", "bleu", "緑"])
    assert parse("Le meilleur choix est évident…\nACTION=Vert", space).action == "vert"
    assert parse("考えた結果。\nACTION=緑", space).action == "緑"
    assert parse("🤖 ACTION=🤖", space).action is None


@pytest.mark.parametrize("bad", [42, None, 3.5, ["red"], b"ACTION=red"])
def test_non_text_input_is_misuse(bad: object) -> None:
    """Input that is neither text nor a structured object is a GuardrailError (InvalidInputError)."""
    with pytest.raises(InvalidInputError):
        parse(bad, SPACE)


def test_unknown_format_and_empty_space_are_misuse() -> None:
    """A wrong format name or an empty action space is a clear error."""
    with pytest.raises(ConfigurationError, match="unknown format"):
        parse("ACTION=red", SPACE, format="yaml")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        parse("ACTION=red", [])


def test_explicit_format_that_does_not_match_gives_no_action() -> None:
    """Forcing a format the text is not in yields action=None rather than guessing."""
    assert parse("ACTION=red", SPACE, format="xml").action is None
    assert parse("ACTION=red", SPACE, format="action_eq").action == "red"


@settings(max_examples=300)
@given(st.text(max_size=2000), st.sampled_from(["auto", "action_eq", "json", "react", "xml", "bare"]))
def test_parse_never_raises_and_never_leaves_the_space(text: str, format: str) -> None:
    """For arbitrary text, parse() returns a Decision whose actions are in the space or None."""
    decision = parse(text, SPACE, format=format)  # type: ignore[arg-type]
    assert decision.action in (None, *SPACE.names)
    assert decision.rationale_action in (None, *SPACE.names)
    assert 0.0 <= decision.rationale_confidence <= 1.0


@settings(max_examples=200)
@given(st.lists(st.sampled_from(["ACTION=", "Action: ", "<action>", "{", '"action":', "red", "blue", "\n", " ", "x"])))
def test_parse_survives_format_fragments(parts: list[str]) -> None:
    """Texts stitched from format fragments never break the parser."""
    decision = parse("".join(parts), SPACE)
    assert decision.action in (None, *SPACE.names)
