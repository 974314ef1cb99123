"""Guard: the step loop; a test that takes ``run`` holds for ``step`` and ``astep`` alike."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from guardrail import (
    ActionSpace,
    Budget,
    ConfigurationError,
    Guard,
    InvalidInputError,
    MemorySink,
    NoLegalActionError,
    Observe,
    OverrideToRationale,
    ReAsk,
    Reply,
    SelfConsistency,
    Usage,
    read_events,
)
from guardrail.testing import AsyncScriptedAgent, FunctionAgent, ScriptedAgent, capture_telemetry

Run = Callable[..., Any]

GAP = "Blue has the highest UCB, so I should choose blue.\nACTION=red"
GOOD = "Blue has the highest UCB, so I should choose blue.\nACTION=blue"
COLOURS = ["red", "green", "blue"]


def make_guard(**kwargs: object) -> tuple[Guard, MemorySink]:
    sink = MemorySink()
    kwargs.setdefault("telemetry", sink)
    kwargs.setdefault("seed", 7)
    return Guard(COLOURS, **kwargs), sink  # type: ignore[arg-type]


def test_the_readme_shape_wraps_an_agent_in_a_few_lines(tmp_path: Path) -> None:
    """wrap(agent)(observation, episode=...) returns a result whose .action is legal, and logs to JSONL."""
    log = tmp_path / "guardrail-events.jsonl"
    guard = Guard(
        actions=ActionSpace(COLOURS),
        policies=[ReAsk(max_attempts=2), OverrideToRationale()],
        telemetry=str(log),
    )
    agent = guard.wrap(ScriptedAgent([GAP, GAP]))
    decision = agent("...observation...", episode="user-42")
    assert decision.action == "blue"
    guard.close()
    events = list(read_events(log))
    assert len(events) == 1
    assert events[0].episode == "user-42"


def test_consistent_step_passes_unchanged_with_one_call(run: Run) -> None:
    """A step whose action matches its rationale is not touched."""
    guard, sink = make_guard(policies=[ReAsk(), OverrideToRationale()])
    agent = ScriptedAgent([GOOD])
    result = run(guard, agent, "obs")
    assert result.action == "blue"
    assert result.findings == ()
    assert result.corrections == ()
    assert not result.intervened
    assert agent.calls == 1
    assert sink.steps[0].agent_calls == 1


def test_reask_fixes_the_gap_and_prompt_does_not_grow(run: Run) -> None:
    """ReAsk sends the original observation plus only the latest failed answer and its feedback."""
    guard, _ = make_guard(policies=[ReAsk(max_attempts=3)])
    agent = ScriptedAgent([GAP.replace("red", "green", 1).replace("ACTION=red", "ACTION=green"), GAP, GOOD])
    result = run(guard, agent, "OBSERVATION")
    assert result.action == "blue"
    assert agent.calls == 3
    second, third = agent.prompts[1], agent.prompts[2]
    for prompt in (second, third):
        assert prompt.startswith("OBSERVATION")
        assert prompt.count("Your previous answer was") == 1
        assert "'blue'" in prompt
    assert "ACTION=red" in third
    assert "ACTION=green" not in third  # only the latest failed answer
    assert [c.kind for c in result.corrections] == ["reask", "reask"]
    assert [(c.from_action, c.to_action) for c in result.corrections] == [("green", "red"), ("red", "blue")]


def test_when_reask_still_fails_the_next_policy_applies(run: Run) -> None:
    """After max_attempts the ReAsk passes and OverrideToRationale acts on the last answer."""
    guard, sink = make_guard(policies=[ReAsk(max_attempts=2), OverrideToRationale()])
    agent = ScriptedAgent([GAP, GAP])
    result = run(guard, agent, "obs")
    assert result.action == "blue"
    assert agent.calls == 2
    assert [(c.policy, c.kind) for c in result.corrections] == [("ReAsk", "reask"), ("OverrideToRationale", "override")]
    event = sink.steps[0]
    assert event.agent_calls == 2
    assert event.parsed_action == "red"
    assert event.final_action == "blue"
    assert event.agrees is True
    assert [f.attempt for f in event.findings] == [1, 2]


def test_override_respects_its_confidence_threshold(run: Run) -> None:
    """Below min_confidence the override does nothing and the gap stays logged."""
    guard, sink = make_guard(policies=[OverrideToRationale(min_confidence=1.0)])
    result = run(guard, ScriptedAgent([GAP]), "obs")
    assert result.action == "red"
    assert sink.steps[0].findings[0].kind == "knowing_doing_gap"
    explicit = run(guard, ScriptedAgent(['{"intended_action": "green", "action": "red"}']), "obs")
    assert explicit.action == "green"


def test_observe_is_shadow_mode(run: Run) -> None:
    """Observe() logs findings and changes nothing; Observe(policy) logs what it would have done."""
    guard, sink = make_guard(policies=[Observe(OverrideToRationale())])
    result = run(guard, ScriptedAgent([GAP]), "obs")
    assert result.action == "red"
    correction = sink.steps[0].corrections[0]
    assert (correction.applied, correction.to_action, correction.policy) == (False, "blue", "OverrideToRationale")
    assert not result.intervened
    plain, plain_sink = make_guard(policies=[Observe()])
    assert run(plain, ScriptedAgent([GAP]), "obs").action == "red"
    assert plain_sink.steps[0].corrections == ()
    assert plain_sink.steps[0].findings[0].kind == "knowing_doing_gap"


def test_fallback_raise_writes_the_event_first(run: Run) -> None:
    """With fallback='raise', no legal action raises NoLegalActionError after its event is written."""
    guard, sink = make_guard(policies=[ReAsk(max_attempts=2)])
    agent = ScriptedAgent(["ACTION=purple", "no idea"])
    with pytest.raises(NoLegalActionError) as caught:
        run(guard, agent, "obs", episode="e1")
    assert caught.value.attempts == 2
    assert caught.value.episode == "e1"
    assert caught.value.last_output == "no idea"
    assert {f.kind for f in caught.value.findings} == {"invalid_action"}
    assert sink.steps[0].status == "no_legal_action"
    assert sink.steps[0].agent_calls == 2
    assert guard.view("e1").t == 0  # nothing was executed


def test_fallback_random_is_seeded_and_legal(run: Run) -> None:
    """fallback='random' picks a legal action that depends only on the seed, episode and step."""
    picks = []
    for _ in range(2):
        guard, _ = make_guard(fallback="random", seed=11)
        picks.append([run(guard, ScriptedAgent(["ACTION=purple"]), "o", episode="e").action for _ in range(1)])
    assert picks[0] == picks[1]
    assert picks[0][0] in COLOURS


def test_fallback_fixed_default(run: Run) -> None:
    """fallback=<action> executes that action when none is legal."""
    guard, sink = make_guard(fallback="Green")
    assert run(guard, ScriptedAgent(["ACTION=purple"]), "o").action == "green"
    assert sink.steps[0].corrections[-1].kind == "fallback"


@pytest.mark.parametrize("bad", ["purple", ""])
def test_unknown_fallback_is_a_configuration_error(bad: str) -> None:
    """A fallback that is neither raise/random nor a legal action fails at construction."""
    with pytest.raises(ConfigurationError, match="fallback"):
        Guard(COLOURS, fallback=bad)


def test_agent_exception_propagates_unchanged_after_its_event(run: Run) -> None:
    """The agent's own exception reaches the caller as is, and the step's event is written first."""
    guard, sink = make_guard(policies=[ReAsk()])
    error = KeyError("boom")
    with pytest.raises(KeyError) as caught:
        run(guard, ScriptedAgent([error]), "obs")
    assert caught.value is error
    event = sink.steps[0]
    assert event.status == "agent_error"
    assert event.agent_calls == 1
    assert event.error == "KeyError: 'boom'"


def test_failure_on_a_reask_counts_every_call(run: Run) -> None:
    """Calls are counted on failure too: a re-ask that raises leaves agent_calls == 2 in the event."""
    guard, sink = make_guard(policies=[ReAsk()])
    with pytest.raises(RuntimeError):
        run(guard, ScriptedAgent([GAP, RuntimeError("down")]), "obs")
    assert sink.steps[0].agent_calls == 2


def test_usage_is_summed_over_calls(run: Run) -> None:
    """Token usage reported through Reply is summed over all calls of a step."""
    guard, sink = make_guard(policies=[ReAsk()])
    usage = Usage(input_tokens=10, output_tokens=3)
    run(guard, ScriptedAgent([Reply(output=GAP, usage=usage), Reply(output=GOOD, usage=usage)]), "obs")
    assert (sink.steps[0].input_tokens, sink.steps[0].output_tokens) == (20, 6)


def test_history_is_per_episode_and_rewards_attach_to_the_oldest_pending_step(run: Run) -> None:
    """Each episode has its own counts; a reward goes to that episode's oldest unrewarded step."""
    guard, sink = make_guard()
    run(guard, ScriptedAgent([GOOD]), "o", episode="a")
    run(guard, ScriptedAgent(["ACTION=red"]), "o", episode="b")
    run(guard, ScriptedAgent([GOOD]), "o", episode="a", reward=1.0)
    guard.record_reward("a", 0.5)
    a, b = guard.view("a"), guard.view("b")
    assert a.counts == (0, 0, 2)
    assert a.reward_counts == (0, 0, 2)
    assert a.means()[2] == pytest.approx(0.75)
    assert b.counts == (1, 0, 0)
    rewards = [e for e in sink.events if e.type == "reward"]
    assert [(e.episode, e.step, e.reward) for e in rewards] == [("a", 0, 1.0), ("a", 1, 0.5)]
    assert sink.steps[-1].counts == {"blue": 2}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1.0", None, True])
