"""The tool-use benchmark: deterministic tools, the solution path, transient errors, the profiles, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from guardrail import LOOP, UNEXECUTED_INTENT, ConfigurationError, Guard, Loops, Observe
from guardrail.arguments import argument_errors
from guardrail.cli import main
from guardrail_bench.tool_agents import (
    CompetentProfile,
    IntentNotEmittedProfile,
    LoopProneProfile,
    SimulatedToolAgent,
    ToolChatAgent,
    WrongToolProfile,
    parse_tool_agent,
    render_messages,
)
from guardrail_bench.tools_env import (
    ANSWER_ACTION,
    FAMILIES,
    TRANSIENT_ERROR,
    Call,
    Outcome,
    ToolEpisode,
    ToolPrompt,
    ToolPrompter,
    ToolTask,
    Turn,
    make_tasks,
    tool_action_space,
    tool_parser,
)
from guardrail_bench.tools_runner import GUARDS, play_tool_episode, run_tool_tasks, tool_guard

TASKS = make_tasks(12, seed=0)


def _solve(task: ToolTask) -> ToolEpisode:
    """Play the solution path, retrying a call once after an error."""
    episode = ToolEpisode(task, step_cap=10)
    for call in task.solution:
        if episode.execute(call).error is not None:
            episode.execute(call)
    return episode


def test_tasks_are_seeded_cover_every_family_and_a_shorter_run_is_a_prefix() -> None:
    """The same seed gives the same tasks; 64 tasks hold every family; task i depends on (seed, i) only."""
    tasks = make_tasks(64, seed=3)
    assert [t.task_id for t in tasks] == [t.task_id for t in make_tasks(64, seed=3)]
    assert [t.solution for t in tasks] == [t.solution for t in make_tasks(64, seed=3)]
    assert {t.family for t in tasks} == set(FAMILIES)
    assert [t.solution for t in make_tasks(9, seed=3)] == [t.solution for t in tasks[:9]]
    assert [t.solution for t in make_tasks(9, seed=4)] != [t.solution for t in tasks[:9]]


def test_every_task_has_required_arguments_distractors_and_a_path_its_schemas_accept() -> None:
    """Each solution call fits its tool's schema, some tools need arguments, and tools off the path are offered."""
    for task in TASKS:
        path = {c.tool for c in task.solution}
        assert len([t for t in task.tools if t.name not in path]) >= 2
        for call in task.solution:
            tool = task.tool(call.tool)
            assert tool is not None
            assert tool.parameters["required"]
            assert argument_errors(call.arguments, tool.parameters) == ()
            assert argument_errors({}, tool.parameters) != ()


def test_tools_are_deterministic() -> None:
    """The same call on the same task gets the same outcome, every time and in every episode."""
    for task in TASKS:
        for call in [*task.solution, *(Call(tool=t.name, arguments={"x": "y"}) for t in task.tools)]:
            assert task.respond(task.data, call) == task.respond(task.data, call)


def test_the_solution_path_succeeds_after_retrying_its_one_transient_error() -> None:
    """The path's transient call fails once with a retryable error, the retry answers, and the final call wins."""
    for task in TASKS:
        episode = _solve(task)
        errors = [turn for turn in episode.transcript if turn.outcome.error is not None]
        assert [turn.outcome.error for turn in errors] == [TRANSIENT_ERROR]
        assert errors[0].call == task.solution[task.transient]
        assert episode.finished
        assert episode.success
        assert len(episode.transcript) == len(task.solution) + 1


def test_a_wrong_final_action_or_wrong_arguments_fail_the_task() -> None:
    """Executing another final tool, or the final tool with other arguments, ends the task as a failure."""
    task = next(t for t in TASKS if t.family == "support")
    other = "escalate_ticket" if task.solution[-1].tool == "refund_order" else "refund_order"
    for final in (
        Call(tool=other, arguments={"order_id": task.data["order_id"], "amount": 1.0, "reason": "x"}),
        Call(tool=task.solution[-1].tool, arguments={**task.solution[-1].arguments, "order_id": "A-0000"}),
    ):
        episode = ToolEpisode(task, step_cap=10)
        for call in task.solution[:-1]:
            if episode.execute(call).error is not None:
                episode.execute(call)
        episode.execute(final)
        assert not episode.success


