"""``guardrail bench --env contextual | tictactoe | aiw | tools``: the environments beyond the multi-armed bandit.

Each writes ``results.json`` and ``results.md`` into ``--out`` (and, for the contextual bandit and the tool tasks,
PNG plots); telemetry goes to the sink the CLI opened.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from guardrail import ConfigurationError, Guard, Redaction
from guardrail.telemetry.sinks import Sink
from guardrail_bench.output import Progress, bandit_markdown, write_bandit_outputs, write_json
from guardrail_bench.suites import PRESETS, AgentSpec, LLMSettings, SuiteResult, parse_presets

__all__ = ["TEXT_PRESETS", "run_environment"]

#: Presets that make sense outside the context-free bandit (the exploration policies need per-arm rewards).
TEXT_PRESETS = ("none", "override", "reask-override", "self-consistency")


def _llm_factory(agent: AgentSpec, seed: int, settings: LLMSettings) -> Callable[[int, np.random.Generator], Any]:
    from guardrail_bench.suites import make_text_agent

    return make_text_agent(agent, seed=seed, settings=settings)


def _tick(progress: Progress, label: str, total: int) -> Callable[[int], None]:
    def tick(done: int) -> None:
        progress(label, done, total)

    return tick


def _presets(args: argparse.Namespace, allowed: Sequence[str] | None) -> list[str]:
    names = parse_presets(args.policies)
    if allowed is None:
        return names
    kept = [n for n in names if n in allowed]
    skipped = [n for n in names if n not in allowed]
    if skipped:
        print(f"(skipping presets that need per-arm rewards here: {', '.join(skipped)})")
    if not kept:
        raise ConfigurationError(f"no usable preset for --env {args.env}; choose from {', '.join(allowed)}")
    return kept


def run_environment(
    args: argparse.Namespace, command: str, agents: list[AgentSpec], settings: LLMSettings, sink: Sink | None
) -> int:
    """Dispatch on ``args.env``."""
    runners = {"contextual": _contextual, "tictactoe": _tictactoe, "aiw": _aiw, "tools": _tools}
    return runners[args.env](args, command, agents, settings, sink)


def _contextual(
    args: argparse.Namespace, command: str, agents: list[AgentSpec], settings: LLMSettings, sink: Sink | None
) -> int:
    from guardrail import InvalidAction, KnowingDoingGap
    from guardrail_bench.contextual import SimulatedContextualAgent, run_contextual
    from guardrail_bench.envs import ContextualSpec

    spec = ContextualSpec(k=args.arms, horizon=args.horizon)
    presets = _presets(args, None)
    baselines = [b.strip() for b in args.baselines.replace("ucb", "linucb").split(",") if b.strip()]
    setting = (
        f"contextual bandit: {spec.k} movies, d={spec.d} genre features, noise sigma {spec.noise_sigma}, "
        f"T={spec.horizon}, {args.bandits} episodes, seed {args.seed}; regret against each user's best movie; "
        "greedy = ridge argmax, optimal = LinUCB (alpha 1) argmax on the executed history"
    )
    print(setting)
    text_agents = [a for a in agents if a.kind != "baseline"]
    progress = Progress(args.bandits * (len(text_agents) * len(presets) + len(baselines)), enabled=not args.no_progress)
    results: list[SuiteResult] = []
    for agent in text_agents:
        for preset in presets:
            description, factory = PRESETS[preset]
            label = f"{agent.name}/{preset}"

            def make_guard(factory: Callable[[], Any] = factory, label: str = label) -> Guard:
                return Guard(
                    actions=spec_titles(spec),
                    detectors=[KnowingDoingGap(), InvalidAction()],
                    policies=factory(),
                    fallback="random",
                    seed=args.seed,
                    telemetry=sink,
                    redaction=Redaction(max_chars=300),
                    run_id=label,
                )

            make_agent: Callable[[int, np.random.Generator], Any] = (
                (lambda i, rng: SimulatedContextualAgent(spec_titles(spec), spec.d, rng))
                if agent.kind == "simulated"
                else _llm_factory(agent, args.seed, settings)
            )
            summary, _ = run_contextual(
                name=label,
                spec=spec,
                n_episodes=args.bandits,
                seed=args.seed,
                make_guard=make_guard,
                make_agent=make_agent,
                progress=_tick(progress, label, args.bandits),
            )
            name = "simulated-contextual" if agent.kind == "simulated" else agent.name
            results.append(SuiteResult(agent=name, preset=preset, policies=description, summary=summary))
    for baseline in baselines:
        summary, _ = run_contextual(
            name=baseline,
            spec=spec,
            n_episodes=args.bandits,
            seed=args.seed,
            baseline=baseline,
            progress=_tick(progress, baseline, args.bandits),
        )
        results.append(SuiteResult(agent=baseline, preset="baseline", policies=baseline, summary=summary))
    header = {"command": command, "environment": "contextual", "setting": setting, "seed": args.seed}
    write_bandit_outputs(args.out, results, header=header, plots=not args.no_plots)
    print()
    print(bandit_markdown(results).replace("vs UCB", "vs LinUCB"))
    return 0


def spec_titles(spec: Any) -> tuple[str, ...]:
    """The movie titles of a contextual spec."""
    from guardrail_bench.envs import MOVIE_TITLES

    return MOVIE_TITLES[: spec.k]


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(title for _, title, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            cells.append("" if value is None else format(value, fmt) if fmt else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_simple(
    args: argparse.Namespace, command: str, env: str, setting: str, rows: list[dict[str, Any]], md: str
) -> None:
    write_json(
        args.out / "results.json", {"command": command, "environment": env, "setting": setting, "configurations": rows}
    )
    (args.out / "results.md").write_text(
        f"# guardrail bench: {env}\n\n```\n$ {command}\n```\n\n{setting}\n\n{md}\n", encoding="utf-8"
    )
    print()
    print(md)


def _tictactoe(
    args: argparse.Namespace, command: str, agents: list[AgentSpec], settings: LLMSettings, sink: Sink | None
) -> int:
    from guardrail_bench.tictactoe import SimulatedTicTacToeAgent, run_tictactoe

    presets = _presets(args, TEXT_PRESETS)
    setting = (
        f"tic-tac-toe as X against a {args.opponent} opponent, {args.games} games per configuration, seed {args.seed}"
    )
    print(setting)
    text_agents = [a for a in agents if a.kind != "baseline"]
    progress = Progress(args.games * (len(text_agents) * len(presets) + 2), enabled=not args.no_progress)
    rows: list[dict[str, Any]] = []
    for agent in text_agents:
        for preset in presets:
            description, factory = PRESETS[preset]
            label = f"{agent.name}/{preset}"
            make_agent: Callable[[int, np.random.Generator], Any] = (
                (lambda i, rng: SimulatedTicTacToeAgent(rng))
                if agent.kind == "simulated"
                else _llm_factory(agent, args.seed, settings)
            )
            summary = run_tictactoe(
                name=label,
                opponent=args.opponent,
                games=args.games,
                seed=args.seed,
                policies=factory,
                make_agent=make_agent,
                telemetry=sink,
                few_shot=not args.no_few_shot,
                progress=_tick(progress, label, args.games),
            )
            rows.append({"agent": agent.name, "preset": preset, "policies": description, **summary.as_dict()})
    baseline: Literal["random", "minimax"]
    for baseline in ("random", "minimax"):
        summary = run_tictactoe(
            name=baseline,
            opponent=args.opponent,
            games=args.games,
            seed=args.seed,
            baseline=baseline,
            progress=_tick(progress, baseline, args.games),
        )
        rows.append({"agent": baseline, "preset": "baseline", "policies": f"{baseline} player", **summary.as_dict()})
    md = _table(
        rows,
        [
            ("name", "configuration", ""),
            ("policies", "policies", ""),
            ("win_rate", "win", ".0%"),
            ("draw_rate", "draw", ".0%"),
            ("loss_rate", "loss", ".0%"),
            ("first_invalid_rate", "first-answer invalid", ".1%"),
            ("executed_invalid_rate", "executed invalid", ".1%"),
            ("interventions_per_step", "interventions / move", ".3f"),
            ("agent_calls_per_step", "agent calls / move", ".2f"),
            ("extra_calls_per_changed_step", "extra calls / changed move", ".2f"),
            ("wall_seconds", "wall s", ".1f"),
        ],
    )
    _write_simple(args, command, "tictactoe", setting, rows, md)
    return 0


def _aiw(
    args: argparse.Namespace, command: str, agents: list[AgentSpec], settings: LLMSettings, sink: Sink | None
) -> int:
    from guardrail_bench.aiw import run_aiw
    from guardrail_bench.envs import aiw_questions

    presets = _presets(args, TEXT_PRESETS)
    items = aiw_questions(args.questions, seed=args.seed)
    setting = f"Alice in Wonderland, {args.questions} questions (N, M in 1..6), seed {args.seed}"
    print(setting)
    text_agents = [a for a in agents if a.kind in ("gemma", "openai")]
    if not text_agents:
        raise ConfigurationError("--env aiw needs a real LLM agent: gemma or an OpenAI-compatible URL")
    progress = Progress(args.questions * len(text_agents) * len(presets), enabled=not args.no_progress)
    rows: list[dict[str, Any]] = []
    for agent in text_agents:
        for preset in presets:
            description, factory = PRESETS[preset]
            label = f"{agent.name}/{preset}"
            model = _llm_factory(agent, args.seed, settings)(0, np.random.default_rng(args.seed))
            summary = run_aiw(
                name=label,
                agent=model,
                items=items,
                policies=factory(),
                seed=args.seed,
                telemetry=sink,
                few_shot=not args.no_few_shot,
                progress=_tick(progress, label, args.questions),
            )
            rows.append({"agent": agent.name, "preset": preset, "policies": description, **summary.as_dict()})
    md = _table(
        rows,
        [
            ("name", "configuration", ""),
            ("policies", "policies", ""),
            ("first_accuracy", "first-answer accuracy", ".1%"),
            ("accuracy", "executed accuracy", ".1%"),
            ("contradiction_rate", "answer contradicts reasoning", ".1%"),
            ("first_invalid_rate", "first-answer invalid", ".1%"),
            ("executed_invalid_rate", "executed invalid", ".1%"),
            ("interventions_per_step", "interventions / question", ".3f"),
            ("agent_calls_per_step", "agent calls / question", ".2f"),
            ("extra_calls_per_changed_step", "extra calls / changed answer", ".2f"),
            ("wall_seconds", "wall s", ".1f"),
        ],
    )
    _write_simple(args, command, "aiw", setting, rows, md)
    return 0


@contextlib.contextmanager
def _tool_server(agent: AgentSpec, out: Path, *, n_threads: int) -> Iterator[str | None]:
    """The base URL a real tool agent talks to: its ``--agent`` URL, or a llama_cpp.server with Gemma 3 270M
    started for the run (real tool calls, ``chatml-function-calling``) and stopped after it; None if simulated."""
    if agent.kind == "openai":
        yield agent.url
    elif agent.kind == "gemma":
        from guardrail_bench.llama_server import TOOL_CHAT_FORMAT, gemma_model_path, serve

        try:
            import llama_cpp.server  # noqa: F401 - only checks that the 'server' extra is installed
        except ImportError as error:
            from guardrail.exceptions import MissingDependencyError

            raise MissingDependencyError(
                "llama-cpp-python[server]",
                extra="server",
                feature="--env tools --agent gemma",
                distribution="guardrail-bench",
            ) from error
        print(f"starting llama_cpp.server with Gemma 3 270M ({TOOL_CHAT_FORMAT}); log: {out / 'llama_server.log'}")
        log = out / "llama_server.log"
        with serve(gemma_model_path(), log, chat_format=TOOL_CHAT_FORMAT, n_threads=n_threads) as url:
            yield url
    else:
        yield None


#: The columns of the tool benchmark's table: (key, title, format).
TOOL_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("name", "configuration", ""),
    ("success", "task success (± 95% CI)", ""),
    ("versus", "vs unguarded", ""),
    ("loop_rate", "loop rate", ".0%"),
    ("broken", "loops broken", ""),
    ("steps_to_success", "steps to success", ".2f"),
    ("knowing_doing_rate", "knowing-doing rate", ".1%"),
    ("extra_calls_per_step", "extra calls / step", ".3f"),
    ("stopped", "stopped", ""),
    ("wall_seconds", "wall s", ".1f"),
)


def tool_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The tool benchmark's table: one row per configuration, guarded beside its unguarded row."""
    unguarded = {r["agent"]: r["success_rate"] for r in rows if r["guard"] == "unguarded"}
    cells = []
    for row in rows:
        base = unguarded.get(row["agent"])
        versus = (
            f"{100 * (row['success_rate'] - base):+.1f} points"
            if base is not None and row["guard"] != "unguarded"
            else ""
        )
        ci = row["success_ci95"]
        detected = row["loops_detected"]
        cells.append(
            {
                **row,
                "success": f"{row['success_rate']:.1%}" + (f" ± {ci:.1%}" if ci == ci else ""),
                "versus": versus,
                "broken": f"{row['loops_broken_rate']:.0%} ({row['loops_broken']}/{detected})"
                if detected
                else "n/a (0 loops)",
            }
        )
    notes = (
        "*loop rate*: tasks with a loop reported by `Loops`; *loops broken*: loops after which the task made "
        "progress (a new solution call, or success), over loops detected; *steps to success*: agent steps of the "
        "successful tasks; *knowing-doing rate*: steps whose executed call is the tool their rationale names; "
        "*extra calls / step*: agent calls beyond one per step (re-asks); *stopped*: tasks `Escalation` stopped."
    )
    return _table(cells, TOOL_COLUMNS) + "\n\n" + notes