def test_bad_rewards_are_clear_errors_and_lose_nothing(bad: object, run: Run) -> None:
    """NaN, infinite or non-numeric rewards raise InvalidInputError; recorded history is untouched."""
    guard, _ = make_guard()
    run(guard, ScriptedAgent([GOOD]), "o")
    with pytest.raises(InvalidInputError):
        guard.record_reward("default", bad)  # type: ignore[arg-type]
    assert guard.view().counts == (0, 0, 1)
    guard.record_reward("default", 1.0)
    assert guard.view().rewarded_steps == 1


def test_reward_without_a_pending_step_is_an_error() -> None:
    """A reward for an episode with no step waiting for one is refused."""
    guard, _ = make_guard()
    with pytest.raises(InvalidInputError, match="waiting"):
        guard.record_reward("nobody", 1.0)


async def test_async_agent_wrap_and_astep() -> None:
    """wrap() of an async agent gives an awaitable guarded agent with the same behaviour."""
    guard, sink = make_guard(policies=[ReAsk(max_attempts=2), OverrideToRationale()])
    agent = AsyncScriptedAgent([GAP, GAP])
    guarded = guard.wrap(agent)
    result = await guarded("obs", episode="x")
    assert result.action == "blue"
    assert agent.calls == 2
    assert sink.steps[0].agent_calls == 2