def test_a_task_needs_its_path_in_order_to_succeed() -> None:
    """The final call alone, with the right arguments, does not solve the task: the path was not followed."""
    task = TASKS[0]
    episode = ToolEpisode(task, step_cap=10)
    episode.execute(task.solution[-1])
    assert episode.finished
    assert not episode.success


def _answers(
    profile: Any, task: ToolTask, transcript: tuple[Turn, ...], seed: int, n: int = 400, **kw: Any
) -> list[Any]:
    rng = np.random.default_rng(seed)
    return [profile.answer(ToolPrompt(task=task, transcript=transcript, **kw), rng, {}) for _ in range(n)]


def test_the_competent_profile_names_and_makes_the_next_call_of_the_path() -> None:
    """Its rationale names the tool it calls, and the guard reads that tool from the rationale."""
    task = TASKS[0]
    space = tool_action_space(task.tools)
    transcript: tuple[Turn, ...] = ()
    for call in task.solution:
        answer = CompetentProfile().answer(ToolPrompt(task=task, transcript=transcript), np.random.default_rng(0), {})
        decision = tool_parser(answer, space)
        assert (decision.action, decision.arguments, decision.rationale_action) == (
            call.tool,
            call.arguments,
            call.tool,
        )
        transcript = (*transcript, Turn(call=call, outcome=Outcome(result="ok")))


def test_the_intent_profile_says_let_me_call_without_a_call_at_its_rate_and_a_reask_fixes_it_at_its_rate() -> None:
    """No call w.p. p_no_call on a first answer; after the intent re-ask, the call w.p. p_fix (seeded)."""
    task = TASKS[0]
    profile = IntentNotEmittedProfile(p_no_call=0.3, p_fix=0.8)
    first = _answers(profile, task, (), seed=1)
    silent = [a for a in first if a["action"] == ANSWER_ACTION]
    assert 0.24 < len(silent) / len(first) < 0.36
    decision = tool_parser(silent[0], tool_action_space(task.tools))
    assert decision.format == "answer"
    assert decision.rationale_action == task.solution[0].tool
    feedback = "Your reasoning says you will use 'find_order', but your answer made no call."
    again = _answers(profile, task, (), seed=1, feedback=feedback)
    assert 0.74 < np.mean([a["action"] == task.solution[0].tool for a in again]) < 0.86
    assert first == _answers(profile, task, (), seed=1)


def test_the_wrong_tool_profile_names_the_right_tool_and_calls_another_at_its_rate() -> None:
    """A wrong call w.p. p_wrong, under a rationale naming the path's tool; a gap re-ask fixes it w.p. p_fix."""
    task = TASKS[1]
    profile = WrongToolProfile(p_wrong=0.3, p_fix=0.7)
    answers = _answers(profile, task, (), seed=2)
    wrong = [a for a in answers if a["action"] != task.solution[0].tool]
    assert 0.24 < len(wrong) / len(answers) < 0.36
    space = tool_action_space(task.tools)
    assert all(tool_parser(a, space).rationale_action == task.solution[0].tool for a in wrong)
    fixed = _answers(profile, task, (), seed=2, feedback="Your reasoning recommends 'x', but your action was 'y'.")
    assert 0.63 < np.mean([a["action"] == task.solution[0].tool for a in fixed]) < 0.77


