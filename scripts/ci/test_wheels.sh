#!/usr/bin/env bash
# The built wheels, installed in the venv given as $1 (by `make test-wheels`), run the demo and the core suite
# from a copy of the tests outside the source tree, so that nothing imports the repository's guardrail/.
set -euo pipefail
venv="$1"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# the core suite reads the docs, the committed schema and a few scripts by path, and needs the pytest settings
cp -r "$repo/tests" "$repo/docs" "$repo/scripts" "$repo/conftest.py" "$repo/pyproject.toml" "$repo/README.md" "$work/"
cd "$work"
"$venv/bin/python" - <<'PY'
import importlib.metadata as metadata
import guardrail, guardrail_bench
for module in (guardrail, guardrail_bench):
    if "site-packages" not in module.__file__:
        raise SystemExit(f"{module.__name__} imported from {module.__file__}, not from an installed wheel")
    print(f"{module.__name__}: {module.__file__}")
for name in ("guardrail-core", "guardrail-bench", "guardrail-langchain", "guardrail-instructor"):
    dist = metadata.distribution(name)
    if dist.read_text("direct_url.json") and '"editable": true' in dist.read_text("direct_url.json"):
        raise SystemExit(f"{name} is an editable install")
    print(f"{name} {dist.version}")
PY
echo "== the demo, from the installed wheels"
"$venv/bin/guardrail" demo --telemetry "$work/demo-events.jsonl"
echo "== the core suite, against the installed wheels"
"$venv/bin/python" -m pytest tests -q -p no:cacheprovider
