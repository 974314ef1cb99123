"""decision_model: the response model whose validators refuse an illegal action or a knowing-doing gap."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

import guardrail_instructor
from guardrail import ActionSpace, FrequencyBias, Guard, KnowingDoingGap, LexicalReader
from guardrail.exceptions import ConfigurationError
from guardrail.rationale import RationaleReading
from guardrail_instructor import DecisionModel, decision_model

GAP = {"rationale": "Blue has the highest UCB, so I choose blue.", "action": "red"}


def validate(model: type[DecisionModel], data: dict[str, Any]) -> DecisionModel:
    """Validate as instructor's JSON mode does: from JSON text, strictly."""
    return model.model_validate_json(json.dumps(data), strict=True)


def test_exported_members_are_sorted_and_importable() -> None:
    """__all__ is the curated, sorted public surface, and every name in it exists."""
    assert guardrail_instructor.__all__ == sorted(guardrail_instructor.__all__)
    for name in guardrail_instructor.__all__:
        assert hasattr(guardrail_instructor, name), name


INTERNAL = {"Message", "as_messages", "completion_text"}
"""Helpers the adapter's modules share, not meant for users."""


def test_every_public_name_of_the_private_modules_is_exported() -> None:
    """What _client, _judge, _models, _parsing and _prompter list as public is in the package's __all__."""
    import importlib

    for module_name in ("_client", "_judge", "_models", "_parsing", "_prompter"):
        module = importlib.import_module(f"guardrail_instructor.{module_name}")
        for member in set(module.__all__) - INTERNAL:
            assert member in guardrail_instructor.__all__, f"{module_name}.{member} is public but not exported"


def test_schema_puts_the_rationale_first_and_the_legal_actions_in_an_enum() -> None:
    """The LLM sees rationale, intended_action, action in that order, actions as enums."""
    schema = decision_model(["red", "green", "blue"], intended_action=True).model_json_schema()
    assert list(schema["properties"]) == ["rationale", "intended_action", "action"]
    assert schema["properties"]["action"]["enum"] == ["red", "green", "blue"]
    assert schema["required"] == ["rationale", "action"]
    assert schema["title"] == "GuardedDecision"


def test_a_consistent_answer_validates_and_spelling_variants_resolve() -> None:
    """An action that agrees with the rationale passes; "**Blue**" is read as "blue"."""
    model = decision_model(["red", "blue"])
    answer = validate(model, {"rationale": "Blue has the highest UCB, so I choose blue.", "action": "**Blue**"})
    assert answer.action == "blue"
    assert answer.rationale_text() == "Blue has the highest UCB, so I choose blue."


def test_a_gap_read_from_the_rationale_raises_naming_the_contradiction() -> None:
    """The lexical reader's confident recommendation differs from the action: a ValueError instructor re-asks with."""
    model = decision_model(["red", "blue"])
    with pytest.raises(ValidationError) as caught:
        validate(model, GAP)
    message = str(caught.value)
    assert "your rationale recommends 'blue'" in message
    assert "but action is 'red'" in message
    assert "Legal actions: red, blue." in message


def test_an_explicit_intended_action_that_differs_raises() -> None:
    """intended_action is compared exactly, whatever the rationale says."""
    model = decision_model(["red", "blue"], intended_action=True)
    with pytest.raises(ValidationError, match=r"recommends 'blue' \(intended_action\) but action is 'red'"):
        validate(model, {"rationale": "hmm", "intended_action": "blue", "action": "red"})
    assert validate(model, {"rationale": "I choose red.", "intended_action": "blue", "action": "blue"}).action == "blue"


def test_an_illegal_action_names_the_legal_actions() -> None:
    """An action outside the space (or not a string) fails with the legal actions listed."""
    model = decision_model(["red", "blue"], intended_action=True)
    with pytest.raises(
        ValidationError, match="'purple' is not a legal action; action must be exactly one of: red, blue"
    ):
        validate(model, {"rationale": "x", "action": "purple"})
    with pytest.raises(ValidationError, match="int 3 is not a legal action"):
        validate(model, {"rationale": "x", "action": 3})
    with pytest.raises(ValidationError, match="intended_action must be exactly one of"):
        validate(model, {"rationale": "x", "intended_action": "pink", "action": "red"})


def test_hedged_or_unclear_rationales_never_count_as_a_gap() -> None:
    """Precision before recall: a hedge gives no reading, so the answer passes."""
    model = decision_model(["red", "blue"])
    assert validate(model, {"rationale": "I am not sure between red and blue.", "action": "red"}).action == "red"


