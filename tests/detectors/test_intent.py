"""UnexecutedIntent: a rationale that commits to an action in an answer that carries none."""

from __future__ import annotations

import pytest

from guardrail import ActionSpace, Decision, Guard, ReAsk, UnexecutedIntent, parse
from guardrail.exceptions import ConfigurationError
from guardrail.testing import ScriptedAgent, make_step_state

TOOLS = ActionSpace(["search_docs", "send_email"], descriptions={"search_docs": "Search the documentation."})


def _state(text: str, **update: object) -> object:
    decision = parse(text, TOOLS).model_copy(update=update)
    return make_step_state(TOOLS, decision)


@pytest.mark.parametrize(
    "text",
    ["Let me call search_docs to find the guide.", "I'll use search_docs now.", "I will call `search_docs`."],
)
def test_a_commitment_with_no_action_is_a_finding_naming_the_tool(text: str) -> None:
    """The rationale commits to search_docs and the answer names no action: one finding naming search_docs."""
    (finding,) = UnexecutedIntent().detect(_state(text))  # type: ignore[arg-type]
    assert finding.kind == "unexecuted_intent"
    assert finding.actions == ("search_docs",)
    assert 0.0 < finding.score <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "I don't need search_docs for this; the answer is pip install.",
        "Should I call search_docs?",
        "The install command is pip install guardrail-core.",
    ],
)
def test_no_commitment_is_no_finding(text: str) -> None:
    """Negated, asked, or no tool at all: nothing."""
    assert UnexecutedIntent().detect(_state(text)) == ()  # type: ignore[arg-type]


def test_an_answer_action_is_a_step_without_a_call() -> None:
    """A message read as the answer action (format "answer") that commits to a tool is an unexecuted intent."""
    space = ActionSpace([*TOOLS.names, "final_answer"])
    decision = parse("Let me call search_docs.", space).model_copy(
        update={"action": "final_answer", "format": "answer"}
    )
    (finding,) = UnexecutedIntent().detect(make_step_state(space, decision))
    assert finding.actions == ("search_docs",)


def test_a_step_that_takes_the_intended_action_is_no_finding() -> None:
    """The call made is the one the rationale commits to."""
    decision = Decision(rationale="Let me call search_docs.", action="search_docs", rationale_action="search_docs")
    assert (
        UnexecutedIntent().detect(make_step_state(TOOLS, decision.model_copy(update={"rationale_confidence": 1.0})))
        == ()
    )


def test_the_reask_says_the_answer_made_no_call() -> None:
    """With ReAsk, the feedback names the intended tool and says no call was made; the second answer is taken."""
    agent = ScriptedAgent(outputs=["Let me call search_docs.", "ACTION=search_docs"])
    guard = Guard(TOOLS, detectors=[UnexecutedIntent()], policies=[ReAsk(max_attempts=2)])
    result = guard.step(agent, "Where is the install guide?")
    assert result.action == "search_docs"
    assert "your answer made no call" in result.corrections[0].reason
    assert "'search_docs'" in result.corrections[0].reason


def test_min_confidence_is_validated() -> None:
    """A confidence outside [0, 1] is a configuration error."""
    with pytest.raises(ConfigurationError, match="min_confidence"):
        UnexecutedIntent(min_confidence=1.5)