async def test_astep_accepts_a_sync_agent() -> None:
    """astep runs a sync agent in a worker thread."""
    guard, _ = make_guard()
    result = await guard.astep(ScriptedAgent([GOOD]), "obs")
    assert result.action == "blue"


async def test_async_agent_exception_propagates_after_event() -> None:
    """An async agent's exception propagates unchanged and its event is written."""
    guard, sink = make_guard()
    with pytest.raises(ValueError, match="bad"):
        await guard.astep(AsyncScriptedAgent([ValueError("bad")]), "obs")
    assert sink.steps[0].status == "agent_error"


async def test_many_concurrent_async_episodes_keep_exact_counts() -> None:
    """200 episodes stepping concurrently each end with their own exact counts."""
    guard, sink = make_guard()

    async def episode(i: int) -> None:
        agent = AsyncScriptedAgent([GOOD] * 5)
        for _ in range(5):
            await guard.astep(agent, "o", episode=f"e{i}")
            await asyncio.sleep(0)

    await asyncio.gather(*(episode(i) for i in range(200)))
    assert len(sink.steps) == 1000
    assert all(guard.view(f"e{i}").counts == (0, 0, 5) for i in range(200))


def test_sync_step_refuses_an_async_agent() -> None:
    """Calling step() with an agent that returns a coroutine is a clear error pointing at astep()."""
    guard, _ = make_guard()

    async def agent(prompt: str) -> str:
        return GOOD

    with pytest.raises(InvalidInputError, match="astep"):
        guard.step(agent, "obs")