def test_the_loop_prone_profile_repeats_or_ping_pongs_and_leaves_on_a_nudge_at_its_rate() -> None:
    """In a loop it repeats its last call (or the one before); a nudge gets the path's call w.p. p_nudge."""
    task = TASKS[2]
    first, second = task.solution[0], task.solution[1]
    transcript = (Turn(call=first, outcome=Outcome(result="a")), Turn(call=second, outcome=Outcome(result="b")))
    profile = LoopProneProfile(p_loop=1.0)
    rng = np.random.default_rng(3)
    looped = {str(Call(tool=a["action"], arguments=a["arguments"])) for a in (
        profile.answer(ToolPrompt(task=task, transcript=transcript), rng, {}) for _ in range(60)
    )}  # fmt: skip
    assert looped == {str(first), str(second)}  # repeat, or ping-pong back to the call before
    memory: dict[str, Any] = {"loop": "repeat"}
    nudged = [
        profile.answer(
            ToolPrompt(task=task, transcript=transcript, feedback="nudge: you are in a loop"), rng, dict(memory)
        )
        for _ in range(400)
    ]
    assert 0.53 < np.mean([a["action"] == task.solution[2].tool for a in nudged]) < 0.67
    never = LoopProneProfile(p_loop=0.0, p_loop_after_error=0.0)
    assert all(a["action"] == task.solution[2].tool for a in _answers(never, task, transcript, seed=3, n=50))


def test_profiles_check_their_probabilities() -> None:
    """A probability outside [0, 1] is a configuration error naming it."""
    with pytest.raises(ConfigurationError, match="p_nudge"):
        LoopProneProfile(p_nudge=1.5)
    with pytest.raises(ConfigurationError, match="p_no_call"):
        IntentNotEmittedProfile(p_no_call=-0.1)


def test_a_guarded_loop_is_nudged_and_broken() -> None:
    """A loop-prone agent that repeats its call is nudged by the guard and moves on along the path."""
    task = TASKS[0]
    profile = LoopProneProfile(p_loop=1.0, p_loop_after_error=1.0, p_escape=0.0, p_nudge=1.0)
    guard = tool_guard(task, GUARDS["guarded"][1](), seed=0, run_id="t")
    agent = SimulatedToolAgent(profile, np.random.default_rng(0), name="loop-prone")
    record = play_tool_episode(guard, agent, task, episode="e")
    assert record.loops_detected >= 1
    assert record.loops_broken == record.loops_detected
    assert record.agent_calls > record.steps  # the nudges were agent calls
    unguarded = tool_guard(task, [Observe()], seed=0, run_id="u")
    stuck = play_tool_episode(
        unguarded, SimulatedToolAgent(profile, np.random.default_rng(0), name="l"), task, episode="e"
    )
    assert not stuck.success
    assert stuck.loops_broken == 0
    assert stuck.steps == 10


def test_a_loop_that_survives_its_nudge_and_block_is_stopped_and_counted_unbroken() -> None:
    """An agent deaf to feedback is stopped by Escalation; its loop is detected and not broken."""
    task = TASKS[0]
    profile = LoopProneProfile(p_loop=1.0, p_loop_after_error=1.0, p_escape=0.0, p_nudge=0.0, p_block=0.0)
    guard = tool_guard(task, GUARDS["guarded"][1](), seed=0, run_id="t")
    record = play_tool_episode(
        guard, SimulatedToolAgent(profile, np.random.default_rng(0), name="l"), task, episode="e"
    )
    assert record.stopped
    assert not record.success
    assert (record.loops_detected, record.loops_broken) == (1, 0)


def test_the_guard_sees_the_outcomes_it_is_fed() -> None:
    """record_outcome feeds each call's result to Loops: three identical results make a loop finding."""
    task = TASKS[0]
    guard = Guard(tool_action_space(task.tools), detectors=[Loops()], parser=tool_parser, prompter=ToolPrompter())
    call = {"rationale": "Let me call find_order.", "action": "find_order", "arguments": {"email": "a@b.c"}}
    prompt = ToolPrompt(task=task, transcript=())
    kinds = []
    for _ in range(4):
        kinds.append([f.kind for f in guard.step(lambda p: call, prompt, episode="e").findings])
        guard.record_outcome("e", result="no order found")
    assert kinds[-1] == [LOOP]
    assert kinds[0] == []


