"""Benchmarks: environments, baseline policies, simulated and real LLM agents, metrics, prompts.

Import the submodules directly (``guardrail_bench.envs``, ``.baselines``, ``.simulators``, ``.metrics``,
``.prompts``, ``.llm``, ``.perf``); this package imports nothing itself, so ``import guardrail`` stays light.
"""
