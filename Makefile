# One task runner. `make demo` and `make test` work on a fresh machine with Python 3.10+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST := $(BIN)/python -m pytest

.PHONY: install demo test test-real test-slow test-core-only lint typecheck check clean bench-sim bench-real bench-real-foreign bench-aiw bench-exploration bench-perf

$(STAMP): pyproject.toml adapters/langchain/pyproject.toml adapters/instructor/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,local,server]' -e 'adapters/langchain[dev]' -e 'adapters/instructor[dev]'
	touch $@

install: $(STAMP)

## the main job: a 10-arm bandit played by a simulated agent with the knowing-doing gap, unguarded vs guarded
demo: install
	$(BIN)/guardrail demo

## the default suite (fast; no real model or server)
test: install
	$(PYTEST)

## tests that start a real model (Gemma 3 270M via llama.cpp) or server (llama_cpp.server, redis-server)
test-real: install
	$(PYTEST) -m real

## long correctness runs (concurrency at scale)
test-slow: install
	$(PYTEST) -m slow

## the core alone, in a clean venv without langchain or instructor: it must import and pass its tests
CORE_VENV := .venv-core
test-core-only:
	rm -rf $(CORE_VENV)
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install -q --upgrade pip
	$(CORE_VENV)/bin/python -m pip install -q -e '.[dev]'
	$(CORE_VENV)/bin/python -c "import importlib.util as u, sys; bad = [m for m in ('langchain_core', 'langchain', 'instructor') if u.find_spec(m)]; sys.exit(f'not a clean core venv: {bad}' if bad else 0)"
	$(CORE_VENV)/bin/python -c "import sys, guardrail, guardrail.cli; leaked = [m for m in sys.modules if m.split('.')[0] in ('langchain_core', 'langchain', 'instructor')]; sys.exit(f'the core imported {leaked}' if leaked else 0)"
	$(CORE_VENV)/bin/python -m pytest tests -p no:cacheprovider

## everything CI checks that needs no service
check: lint typecheck test

lint: install
	$(BIN)/ruff check guardrail adapters tests scripts
	$(BIN)/ruff format --check guardrail adapters

typecheck: install
	$(BIN)/mypy --strict guardrail adapters/langchain/guardrail_langchain adapters/instructor/guardrail_instructor tests/typing

## benchmarks (docs/benchmarks.md, docs/policies.md, docs/performance.md say what each prints)
bench-sim: install
	$(BIN)/guardrail bench --agent knowing-doing,frequency-bias,greedy --policies all --bandits 64 --seed 0 --out bench-out/sim

bench-real: install
	$(BIN)/guardrail bench --agent gemma --policies none,best --bandits 8 --arms 10 --horizon 50 --threads 1 --seed 0 --out bench-out/gemma-full

## the real model on a prompt it was not tuned on (another benchmark's wording, arm names with spaces, no examples):
## always re-asking vs the adaptive re-ask under the same plan, UCB as reference (docs/benchmarks.md)
bench-real-foreign: install
	$(BIN)/guardrail bench --agent gemma --policies plan-reask-always,plan --baselines ucb --prompt foreign --naming spaced --bandits 2 --arms 5 --horizon 50 --threads 2 --max-tokens 32 --seed 0 --out bench-out/gemma-foreign

bench-aiw: install
	$(BIN)/python scripts/bench_aiw.py evaluate tests/data/aiw_labelled.jsonl

bench-exploration: install
	$(BIN)/python scripts/bench_exploration.py --seeds 0 1 2 3 4

bench-perf: install
	$(BIN)/python scripts/bench_perf.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