def test_self_consistency_votes_with_ties_toward_the_rationale(run: Run) -> None:
    """SelfConsistency samples more answers and takes the majority; a tie goes to the rationale's action."""
    guard, sink = make_guard(policies=[SelfConsistency(samples=3)])
    agent = ScriptedAgent([GAP, "x\nACTION=green", "so I should choose blue.\nACTION=blue"])
    result = run(guard, agent, "obs")
    assert agent.calls == 3
    assert result.action == "blue"  # red, green, blue all tie; the first answer's rationale said blue
    vote = sink.steps[0].corrections[0]
    assert (vote.kind, vote.from_action, vote.to_action, vote.attempts) == ("vote", "red", "blue", 3)
    majority = Guard(COLOURS, policies=[SelfConsistency(samples=3)])
    assert run(majority, ScriptedAgent([GAP, "ACTION=green", "ACTION=green"]), "o").action == "green"


def test_budget_limits_extra_calls_and_marks_findings(run: Run) -> None:
    """With no extra calls allowed, ReAsk is skipped, the finding is marked budget_exhausted, override applies."""
    guard, sink = make_guard(
        policies=[ReAsk(max_attempts=3), OverrideToRationale()], budget=Budget(max_extra_calls_per_step=0)
    )
    agent = ScriptedAgent([GAP])
    result = run(guard, agent, "obs")
    assert agent.calls == 1
    assert result.action == "blue"
    event = sink.steps[0]
    assert event.findings[0].budget_exhausted
    assert [(c.kind, c.applied) for c in event.corrections] == [("reask", False), ("override", True)]


def test_intervention_budget_per_episode(run: Run) -> None:
    """After max_interventions_per_episode, gaps are still logged but no longer corrected."""
    guard, sink = make_guard(policies=[OverrideToRationale()], budget=Budget(max_interventions_per_episode=2))
    actions = [run(guard, ScriptedAgent([GAP]), "o", episode="e").action for _ in range(4)]
    assert actions == ["blue", "blue", "red", "red"]
    assert all(e.findings for e in sink.steps)
    assert sink.steps[-1].findings[0].budget_exhausted
    other = run(guard, ScriptedAgent([GAP]), "o", episode="other")
    assert other.action == "blue"  # budgets are per episode


def test_plain_functions_work_as_detectors_and_policies(run: Run) -> None:
    """A function state -> findings and a function state -> correction are accepted."""
    from guardrail import Finding, Override

    def always_flag(state):  # type: ignore[no-untyped-def]
        return [Finding(kind="custom", score=0.5, detail="flagged")]

    def go_green(state):  # type: ignore[no-untyped-def]
        return Override(action="green", reason="custom") if state.has("custom") else None

    guard = Guard(COLOURS, detectors=[always_flag], policies=[go_green])
    assert run(guard, ScriptedAgent([GOOD]), "o").action == "green"


def test_override_to_an_illegal_action_is_a_configuration_error(run: Run) -> None:
    """A policy that overrides to an action outside the space is a bug in the policy, reported clearly."""
    from guardrail import Override

    guard = Guard(COLOURS, policies=[lambda state: Override(action="purple", reason="bad")])
    with pytest.raises(ConfigurationError, match="purple"):
        run(guard, ScriptedAgent([GOOD]), "o")


