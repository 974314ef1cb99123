"""The Guard never makes a failure worse: sink errors before recording, bad ids before the agent, bounded re-asks."""

from __future__ import annotations

import pytest

from guardrail import Guard, MemorySink
from guardrail.exceptions import InvalidInputError, TelemetryError
from guardrail.policies import ReAsk
from guardrail.prompting import MAX_FEEDBACK_CHARS, MAX_LISTED_ACTIONS
from guardrail.telemetry import SinkWarning, StepEvent
from guardrail.testing import FunctionAgent, ScriptedAgent

AGREE_RED = "Red looks best, so I should choose red.\nACTION=red"


class Flaky:
    """A sink that fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.failing = True
        self.events: list[object] = []

    def emit(self, event: object) -> None:
        if self.failing:
            raise OSError("disk full")
        self.events.append(event)


def test_raise_on_sink_error_raises_before_the_step_is_recorded_so_a_retry_counts_once() -> None:
    """With raise_on_sink_error=True a failing sink raises TelemetryError before the history records the step;
    retrying the step once the sink works again records it once, as step 0."""
    sink = Flaky()
    guard = Guard(["red", "blue"], telemetry=sink, raise_on_sink_error=True)
    with pytest.warns(SinkWarning, match="disk full"), pytest.raises(TelemetryError):
        guard.step(ScriptedAgent([AGREE_RED]), "pick", episode="e")
    assert guard.view("e").t == 0
    sink.failing = False
    result = guard.step(ScriptedAgent([AGREE_RED]), "pick", episode="e")
    assert result.step == 0
    assert guard.view("e").t == 1
    assert [e.step for e in sink.events if isinstance(e, StepEvent)] == [0]


def test_raise_on_sink_error_keeps_step_indices_exact_under_threads() -> None:
    """Steps of one episode finishing at once from several threads get distinct, gapless indices in their events."""
    import threading

    sink = MemorySink()
    guard = Guard(["red", "blue"], telemetry=sink, raise_on_sink_error=True)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(25):
            guard.step(lambda p: AGREE_RED, "pick", episode="shared")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(e.step for e in sink.steps) == list(range(200))


def test_an_episode_id_that_cannot_be_encoded_is_refused_before_the_agent_is_called() -> None:
    """An episode id with a lone surrogate is an InvalidInputError raised before any agent call (nothing recorded);
    record_reward refuses it too."""
    agent = FunctionAgent(lambda prompt: AGREE_RED)
    sink = MemorySink()
    guard = Guard(["red", "blue"], telemetry=sink)
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        guard.step(agent, "pick", episode="ep\ud800")
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        guard.record_reward("ep\udcff", 1.0)
    assert agent.prompts == []
    assert sink.events == []
    assert guard.step(agent, "pick", episode="ép-1").action == "red"  # other non-ASCII ids are fine


def test_reask_feedback_is_bounded_at_ten_thousand_actions() -> None:
    """At 10,000 actions the re-ask prompt lists at most MAX_LISTED_ACTIONS of them (the one the answer was about
    first) and the feedback stays under MAX_FEEDBACK_CHARS; the re-ask still works."""
    actions = [f"tool_{i:05d}" for i in range(10_000)]
    agent = ScriptedAgent(
        ["I pick this.\nACTION=tool_0999", "tool_09990 is best, so I choose tool_09990.\nACTION=tool_09990"]
    )
    sink = MemorySink()
    guard = Guard(actions, policies=[ReAsk(max_attempts=2)], telemetry=sink, fallback="random")
    result = guard.step(agent, "pick")
    assert result.action == "tool_09990"
    reask_prompt = agent.prompts[1]
    assert len(reask_prompt) < MAX_FEEDBACK_CHARS + 500
    assert "… and 9,960 more" in reask_prompt
    listed = reask_prompt.split("Choose exactly one of: ", 1)[1].split(", …")[0].split(", ")
    assert len(listed) == MAX_LISTED_ACTIONS
    assert "tool_09990" in listed  # resembles the illegal "tool_0999"
    (event,) = sink.steps
    assert len(event.corrections[0].reason) <= 500 + 20  # the default redaction's cut, plus its marker


def test_small_action_spaces_keep_the_full_list_in_the_feedback() -> None:
    """Below the bound the feedback lists every legal action, unchanged."""
    agent = ScriptedAgent(["I pick this.\nACTION=purple", AGREE_RED])
    guard = Guard(["red", "blue"], policies=[ReAsk(max_attempts=2)])
    guard.step(agent, "pick")
    assert "Choose exactly one of: red, blue." in agent.prompts[1]
