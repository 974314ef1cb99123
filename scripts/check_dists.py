"""Check the built distributions' contents: each wheel holds its own package only, the core none of the benchmarks.

    python scripts/check_dists.py dist

Prints each archive's top-level entries and file count, then every problem found; exits 1 on any problem. Run by
``make dist`` (and so by ``make test-wheels`` and CI) after ``python -m build`` and ``twine check``.
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

# distribution -> (its one top-level package, packages that must never be in its wheel)
PACKAGES = {
    "guardrail_core": ("guardrail", ("guardrail_bench", "guardrail_langchain", "guardrail_instructor")),
    "guardrail_bench": ("guardrail_bench", ("guardrail", "guardrail_langchain", "guardrail_instructor")),
    "guardrail_langchain": ("guardrail_langchain", ("guardrail", "guardrail_bench", "guardrail_instructor")),
    "guardrail_instructor": ("guardrail_instructor", ("guardrail", "guardrail_bench", "guardrail_langchain")),
}
# What the core wheel must not hold, beyond other distributions' packages: the benchmarks' old home and the demo.
CORE_FORBIDDEN_PATHS = ("guardrail/bench/", "guardrail/demo.py")
# Extras and requirements that belong to guardrail-bench (a model runtime), never to the core.
MODEL_EXTRAS = ("local", "server")
MODEL_REQUIREMENTS = ("llama-cpp-python", "llama_cpp_python", "gemma3-270m")


def _top_level(names: list[str]) -> list[str]:
    return sorted({name.split("/", 1)[0] for name in names})


def check_wheel(path: Path) -> list[str]:
    """Problems with one wheel (empty: none); prints what it holds."""
    distribution = path.name.split("-", 1)[0]
    if distribution not in PACKAGES:
        return [f"{path.name}: not one of {sorted(PACKAGES)}"]
    package, foreign = PACKAGES[distribution]
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        dist_info = next(n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info"))
        metadata = Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode("utf-8"))
        entry_points = (
            wheel.read(f"{dist_info}/entry_points.txt").decode("utf-8")
            if f"{dist_info}/entry_points.txt" in names
            else ""
        )
    code = [n for n in names if not n.split("/", 1)[0].endswith(".dist-info")]
    print(f"{path.name}: {len(code)} files in {_top_level(code)}")
    problems = [f"{path.name}: holds {n}" for n in code if n.split("/", 1)[0] != package]
    problems += [f"{path.name}: holds {n}" for n in code if n.split("/", 1)[0] in foreign]
    if f"{package}/py.typed" not in code:
        problems.append(f"{path.name}: no py.typed")
    if distribution == "guardrail_core":
        problems += [f"{path.name}: holds {n}" for n in code if n.startswith(CORE_FORBIDDEN_PATHS)]
        extras = metadata.get_all("Provides-Extra") or []
        problems += [f"{path.name}: provides the model extra {e!r}" for e in extras if e in MODEL_EXTRAS]
        requirements = metadata.get_all("Requires-Dist") or []
        problems += [f"{path.name}: requires {r!r}" for r in requirements if r.lower().startswith(MODEL_REQUIREMENTS)]
        if "guardrail = guardrail.cli:main" not in entry_points:
            problems.append(f"{path.name}: no `guardrail` console script")
    if distribution == "guardrail_bench":
        for name in ("guardrail_bench/demo.py", "guardrail_bench/cli.py"):
            if name not in code:
                problems.append(f"{path.name}: {name} is missing")
        for line in ("demo = guardrail_bench.demo:register", "bench = guardrail_bench.cli:register"):
            if "[guardrail.cli]" not in entry_points or line not in entry_points:
                problems.append(f"{path.name}: no [guardrail.cli] entry point `{line}`")
    return problems


def check_sdist(path: Path) -> list[str]:
    """Problems with one source archive: the core's holds neither the adapters nor the benchmarks."""
    with tarfile.open(path) as sdist:
        names = [n.split("/", 1)[1] for n in sdist.getnames() if "/" in n]
    print(f"{path.name}: {len(names)} entries in {_top_level(names)}")
    if path.name.startswith("guardrail_core-"):
        return [f"{path.name}: holds {n}" for n in names if n.startswith(("benchmarks/", "adapters/", "tests/"))]
    return []


def main(argv: list[str] | None = None) -> int:
    """Check every wheel and sdist in the directory; 1 if any problem or a distribution is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dist", type=Path, help="the directory `python -m build --outdir` wrote")
    args = parser.parse_args(argv)
    wheels = sorted(args.dist.glob("*.whl"))
    sdists = sorted(args.dist.glob("*.tar.gz"))
    problems = [p for wheel in wheels for p in check_wheel(wheel)] + [p for s in sdists for p in check_sdist(s)]
    built = {wheel.name.split("-", 1)[0] for wheel in wheels}
    problems += [f"no wheel for {name}" for name in sorted(set(PACKAGES) - built)]
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print(f"{len(wheels)} wheels, {len(sdists)} sdists: " + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
