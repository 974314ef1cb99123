"""``guardrail bench``: play agents behind guard policies and write the figures docs/background.md defines.

Every run is reproducible from its command line, which is printed first and stored in ``results.json``.

Examples::

    # the simulated profiles, every preset, UCB and random, 64 bandits (a few seconds per profile)
    guardrail bench --agent knowing-doing,frequency-bias,greedy --policies all --out bench-out/sim

    # the real Gemma 3 270M (extra ``local``), unguarded vs the best combination
    guardrail bench --agent gemma --policies none,best --bandits 8 --out bench-out/gemma

    # any OpenAI-compatible server
    guardrail bench --agent http://127.0.0.1:8000/v1 --model my-model --policies none,best --out bench-out/srv

    # other environments
    guardrail bench --env contextual --agent knowing-doing --policies none,override --out bench-out/ctx
    guardrail bench --env tictactoe --agent gemma --opponent minimax --games 10 --out bench-out/ttt
    guardrail bench --env aiw --agent gemma --questions 48 --policies none,override --out bench-out/aiw

    # tool-using agents: the simulated profiles, or the real Gemma with real tool calls, unguarded vs guarded
    guardrail bench --env tools --tasks 64 --out bench-out/tools
    guardrail bench --env tools --agent gemma --tasks 12 --temperature 0 --out bench-out/tools-gemma
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from guardrail import ConfigurationError
from guardrail.exceptions import GuardrailRuntimeError, MissingDependencyError

__all__ = ["build_parser", "command_line", "register", "run_bench"]

ENVIRONMENTS = ("bandit", "contextual", "tictactoe", "aiw", "tools")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", choices=ENVIRONMENTS, default="bandit", help="environment (default: bandit)")
    parser.add_argument(
        "--agent",
        action="append",
        default=None,
        help="agent(s), comma-separated or repeated: knowing-doing, frequency-bias, greedy (simulated), "
        "ucb, random, epsilon-greedy, greedy-baseline (baselines), gemma, or an OpenAI-compatible base URL "
        "(http://HOST:PORT/v1). --env tools: competent, loop-prone, intent-not-emitted, "
        "wrong-tool-despite-rationale, gemma, or a URL (default: the four profiles). Default: knowing-doing",
    )
    parser.add_argument("--base-url", help="an OpenAI-compatible base URL to add as an agent")
    parser.add_argument("--model", default="gemma3-270m", help="model name sent to --base-url servers")
    parser.add_argument("--api-key-env", help="environment variable holding the API key for --base-url")
    parser.add_argument("--chat", action="store_true", help="use /chat/completions (default: /completions)")
    parser.add_argument(
        "--policies",
        default="none,best",
        help="comma-separated presets, or 'all': none, reask-override, reask-always, plan, plan-reask-always, "
        "override, try-all, eps-greedy, ucb-explore, self-consistency, context-summary, best (default: none,best)",
    )
    parser.add_argument(
        "--baselines", default="ucb,random", help="baseline rows added to bandit tables (default: ucb,random; '' none)"
    )
    parser.add_argument("--bandits", "--seeds", type=int, default=64, help="bandits (episodes) per configuration")
    parser.add_argument("--arms", type=int, default=10, help="arms (default 10)")
    parser.add_argument("--horizon", type=int, default=50, help="steps per episode T (default 50)")
    parser.add_argument("--sigma", type=float, default=1.0, help="Gaussian reward noise (default 1)")
    parser.add_argument("--reward", choices=("gaussian", "bernoulli"), default="gaussian")
    parser.add_argument("--gap", type=float, default=0.2, help="Bernoulli gap (default 0.2)")
    parser.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    parser.add_argument("--temperature", type=float, default=0.7, help="LLM sampling temperature (default 0.7)")
    parser.add_argument("--max-tokens", type=int, default=96, help="LLM tokens per answer (default 96)")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (default 2)")
    parser.add_argument("--no-few-shot", action="store_true", help="drop the worked examples from prompts")
    parser.add_argument(
        "--prompt",
        choices=("paper", "foreign"),
        default="paper",
        help="bandit prompt: the paper's (default), or another benchmark's wording with no examples (foreign)",
    )
    parser.add_argument(
        "--naming",
        choices=("colour", "numbered", "spaced"),
        default="colour",
        help="bandit arm names: colour (red, ...), numbered (arm_1, ...), spaced (dark blue, ...)",
    )
    parser.add_argument("--opponent", choices=("random", "minimax"), default="random", help="tic-tac-toe opponent")
    parser.add_argument("--games", type=int, default=20, help="tic-tac-toe games per configuration")
    parser.add_argument("--questions", type=int, default=48, help="AIW questions per configuration")
    parser.add_argument("--tasks", type=int, default=64, help="tool tasks per configuration (--env tools)")
    parser.add_argument("--step-cap", type=int, default=10, help="agent steps per tool task (--env tools)")
    parser.add_argument("--out", type=Path, default=Path("bench-out"), help="output directory (default bench-out)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--no-telemetry", action="store_true", help="do not write telemetry.jsonl")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def build_parser() -> argparse.ArgumentParser:
    """The stand-alone parser (``python -m guardrail_bench.cli``)."""
    parser = argparse.ArgumentParser(prog="guardrail bench", description=(__doc__ or "").splitlines()[0])
    _add_arguments(parser)
    parser.set_defaults(func=run_bench)
    return parser


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="benchmarks: agents x guard policies on bandits, contextual bandits, tic-tac-toe, AIW, tool tasks",
        description=(__doc__ or "").splitlines()[0],
        epilog="See docs/benchmarks.md for the measured tables and the commands that made them.",
    )
    _add_arguments(parser)
    parser.set_defaults(func=run_bench)


#: The default agents of ``--env tools``: every simulated tool profile.
TOOL_AGENTS = "competent,loop-prone,intent-not-emitted,wrong-tool-despite-rationale"


def _agents(args: argparse.Namespace) -> list[str]:
    default = TOOL_AGENTS if args.env == "tools" else "knowing-doing"
    values = [part.strip() for value in (args.agent or [default]) for part in value.split(",") if part.strip()]
    if args.base_url:
        values.append(args.base_url)
    return values


#: Options written into the reproducing command line, in order (``dest``, flag).
_REPRO = (
    ("env", "--env"),
    ("policies", "--policies"),
    ("baselines", "--baselines"),
    ("bandits", "--bandits"),
    ("arms", "--arms"),
    ("horizon", "--horizon"),
    ("sigma", "--sigma"),
    ("reward", "--reward"),
    ("gap", "--gap"),
    ("seed", "--seed"),
    ("temperature", "--temperature"),
    ("max_tokens", "--max-tokens"),
    ("threads", "--threads"),
    ("opponent", "--opponent"),
    ("games", "--games"),
    ("questions", "--questions"),
    ("tasks", "--tasks"),
    ("step_cap", "--step-cap"),
    ("model", "--model"),
    ("prompt", "--prompt"),
    ("naming", "--naming"),
    ("out", "--out"),
)


def command_line(args: argparse.Namespace) -> str:
    """The full ``guardrail bench ...`` command that reproduces ``args`` (every setting spelled out)."""
    parts = ["guardrail", "bench", "--agent", ",".join(_agents(args))]
    for dest, flag in _REPRO:
        parts += [flag, str(getattr(args, dest))]
    for dest, flag in (("no_few_shot", "--no-few-shot"), ("chat", "--chat")):
        if getattr(args, dest):
            parts.append(flag)
    if args.api_key_env:
        parts += ["--api-key-env", args.api_key_env]
    return shlex.join(parts)


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args``; returns the exit code (2 for a configuration error)."""
    command = command_line(args)
    print(f"$ {command}", flush=True)
    try:
        return _run(args, command)
    except MissingDependencyError as error:
        print(f"guardrail bench: {error}", file=sys.stderr)
        return 2
    except ConfigurationError as error:
        print(f"guardrail bench: {error}", file=sys.stderr)
        return 2
    except GuardrailRuntimeError as error:  # e.g. an unreachable --base-url server
        print(f"guardrail bench: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, command: str) -> int:
    from guardrail_bench.suites import LLMSettings, parse_agent
    from guardrail_bench.tool_agents import parse_tool_agent

    if args.bandits < 1:
        raise ConfigurationError(f"--bandits must be >= 1; got {args.bandits}")
    agents = [(parse_tool_agent if args.env == "tools" else parse_agent)(value) for value in _agents(args)]
    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    settings = LLMSettings(
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        n_threads=args.threads,
        model=args.model,
        api_key=api_key,
        chat=args.chat,
    )
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    telemetry_path = out / "telemetry.jsonl"
    sink = None
    if not args.no_telemetry:
        from guardrail import JsonlSink

        telemetry_path.unlink(missing_ok=True)
        sink = JsonlSink(telemetry_path)
    started = time.perf_counter()
    try:
        if args.env == "bandit":
            code = _run_bandit(args, command, agents, settings, sink)
        else:
            from guardrail_bench.envs_cli import run_environment

            code = run_environment(args, command, agents, settings, sink)
    finally:
        if sink is not None:
            sink.close()
    print(f"\nwall time {time.perf_counter() - started:.1f} s; wrote {out}/")
    if sink is not None:
        print(f"telemetry: {telemetry_path}  (read it with: guardrail report {telemetry_path} --by run)")
    return code


def _run_bandit(args: argparse.Namespace, command: str, agents: list[Any], settings: Any, sink: Any) -> int:
    from guardrail_bench.envs import BanditSpec
    from guardrail_bench.output import Progress, bandit_markdown, write_bandit_outputs
    from guardrail_bench.prompts import bandit_prompt, foreign_bandit_prompt
    from guardrail_bench.suites import parse_agent, parse_presets, run_bandit_suite

    presets = parse_presets(args.policies)
    baselines = [parse_agent(name.strip()) for name in args.baselines.split(",") if name.strip()]
    names = {a.name for a in agents}
    agents = agents + [b for b in baselines if b.name not in names]
    spec = BanditSpec(
        k=args.arms, horizon=args.horizon, reward=args.reward, sigma=args.sigma, gap=args.gap, naming=args.naming
    )
    text_agents = [a for a in agents if a.kind != "baseline"]
    units = args.bandits * (len(text_agents) * len(presets) + len(agents) - len(text_agents))
    progress = Progress(units, enabled=not args.no_progress)
    noise = f"sigma={spec.sigma:g}" if spec.reward == "gaussian" else f"gap={spec.gap:g}"
    setting = (
        f"{spec.k}-arm {spec.reward} bandit ({noise}), T={spec.horizon}, {args.bandits} bandits, seed {args.seed}; "
        f"agents: {', '.join(f'{a.name} = {a.description}' for a in agents)}"
    )
    if args.prompt == "foreign":
        setting += "; foreign prompt (Krishnamurthy et al.'s wording, no worked examples)"
    print(setting, flush=True)
    started = time.perf_counter()
    results = run_bandit_suite(
        agents=agents,
        presets=presets,
        spec=spec,
        n_bandits=args.bandits,
        seed=args.seed,
        telemetry=sink,
        settings=settings,
        few_shot=not args.no_few_shot,
        on_progress=progress,
        prompt=foreign_bandit_prompt if args.prompt == "foreign" else bandit_prompt,
    )
    wall = time.perf_counter() - started
    header = {
        "command": command,
        "environment": "bandit",
        "setting": setting,
        "spec": {"k": spec.k, "horizon": spec.horizon, "reward": spec.reward, "sigma": spec.sigma, "gap": spec.gap},
        "bandits": args.bandits,
        "seed": args.seed,
        "llm": {"temperature": settings.temperature, "max_tokens": settings.max_tokens, "threads": settings.n_threads},
        "wall_seconds": wall,
    }
    write_bandit_outputs(args.out, results, header=header, plots=not args.no_plots)
    print()
    print(bandit_markdown(results))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m guardrail_bench.cli ...``."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
