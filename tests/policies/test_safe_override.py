"""OverrideToRationale with argument schemas, and the argument checker it uses."""

from __future__ import annotations

from typing import Any

import pytest

from guardrail import ActionSpace, Decision, Guard, Override, OverrideToRationale, ReAskRequest, Skip
from guardrail.arguments import argument_errors, carried_arguments
from guardrail.exceptions import ConfigurationError
from guardrail.testing import ScriptedAgent, make_step_state

QUERY: dict[str, Any] = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
EMAIL = {
    "type": "object",
    "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
    "required": ["to", "body"],
}
SPACE = ActionSpace(
    ["search_docs", "search_web", "send_email"],
    schemas={"search_docs": QUERY, "search_web": QUERY, "send_email": EMAIL},
)


def _gap(called: str, target: str, arguments: dict[str, object]) -> Decision:
    return Decision(
        rationale=f"I should call {target}.",
        action=called,
        rationale_action=target,
        rationale_confidence=1.0,
        arguments=arguments,
    )


def test_an_override_whose_arguments_fit_the_target_is_made() -> None:
    """search_docs(query) to search_web(query): the arguments fit, the override is made."""
    correction = OverrideToRationale().correct(
        make_step_state(SPACE, _gap("search_docs", "search_web", {"query": "x"}))
    )
    assert isinstance(correction, Override)
    assert correction.action == "search_web"


def test_missing_required_arguments_reask_naming_the_tool() -> None:
    """send_email(to, body) to search_docs, which needs a query: a re-ask naming search_docs and the query."""
    state = make_step_state(SPACE, _gap("send_email", "search_docs", {"to": "a", "body": "b"}), max_attempts=2)
    correction = OverrideToRationale().correct(state)
    assert isinstance(correction, ReAskRequest)
    assert "call 'search_docs'" in correction.feedback
    assert "missing required argument 'query'" in correction.feedback


def test_keep_leaves_the_call_and_says_why() -> None:
    """on_missing_args="keep": an unapplied override naming the missing argument."""
    state = make_step_state(SPACE, _gap("send_email", "search_docs", {"to": "a", "body": "b"}))
    correction = OverrideToRationale(on_missing_args="keep").correct(state)
    assert isinstance(correction, Skip)
    assert correction.kind == "override"
    assert "missing required argument 'query'" in correction.reason


def test_once_the_reasks_are_spent_the_call_is_kept() -> None:
    """A second attempt (max_reasks=1 spent) keeps the call instead of re-asking again."""
    state = make_step_state(SPACE, _gap("send_email", "search_docs", {}), attempt=2, max_attempts=3)
    assert isinstance(OverrideToRationale().correct(state), Skip)


def test_a_guard_reasks_then_takes_the_corrected_call() -> None:
    """Through the Guard: the re-ask is one more agent call; the agent's second answer is taken."""
    agent = ScriptedAgent(outputs=["I should call search_docs.\nACTION=send_email", "ACTION=search_docs"])
    result = Guard(SPACE, policies=[OverrideToRationale()]).step(agent, "Find the guide.")
    assert result.agent_calls == 2
    assert result.action == "search_docs"
    assert [c.kind for c in result.corrections] == ["reask"]


def test_on_missing_args_and_max_reasks_are_validated() -> None:
    """Bad settings are configuration errors naming the setting."""
    with pytest.raises(ConfigurationError, match="on_missing_args"):
        OverrideToRationale(on_missing_args="drop")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_reasks"):
        OverrideToRationale(max_reasks=-1)


def test_a_schema_for_an_unknown_action_is_refused() -> None:
    """ActionSpace(schemas=...) names only its own actions, with mapping schemas."""
    with pytest.raises(ConfigurationError, match="'nope'"):
        ActionSpace(["a"], schemas={"nope": QUERY})
    with pytest.raises(ConfigurationError, match="must be a mapping"):
        ActionSpace(["a"], schemas={"a": "query"})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("arguments", "schema", "problem"),
    [
        ({}, QUERY, "missing required argument 'query'"),
        ({"query": 3}, QUERY, "should be string"),
        ({"n": True}, {"properties": {"n": {"type": "integer"}}}, "should be integer"),
        ({"mode": "c"}, {"properties": {"mode": {"enum": ["a", "b"]}}}, "one of ['a', 'b']"),
        ({"x": 1}, {"properties": {}, "additionalProperties": False}, "unknown argument 'x'"),
        ({"o": {}}, {"properties": {"o": {"$ref": "#/$defs/O"}}, "$defs": {"O": QUERY}}, "'o.query'"),
        ({"v": None}, {"properties": {"v": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}}, "none of"),
        ({"xs": ["a", 1]}, {"properties": {"xs": {"type": "array", "items": {"type": "string"}}}}, "'xs[1]'"),
    ],
)
def test_argument_errors_name_each_problem(
    arguments: dict[str, object], schema: dict[str, object], problem: str
) -> None:
    """Each kind of mismatch is reported with the argument's path."""
    errors = argument_errors(arguments, schema)
    assert any(problem in error for error in errors), errors


def test_fitting_arguments_have_no_errors_and_carry_only_declared_names() -> None:
    """Valid arguments give (); a renamed call keeps the arguments the target declares."""
    assert (
        argument_errors(
            {"query": "x", "v": None},
            {**QUERY, "properties": {**QUERY["properties"], "v": {"anyOf": [{"type": "null"}]}}},
        )
        == ()
    )
    assert argument_errors({"anything": 1}, None) == ()
    assert carried_arguments({"query": "x", "to": "a"}, QUERY) == {"query": "x"}
