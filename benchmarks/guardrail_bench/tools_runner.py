"""Playing tool tasks behind a guard, and the figures ``guardrail bench --env tools`` reports.

Both configurations run the same detectors through the public :class:`~guardrail.Guard` API, the way a user
wires a tool agent: :class:`~guardrail.Loops`, :class:`~guardrail.UnexecutedIntent`,
:class:`~guardrail.KnowingDoingGap` and :class:`~guardrail.InvalidAction`, with each call's result or error fed back
with ``record_outcome``. *unguarded* answers nothing (``Observe()``: findings are recorded, nothing changes);
*guarded* answers with ``Escalation()`` (loops: nudge, block, stop), ``ReAsk(max_attempts=2)`` (unexecuted intent,
a knowing-doing gap) and ``OverrideToRationale()`` (a gap the re-ask left).

Figures per configuration (:class:`ToolSummary`):

- *task success*: tasks whose final action ran with the right arguments within the step cap;
- *loop rate*: tasks in which ``Loops`` reported a loop; *loops broken*: loops after which the task made progress
  (a new call of the solution path, or success), over loops detected (a loop counts once from its first report
  until the task makes progress; a task stopped by ``Escalation`` leaves its loop unbroken);
- *steps to success*: agent steps of the successful tasks;
- *knowing-doing rate*: steps whose executed call is the tool the step's rationale names, over steps whose
  rationale names one;
- *extra calls per step*: agent calls beyond one per step (re-asks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from guardrail import (
    LOOP,
    Escalation,
    Guard,
    InvalidAction,
    KnowingDoingGap,
    Loops,
    LoopStopped,
    Observe,
    OverrideToRationale,
    ReAsk,
    Redaction,
    UnexecutedIntent,
)
from guardrail.arguments import carried_arguments
from guardrail.policies import PolicyLike
from guardrail.telemetry.sinks import Sink
from guardrail_bench.metrics import mean_ci
from guardrail_bench.tools_env import (
    ANSWER_ACTION,
    Call,
    ToolEpisode,
    ToolPrompt,
    ToolPrompter,
    ToolTask,
    tool_action_space,
    tool_parser,
)

__all__ = [
    "GUARDS",
    "STEP_CAP",
    "ToolEpisodeRecord",
    "ToolSummary",
    "play_tool_episode",
    "run_tool_tasks",
    "summarize_tool_episodes",
    "tool_guard",
]

#: Agent steps a task may take (its path is 3-4 calls, plus a transient error's retry).
STEP_CAP = 10

#: Guard configurations by name: ``name -> (description, policies factory)``.
GUARDS: dict[str, tuple[str, Callable[[], list[PolicyLike]]]] = {
    "unguarded": ("Observe() (detectors record, nothing changes)", lambda: [Observe()]),
    "guarded": (
        "Escalation(), ReAsk(max_attempts=2), OverrideToRationale()",
        lambda: [Escalation(), ReAsk(max_attempts=2), OverrideToRationale()],
    ),
}


def tool_guard(
    task: ToolTask, policies: Sequence[PolicyLike], *, seed: int, telemetry: Sink | None = None, run_id: str
) -> Guard:
    """The guard of one task: its tools (and ``final_answer``) as actions, the tool detectors, ``policies``."""
    return Guard(
        tool_action_space(task.tools),
        detectors=[Loops(), UnexecutedIntent(), KnowingDoingGap(), InvalidAction()],
        policies=policies,
        parser=tool_parser,
        prompter=ToolPrompter(),
        fallback=ANSWER_ACTION,
        seed=seed,
        telemetry=telemetry,
        redaction=Redaction(max_chars=300),
        run_id=run_id,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolEpisodeRecord:
    """What happened in one task."""

    task_id: str
    family: str
    success: bool
    steps: int
    agent_calls: int
    stopped: bool
    loops_detected: int
    loops_broken: int
    rationale_steps: int
    rationale_kept: int
    calls: tuple[str, ...] = field(default=())


class _Counted:
    """The agent, counting its calls (a stopped step raises, so its calls are not in a result)."""

    def __init__(self, agent: Callable[[Any], Any]) -> None:
        self.agent = agent
        self.calls = 0
        self.__name__ = getattr(agent, "__name__", type(agent).__name__)

    def __call__(self, prompt: Any) -> Any:
        self.calls += 1
        return self.agent(prompt)


def play_tool_episode(
    guard: Guard, agent: Callable[[Any], Any], task: ToolTask, *, episode: str, step_cap: int = STEP_CAP
) -> ToolEpisodeRecord:
    """Play ``task`` with ``agent`` behind ``guard`` until it ends, the agent answers, or the step cap."""
    env = ToolEpisode(task, step_cap=step_cap)
    counted = _Counted(agent)
    steps = loops = broken = named = kept = 0
    stopped = False
    open_loop: int | None = None  # progress when the current loop was first reported
    for _ in range(step_cap):
        prompt = ToolPrompt(task=task, transcript=tuple(env.transcript))
        try:
            result = guard.step(counted, prompt, episode=episode)
        except LoopStopped:  # the loop went past its nudge and block: the step raised with its finding
            stopped = True
            steps += 1
            loops += open_loop is None
            break
        steps += 1
        if open_loop is None and any(f.kind == LOOP for f in result.findings):
            loops += 1  # a loop stays open, and later reports belong to it, until the task makes progress
            open_loop = env.progress
        action = result.action or ANSWER_ACTION
        if result.decision.rationale_action is not None:
            named += 1
            kept += action == result.decision.rationale_action
        if action == ANSWER_ACTION:
            env.answer()
            break
        arguments = result.arguments
        if arguments is None:  # a correction renamed the call: keep the arguments its tool declares
            tool = task.tool(action)
            arguments = carried_arguments(result.decision.arguments, tool.parameters if tool else None)
        before = env.progress
        outcome = env.execute(Call(tool=action, arguments=arguments))
        guard.record_outcome(episode, result=outcome.result, error=outcome.error)
        if open_loop is not None and (env.progress > before or env.success):
            broken += 1
            open_loop = None
        if env.finished:
            break
    return ToolEpisodeRecord(
        task_id=task.task_id,
        family=task.family,
        success=env.success,
        steps=steps,
        agent_calls=counted.calls,
        stopped=stopped,
        loops_detected=loops,
        loops_broken=broken,
        rationale_steps=named,
        rationale_kept=kept,
        calls=tuple(str(turn.call) for turn in env.transcript),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSummary:
    """The figures of one configuration (agent x guard) over its tasks; see the module docstring."""

    agent: str
    guard: str
    policies: str
    tasks: int
    success_rate: float
    success_ci95: float
    loop_rate: float
    loops_detected: int
    loops_broken: int
    loops_broken_rate: float | None
    steps_to_success: float | None
    knowing_doing_rate: float | None
    extra_calls_per_step: float
    stopped: int
    wall_seconds: float
    by_family: dict[str, float]
    success_by_step: list[float]

    @property
    def name(self) -> str:
        """``agent/guard``."""
        return f"{self.agent}/{self.guard}"

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain data (for ``results.json``)."""
        return {"name": self.name, **asdict(self)}