def test_bad_construction_arguments() -> None:
    """Bad Guard arguments are ConfigurationErrors naming what was wrong."""
    with pytest.raises(ConfigurationError, match="policies"):
        Guard(COLOURS, policies=ReAsk())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="seed"):
        Guard(COLOURS, seed=-1)
    with pytest.raises(ConfigurationError, match="max_attempts"):
        ReAsk(max_attempts=0)
    with pytest.raises(ConfigurationError):
        Budget(max_extra_calls_per_step=-1)
    with pytest.raises(ConfigurationError, match="agent_timeout"):
        Guard(COLOURS, agent_timeout=0)
    with pytest.raises(InvalidInputError, match="episode"):
        Guard(COLOURS).step(ScriptedAgent([GOOD]), "o", episode="")


def test_jsonl_file_is_private_and_one_line_per_event(tmp_path: Path, run: Run) -> None:
    """The JSONL log is created 0600, one JSON object per line, and reads back."""
    path = tmp_path / "sub" / "events.jsonl"
    with Guard(COLOURS, telemetry=path, policies=[OverrideToRationale()]) as guard:
        run(guard, ScriptedAgent([GAP]), "o")
        guard.record_reward("default", 1.0)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["step", "reward"]
    step = next(iter(read_events(path)))
    assert step.type == "step"
    assert step.corrections[0].to_action == "blue"


def test_torn_last_line_is_skipped_and_counted(tmp_path: Path, run: Run) -> None:
    """An interrupted last write is skipped, counted, and the complete events are kept."""
    path = tmp_path / "e.jsonl"
    with Guard(COLOURS, telemetry=path) as guard:
        run(guard, ScriptedAgent([GOOD]), "o")
        run(guard, ScriptedAgent([GOOD]), "o")
    with path.open("a") as handle:
        handle.write('{"schema_version": 1, "type": "step", "run_')
    log = read_events(path)
    assert len(list(log)) == 2
    assert log.skipped_lines == 1


def test_capture_telemetry_collects_and_detaches(run: Run) -> None:
    """capture_telemetry collects the step events emitted inside the block only."""
    guard = Guard(COLOURS)
    with capture_telemetry(guard) as events:
        run(guard, ScriptedAgent([GOOD]), "o")
    run(guard, ScriptedAgent([GOOD]), "o")
    assert len(events) == 1


def test_function_agent_records_prompts() -> None:
    """FunctionAgent calls the function and records prompts."""
    agent = FunctionAgent(lambda prompt: GOOD)
    Guard(COLOURS).step(agent, "hello")
    assert agent.prompts == ["hello"]


def test_reply_calls_count_requests_made_inside_one_invocation(run: Run) -> None:
    """An agent that retried internally (e.g. instructor) reports Reply(calls=n); all n are agent calls."""
    guard, sink = make_guard()
    run(guard, ScriptedAgent([Reply(output=GOOD, calls=3)]), "obs")
    assert sink.steps[0].agent_calls == 3


def test_adapted_fills_only_what_the_guard_leaves_default_and_shares_state(run: Run) -> None:
    """guard.adapted(parser, prompter) is a copy sharing history and telemetry; a guard with its own parser keeps it."""
    from guardrail import TextPrompter, parse

    guard, sink = make_guard()

    def upper_parser(raw: object, actions: ActionSpace):  # type: ignore[no-untyped-def]
        return parse(str(raw).lower(), actions)

    adapted = guard.adapted(parser=upper_parser, prompter=TextPrompter())
    assert adapted is not guard
    assert adapted.parser is upper_parser
    assert guard.parser is None
    run(adapted, ScriptedAgent(["ACTION=BLUE"]), "o", episode="shared")
    assert guard.view("shared").counts == (0, 0, 1)
    assert len(sink.steps) == 1
    custom = Guard(COLOURS, parser=upper_parser)
    assert custom.adapted(parser=lambda raw, actions: parse("", actions)) is custom