def test_unexecuted_intent_is_found_on_a_message_without_a_call() -> None:
    """The benchmark's parser reads a message with no call as an answer step, which UnexecutedIntent reports."""
    task = TASKS[0]
    guard = tool_guard(task, [Observe()], seed=0, run_id="t")
    answer = {"rationale": "I need the order first. Let me call find_order.", "action": ANSWER_ACTION, "arguments": {}}
    result = guard.step(lambda p: answer, ToolPrompt(task=task, transcript=()), episode="e")
    assert UNEXECUTED_INTENT in {f.kind for f in result.findings}


def test_guarding_changes_nothing_for_the_competent_agent_and_is_reproducible() -> None:
    """Competent: every task solved, no finding answered, no extra call; the same seed gives the same figures."""

    def make(i: int, rng: np.random.Generator) -> SimulatedToolAgent:
        return SimulatedToolAgent(CompetentProfile(), rng, name="competent")

    summary, _records = run_tool_tasks(agent_name="competent", make_agent=make, tasks=TASKS, guard="guarded", seed=0)
    assert summary.success_rate == 1.0
    assert summary.extra_calls_per_step == 0.0
    assert summary.loop_rate == 0.0
    loop_prone = LoopProneProfile()
    runs = [
        run_tool_tasks(
            agent_name="l",
            make_agent=lambda i, rng: SimulatedToolAgent(loop_prone, rng, name="l"),
            tasks=TASKS,
            guard="guarded",
            seed=5,
        )[1]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_the_real_agent_renders_results_and_feedback_into_its_messages() -> None:
    """The chat request carries the task, each call with its result or error, and the re-ask feedback."""
    task = TASKS[0]
    turns = (Turn(call=task.solution[0], outcome=Outcome(error=TRANSIENT_ERROR)),)
    prompt = ToolPrompter().reask(
        ToolPrompt(task=task, transcript=turns), {"action": "x", "arguments": {}}, "nudge: stop"
    )
    messages = render_messages(prompt)
    assert messages[0]["role"] == "system"
    assert task.request in messages[1]["content"]
    assert TRANSIENT_ERROR in messages[1]["content"]
    assert messages[-1]["content"].endswith("nudge: stop")
    with pytest.raises(ConfigurationError, match="ToolPrompt"):
        ToolChatAgent("http://127.0.0.1:9/v1", "m")("a string prompt")


def test_tool_agents_are_parsed_by_name() -> None:
    """Profiles, gemma and URLs are agents of --env tools; anything else is an error listing the choices."""
    assert parse_tool_agent("loop-prone").kind == "simulated"
    assert parse_tool_agent("gemma").kind == "gemma"
    assert parse_tool_agent("http://127.0.0.1:8000/v1").url == "http://127.0.0.1:8000/v1"
    with pytest.raises(ConfigurationError, match="competent"):
        parse_tool_agent("knowing-doing")


def test_the_tools_bench_writes_its_table_json_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``guardrail bench --env tools`` on a tiny setting: every profile unguarded and guarded, table, JSON, PNGs."""
    code = main(["bench", "--env", "tools", "--tasks", "6", "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| loop-prone/guarded |" in out
    assert "extra calls / step" in out
    data = json.loads((tmp_path / "results.json").read_text())
    names = [c["name"] for c in data["configurations"]]
    profiles = ("competent", "loop-prone", "intent-not-emitted", "wrong-tool-despite-rationale")
    assert names == [f"{a}/{g}" for a in profiles for g in ("unguarded", "guarded")]
    assert all(c["tasks"] == 6 for c in data["configurations"])
    assert "| intent-not-emitted/unguarded |" in (tmp_path / "results.md").read_text()
    for png in ("tools_success_rate.png", "tools_loops_broken_rate.png", "tools_success_by_step.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "telemetry.jsonl").stat().st_size > 0
    assert main(["bench", "--env", "tools", "--tasks", "0", "--out", str(tmp_path), "--no-progress"]) == 2