def _tool_plots(out: Path, rows: Sequence[dict[str, Any]], step_cap: int) -> list[Path]:
    from guardrail_bench.plots import Curve, plot_bars, plot_curves

    agents = list(dict.fromkeys(r["agent"] for r in rows))
    by = {(r["agent"], r["guard"]): r for r in rows}
    written = []
    for key, title, ylabel in (
        ("success_rate", "task success", "share of tasks"),
        ("loops_broken_rate", "loops broken (progress after a loop / loops detected)", "share of loops"),
        ("knowing_doing_rate", "knowing-doing rate (executed call = rationale's tool)", "share of steps"),
        ("extra_calls_per_step", "extra agent calls per step (re-asks)", "calls per step"),
    ):
        series = {g: [by[(a, g)][key] if (a, g) in by else None for a in agents] for g in ("unguarded", "guarded")}
        written.append(plot_bars(agents, series, out / f"tools_{key}.png", title=f"{title}, tool tasks", ylabel=ylabel))
    curves: list[Curve] = [(f"{r['agent']}/{r['guard']}", r["success_by_step"][:step_cap], []) for r in rows]
    written.append(
        plot_curves(curves, out / "tools_success_by_step.png", title="tasks solved by step t", ylabel="share of tasks")
    )
    return written


def _tools(
    args: argparse.Namespace, command: str, agents: list[AgentSpec], settings: LLMSettings, sink: Sink | None
) -> int:
    from guardrail_bench.tool_agents import TOOL_PROFILES, SimulatedToolAgent, ToolChatAgent
    from guardrail_bench.tools_env import make_tasks
    from guardrail_bench.tools_runner import GUARDS, run_tool_tasks

    if args.tasks < 1:
        raise ConfigurationError(f"--tasks must be >= 1; got {args.tasks}")
    if args.step_cap < 1:
        raise ConfigurationError(f"--step-cap must be >= 1; got {args.step_cap}")
    tasks = make_tasks(args.tasks, seed=args.seed)
    setting = (
        f"tool tasks (support, devops, sql in turn), {args.tasks} per configuration, step cap {args.step_cap}, "
        f"seed {args.seed}; unguarded = {GUARDS['unguarded'][0]}; guarded = {GUARDS['guarded'][0]}; detectors "
        f"Loops, UnexecutedIntent, KnowingDoingGap, InvalidAction; agents: "
        + "; ".join(f"{a.name} = {a.description}" for a in agents)
    )
    print(setting)
    progress = Progress(args.tasks * len(agents) * len(GUARDS), enabled=not args.no_progress)
    rows: list[dict[str, Any]] = []
    for agent in agents:
        with _tool_server(agent, args.out, n_threads=settings.n_threads) as url:
            for guard in GUARDS:
                label = f"{agent.name}/{guard}"
                make_agent: Callable[[int, np.random.Generator], Any]
                if url is None:
                    profile = TOOL_PROFILES[agent.name][1]()

                    def make_agent(
                        i: int, rng: np.random.Generator, profile: Any = profile, name: str = agent.name
                    ) -> Any:
                        return SimulatedToolAgent(profile, rng, name=name)
                else:
                    model = ToolChatAgent(
                        url,
                        settings.model,
                        api_key=settings.api_key,
                        temperature=settings.temperature,
                        max_tokens=settings.max_tokens,
                        seed=args.seed,
                        timeout=600.0,  # llama.cpp's function calling generates arguments unbounded
                    )
                    model.__name__ = agent.name  # type: ignore[attr-defined]

                    def make_agent(i: int, rng: np.random.Generator, model: Any = model) -> Any:
                        return model

                summary, records = run_tool_tasks(
                    agent_name=agent.name,
                    make_agent=make_agent,
                    tasks=tasks,
                    guard=guard,
                    seed=args.seed,
                    telemetry=sink,
                    step_cap=args.step_cap,
                    progress=_tick(progress, label, args.tasks),
                )
                rows.append({**summary.as_dict(), "episodes": [dataclasses.asdict(r) for r in records]})
    md = tool_markdown(rows)
    _write_simple(args, command, "tools", setting, rows, md)
    if not args.no_plots:
        _tool_plots(args.out, rows, args.step_cap)
    return 0