def test_skip_step_from_a_parser_records_nothing(run: Run) -> None:
    """A parser raising SkipStep ends the step: the exception propagates, no event, no history."""
    from guardrail.exceptions import SkipStep

    def not_a_step(raw: object, actions: ActionSpace):  # type: ignore[no-untyped-def]
        raise SkipStep(raw)

    sink = MemorySink()
    guard = Guard(COLOURS, parser=not_a_step, telemetry=sink)
    with pytest.raises(SkipStep) as caught:
        run(guard, ScriptedAgent(["final answer"]), "o")
    assert caught.value.output == "final answer"
    assert sink.events == []
    assert guard.view().t == 0


def test_the_states_results_and_views_the_guard_builds_equal_those_of_their_constructors() -> None:
    """StepState, StepResult and HistoryView are filled without their field-by-field __init__: the same objects."""
    import dataclasses

    from guardrail import Finding, StepResult
    from guardrail.history import HistoryView
    from guardrail.state import StepState

    seen: list[StepState] = []

    def flag(state: StepState) -> list[Finding]:
        seen.append(state)
        return [Finding(kind="custom", score=0.5, detail="flagged")]

    def look(state: StepState) -> None:
        seen.append(state)  # the state policies see, with the findings

    guard = Guard(COLOURS, detectors=[flag], policies=[look], seed=3)
    result = guard.step(ScriptedAgent([GAP]), "o", episode="ep")
    assert len(seen) == 2
    assert seen[1].findings
    assert not seen[0].findings
    guard.record_reward("ep", 1.0)
    view = guard.history.view("ep", len(COLOURS))
    assert (view.t, view.counts, view.reward_sums) == (1, (1, 0, 0), (1.0, 0.0, 0.0))
    for built in (*seen, result, view):
        cls = type(built)
        assert cls in (StepState, StepResult, HistoryView)
        names = [f.name for f in dataclasses.fields(cls)]
        assert sorted(vars(built)) == sorted(names)  # every field, nothing else
        rebuilt = cls(**{name: getattr(built, name) for name in names})
        assert rebuilt == built
        with pytest.raises(dataclasses.FrozenInstanceError):
            built.episode = "changed"  # type: ignore[misc]
    from guardrail.state import BudgetView

    assert seen[0].budget == BudgetView()  # an unbounded budget before any exploration limits nothing
    # the lazily created generator still works on a state built this way, seeded from the state's seed
    assert seen[0].rng is seen[0].rng
    assert seen[0].rng.random() == np.random.default_rng(seen[0].seed).random()


def test_a_policy_may_declare_the_kinds_it_answers_as_any_collection(run: Run) -> None:
    """answers given as a list is read as a set of kinds: the policy runs on a gap and not on a clean step."""
    from guardrail import Override
    from guardrail.state import StepState

    class FollowTheRationale:
        def __init__(self) -> None:
            self.answers = ["knowing_doing_gap"]  # a list, not the frozenset the protocol suggests
            self.calls = 0

        def correct(self, state: StepState) -> Override | None:
            self.calls += 1
            return Override(action=str(state.decision.rationale_action), reason="follow the rationale")

    policy = FollowTheRationale()
    guard = Guard(COLOURS, policies=[policy])  # type: ignore[list-item]
    assert run(guard, ScriptedAgent([GOOD]), "o").action == "blue"
    assert policy.calls == 0  # no finding: not asked
    assert run(guard, ScriptedAgent([GAP]), "o").action == "blue"
    assert policy.calls == 1


def test_replace_reads_with_a_new_parser_and_leaves_the_guard_unchanged() -> None:
    """guard.replace(parser=...) reads with that parser, counts in the same history, and the guard reads as before."""
    from guardrail import Decision

    def always_blue(raw: object, actions: ActionSpace) -> Decision:
        return Decision(action="blue", raw=raw)

    guard, sink = make_guard()
    blue = guard.replace(parser=always_blue)
    assert blue.step(ScriptedAgent(["ACTION=red"]), "o").action == "blue"
    assert guard.step(ScriptedAgent(["ACTION=red"]), "o").action == "red"
    assert (guard.view().t, len(sink.steps), guard.parser) == (2, 2, None)
