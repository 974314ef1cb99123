# One task runner. `make demo` and `make test` work on a fresh machine with Python 3.10+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest
PIP := $(BIN)/python -m pip install -q

# Three install levels, each with its own stamp, so a target installs only what it uses:
#   demo: the core and guardrail-bench, editable (pure Python: no compiler run, no dev tools)
#   dev:  + the test, lint, type and packaging tools, both adapters, matplotlib (make test, lint, typecheck)
#   real: + llama-cpp-python (compiled once, then a cached wheel) and its server (make test-real, bench-*)
DEMO_STAMP := $(VENV)/.stamp-demo
DEV_STAMP := $(VENV)/.stamp-dev
REAL_STAMP := $(VENV)/.stamp-real

.PHONY: install install-dev install-real demo test test-real test-slow test-core-only test-wheels dist lint typecheck check clean bench-sim bench-real bench-real-foreign bench-aiw bench-exploration bench-perf bench-tools bench-tools-real

$(DEMO_STAMP): pyproject.toml benchmarks/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# the build backend once in the venv, instead of a fresh isolated build env per project (~10 s of a first run)
	$(PIP) 'hatchling>=1.18' editables
	$(PIP) --no-build-isolation -e . -e benchmarks
	touch $@

$(DEV_STAMP): $(DEMO_STAMP) adapters/langchain/pyproject.toml adapters/instructor/pyproject.toml
	$(PIP) --upgrade pip
	$(PIP) -e '.[dev]' -e 'benchmarks[plot]' -e 'adapters/langchain[dev]' -e 'adapters/instructor[dev]'
	touch $@

$(REAL_STAMP): $(DEV_STAMP)
	$(PIP) -e 'benchmarks[plot,local,server]'
	touch $@

install: $(DEMO_STAMP)
install-dev: $(DEV_STAMP)
install-real: $(REAL_STAMP)

## the main job: a 10-arm bandit played by a simulated agent with the knowing-doing gap, unguarded vs guarded
demo: $(DEMO_STAMP)
	$(BIN)/guardrail demo

## the default suite (fast; no real model or server)
test: $(DEV_STAMP)
	$(PYTEST)

## tests that start a real model (Gemma 3 270M via llama.cpp) or server (llama_cpp.server, redis-server)
test-real: $(REAL_STAMP)
	$(PYTEST) -m real

## long correctness runs (concurrency at scale)
test-slow: $(DEV_STAMP)
	$(PYTEST) -m slow

## the core alone, in a clean venv without the adapters or guardrail-bench: it must import and pass its tests
CORE_VENV := .venv-core
test-core-only:
	rm -rf $(CORE_VENV)
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install -q --upgrade pip
	$(CORE_VENV)/bin/python -m pip install -q -e '.[dev]'
	$(CORE_VENV)/bin/python -c "import importlib.util as u, sys; bad = [m for m in ('langchain_core', 'langchain', 'instructor', 'guardrail_bench', 'llama_cpp') if u.find_spec(m)]; sys.exit(f'not a clean core venv: {bad}' if bad else 0)"
	$(CORE_VENV)/bin/python -c "import sys, guardrail, guardrail.cli; leaked = [m for m in sys.modules if m.split('.')[0] in ('langchain_core', 'langchain', 'instructor', 'guardrail_bench', 'llama_cpp')]; sys.exit(f'the core imported {leaked}' if leaked else 0)"
	$(CORE_VENV)/bin/python -m pytest tests -p no:cacheprovider

## everything CI checks that needs no service
check: lint typecheck test

lint: $(DEV_STAMP)
	$(BIN)/ruff check guardrail adapters benchmarks tests scripts
	$(BIN)/ruff format --check guardrail adapters benchmarks
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy --strict guardrail adapters/langchain/guardrail_langchain adapters/instructor/guardrail_instructor benchmarks/guardrail_bench tests/typing

## benchmarks (docs/benchmarks.md, docs/policies.md, docs/performance.md say what each prints)
bench-sim: $(REAL_STAMP)
	$(BIN)/guardrail bench --agent knowing-doing,frequency-bias,greedy --policies all --bandits 64 --seed 0 --out bench-out/sim

bench-real: $(REAL_STAMP)
	$(BIN)/guardrail bench --agent gemma --policies none,best --bandits 8 --arms 10 --horizon 50 --threads 1 --seed 0 --out bench-out/gemma-full

## the real model on a prompt it was not tuned on (another benchmark's wording, arm names with spaces, no examples):
## always re-asking vs the adaptive re-ask under the same plan, UCB as reference (docs/benchmarks.md)
bench-real-foreign: $(REAL_STAMP)
	$(BIN)/guardrail bench --agent gemma --policies plan-reask-always,plan --baselines ucb --prompt foreign --naming spaced --bandits 2 --arms 5 --horizon 50 --threads 2 --max-tokens 32 --seed 0 --out bench-out/gemma-foreign

## tool-using agents: the four simulated profiles, 64 seeded tasks each, unguarded vs guarded (seconds)
bench-tools: $(DEV_STAMP)
	$(BIN)/guardrail bench --env tools --tasks 64 --seed 0 --out bench-out/tools

## the same tasks with the real Gemma 3 270M behind llama_cpp.server (real tool calls; slow: ~10-50 s per call)
bench-tools-real: $(REAL_STAMP)
	$(BIN)/guardrail bench --env tools --agent gemma --tasks 8 --temperature 0 --max-tokens 64 --threads 1 --seed 0 --out bench-out/tools-gemma

bench-aiw: $(REAL_STAMP)
	$(BIN)/python scripts/bench_aiw.py evaluate benchmarks/tests/data/aiw_labelled.jsonl

bench-exploration: $(REAL_STAMP)
	$(BIN)/python scripts/bench_exploration.py --seeds 0 1 2 3 4

bench-perf: $(REAL_STAMP)
	$(BIN)/python scripts/bench_perf.py

## the four distributions built (wheel and sdist) and checked: twine's metadata check, and the core wheel's file list
## (no bench code, no demo, no model extras)
DIST := dist
dist: $(DEV_STAMP)
	rm -rf $(DIST)
	for project in . adapters/langchain adapters/instructor benchmarks; do $(BIN)/python -m build -q --outdir $(DIST) $$project || exit 1; done
	$(BIN)/twine check --strict $(DIST)/*
	$(BIN)/python scripts/check_dists.py $(DIST)

## the built wheels in a clean venv (no editable install, no source tree on the path): the demo and the core suite
WHEEL_VENV := .venv-wheels
test-wheels: dist
	rm -rf $(WHEEL_VENV)
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install -q --upgrade pip
	$(WHEEL_VENV)/bin/python -m pip install -q "$$(ls $(DIST)/guardrail_core-*.whl)[dev]" $(DIST)/guardrail_bench-*.whl $(DIST)/guardrail_langchain-*.whl $(DIST)/guardrail_instructor-*.whl
	bash scripts/ci/test_wheels.sh $(abspath $(WHEEL_VENV))

clean:
	rm -rf $(VENV) $(CORE_VENV) $(WHEEL_VENV) $(DIST) .pytest_cache .mypy_cache .ruff_cache