def test_check_gap_false_and_min_confidence_one_turn_the_lexical_check_off() -> None:
    """check_gap=False accepts any legal action; min_confidence=1.0 ignores every lexical reading."""
    assert validate(decision_model(["red", "blue"], check_gap=False), GAP).action == "red"
    assert validate(decision_model(["red", "blue"], min_confidence=1.0), GAP).action == "red"


def test_a_custom_reader_decides_what_the_rationale_recommends() -> None:
    """The reader is pluggable, as in the core."""

    def always_blue(rationale: str, actions: ActionSpace) -> RationaleReading:
        return RationaleReading(action="blue", confidence=1.0, evidence="custom")

    model = decision_model(["red", "blue"], reader=always_blue)
    with pytest.raises(ValidationError, match="recommends 'blue' \\('custom'\\)"):
        validate(model, {"rationale": "anything", "action": "red"})


def test_a_guard_gives_its_actions_reader_and_confidence() -> None:
    """decision_model(guard) follows the guard's KnowingDoingGap detector; without one it does not check gaps."""
    strict = decision_model(Guard(["red", "blue"], detectors=[KnowingDoingGap(min_confidence=0.99)]))
    assert strict.guardrail_spec.actions == ActionSpace(["red", "blue"])
    assert strict.guardrail_spec.min_confidence == 0.99
    assert validate(strict, GAP).action == "red"  # the reading's 0.95 is below the guard's threshold
    lenient = decision_model(Guard(["red", "blue"], detectors=[FrequencyBias()]))
    assert validate(lenient, GAP).action == "red"
    assert decision_model(Guard(["red", "blue"], reader=LexicalReader(min_confidence=0.6))).guardrail_spec.reader


def test_a_custom_rationale_field_is_used_for_checks_and_decisions() -> None:
    """rationale_field renames the field; the check and to_decision() follow it."""
    model = decision_model(["red", "blue"], rationale_field="reasoning", name="Move")
    assert list(model.model_json_schema()["properties"]) == ["reasoning", "action"]
    with pytest.raises(ValidationError, match="recommends 'blue'"):
        validate(model, {"reasoning": GAP["rationale"], "action": "red"})
    decision = validate(model, {"reasoning": "I choose red.", "action": "red"}).to_decision()
    assert (decision.action, decision.rationale_action, decision.format) == ("red", "red", "structured")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rationale_field": "action"}, "rationale_field"),
        ({"rationale_field": "_hidden"}, "rationale_field"),
        ({"rationale_field": "model_x"}, "rationale_field"),
        ({"rationale_field": "not valid"}, "rationale_field"),
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"min_confidence": float("nan")}, "min_confidence"),
        ({"name": "bad name"}, "name"),
    ],
)
def test_bad_arguments_are_configuration_errors(kwargs: dict[str, Any], match: str) -> None:
    """Misuse fails when the model is built, not at the first request."""
    with pytest.raises(ConfigurationError, match=match):
        decision_model(["red", "blue"], **kwargs)


def test_an_empty_action_space_is_a_configuration_error() -> None:
    """The core's ActionSpace refuses an empty space."""
    with pytest.raises(ConfigurationError):
        decision_model([])


def test_models_action_space_describes_each_model_by_its_docstring() -> None:
    """Each pydantic model is an action named by its title and described by its docstring's first line, and the
    reader grounds a rationale that names the action only by what it does."""
    from pydantic import BaseModel

    from guardrail import read_rationale
    from guardrail_instructor import models_action_space

    class LookupOrder(BaseModel):
        """Find a customer's order by its id.

        More detail the reader does not need."""

        order_id: str

    class RefundPayment(BaseModel):
        """Refund a payment to the card."""

        amount: float

    space = models_action_space([LookupOrder, RefundPayment])
    assert space.names == ("LookupOrder", "RefundPayment")
    assert space.descriptions == {
        "LookupOrder": "Find a customer's order by its id.",
        "RefundPayment": "Refund a payment to the card.",
    }
    assert read_rationale("First I'll find the customer's order.", space).action == "LookupOrder"


def test_models_action_space_refuses_what_is_not_a_model() -> None:
    """A plain class or a string is a ConfigurationError naming it."""
    import pytest

    from guardrail import ConfigurationError
    from guardrail_instructor import models_action_space

    with pytest.raises(ConfigurationError, match="'nope'"):
        models_action_space(["nope"])  # type: ignore[list-item]