def summarize_tool_episodes(
    records: Sequence[ToolEpisodeRecord],
    *,
    agent: str,
    guard: str,
    policies: str,
    wall_seconds: float,
    step_cap: int = STEP_CAP,
) -> ToolSummary:
    """The figures of ``records`` (one configuration)."""
    successes = np.array([r.success for r in records], dtype=np.float64)
    ci = mean_ci(successes)
    steps = sum(r.steps for r in records)
    won = [r.steps for r in records if r.success]
    detected = sum(r.loops_detected for r in records)
    broken = sum(r.loops_broken for r in records)
    named = sum(r.rationale_steps for r in records)
    families = sorted({r.family for r in records})
    return ToolSummary(
        agent=agent,
        guard=guard,
        policies=policies,
        tasks=len(records),
        success_rate=ci.mean,
        success_ci95=ci.half_width,
        loop_rate=float(np.mean([r.loops_detected > 0 for r in records])),
        loops_detected=detected,
        loops_broken=broken,
        loops_broken_rate=broken / detected if detected else None,
        steps_to_success=float(np.mean(won)) if won else None,
        knowing_doing_rate=sum(r.rationale_kept for r in records) / named if named else None,
        extra_calls_per_step=(sum(r.agent_calls for r in records) - steps) / steps if steps else 0.0,
        stopped=sum(r.stopped for r in records),
        wall_seconds=wall_seconds,
        by_family={f: float(np.mean([r.success for r in records if r.family == f])) for f in families},
        success_by_step=[float(np.mean([r.success and r.steps <= t for r in records])) for t in range(1, step_cap + 1)],
    )


def run_tool_tasks(
    *,
    agent_name: str,
    make_agent: Callable[[int, np.random.Generator], Callable[[Any], Any]],
    tasks: Sequence[ToolTask],
    guard: str,
    seed: int,
    telemetry: Sink | None = None,
    step_cap: int = STEP_CAP,
    progress: Callable[[int], None] | None = None,
) -> tuple[ToolSummary, list[ToolEpisodeRecord]]:
    """Play every task with a fresh agent (``make_agent(index, rng)``) behind a fresh guard of kind ``guard``.

    The agent's generator for task ``i`` depends on ``(seed, i)`` only, so the unguarded and the guarded run of a
    profile face the same tasks with the same draws until the guard first changes something.
    """
    description, policies = GUARDS[guard]
    children = np.random.SeedSequence(seed).spawn(len(tasks))
    records: list[ToolEpisodeRecord] = []
    guards: dict[str, Guard] = {}  # one per family (its tools), each task an episode, as one agent in production
    started = time.perf_counter()
    for index, task in enumerate(tasks):
        rng = np.random.default_rng(children[index])
        if task.family not in guards:
            label = f"{agent_name}/{guard}"
            guards[task.family] = tool_guard(task, policies(), seed=seed, telemetry=telemetry, run_id=label)
        agent = make_agent(index, rng)
        records.append(play_tool_episode(guards[task.family], agent, task, episode=task.task_id, step_cap=step_cap))
        if progress is not None:
            progress(index + 1)
    summary = summarize_tool_episodes(
        records,
        agent=agent_name,
        guard=guard,
        policies=description,
        wall_seconds=time.perf_counter() - started,
        step_cap=step_cap,
    )
    return summary, records
