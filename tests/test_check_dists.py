"""scripts/check_dists.py (run by ``make dist``) passes clean wheels and names every misplaced file or extra."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_dists.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_dists", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wheel(directory: Path, distribution: str, files: list[str], metadata: str = "", entry_points: str = "") -> None:
    """A wheel with the given package files and METADATA / entry_points.txt bodies."""
    info = f"{distribution}-0.1.0.dist-info"
    with zipfile.ZipFile(directory / f"{distribution}-0.1.0-py3-none-any.whl", "w") as wheel:
        for name in files:
            wheel.writestr(name, "")
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.3\nName: {distribution}\n{metadata}")
        if entry_points:
            wheel.writestr(f"{info}/entry_points.txt", entry_points)


def _clean_set(directory: Path) -> None:
    _wheel(
        directory,
        "guardrail_core",
        ["guardrail/__init__.py", "guardrail/py.typed"],
        "Provides-Extra: otel\n",
        "[console_scripts]\nguardrail = guardrail.cli:main\n",
    )
    _wheel(
        directory,
        "guardrail_bench",
        ["guardrail_bench/demo.py", "guardrail_bench/cli.py", "guardrail_bench/py.typed"],
        "Provides-Extra: local\n",
        "[guardrail.cli]\nbench = guardrail_bench.cli:register\ndemo = guardrail_bench.demo:register\n",
    )
    for name in ("langchain", "instructor"):
        _wheel(directory, f"guardrail_{name}", [f"guardrail_{name}/__init__.py", f"guardrail_{name}/py.typed"])


def test_a_clean_set_of_wheels_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Four wheels, each with its own package only: exit 0, and each wheel's file count is printed."""
    _clean_set(tmp_path)
    assert _script().main([str(tmp_path)]) == 0
    assert "guardrail_core-0.1.0-py3-none-any.whl: 2 files in ['guardrail']" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("files", "metadata", "problem"),
    [
        (["guardrail/bench/envs.py"], "", "holds guardrail/bench/envs.py"),
        (["guardrail/demo.py"], "", "holds guardrail/demo.py"),
        (["guardrail_bench/envs.py"], "", "holds guardrail_bench/envs.py"),
        ([], "Provides-Extra: local\n", "provides the model extra 'local'"),
        ([], "Requires-Dist: llama-cpp-python>=0.3\n", "requires 'llama-cpp-python>=0.3'"),
    ],
)
def test_bench_code_or_a_model_extra_in_the_core_wheel_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: list[str], metadata: str, problem: str
) -> None:
    """The core wheel with benchmark code, the demo, or a model extra or requirement: exit 1 naming it."""
    _clean_set(tmp_path)
    _wheel(
        tmp_path,
        "guardrail_core",
        ["guardrail/__init__.py", "guardrail/py.typed", *files],
        metadata,
        "[console_scripts]\nguardrail = guardrail.cli:main\n",
    )
    assert _script().main([str(tmp_path)]) == 1
    assert f"PROBLEM: guardrail_core-0.1.0-py3-none-any.whl: {problem}" in capsys.readouterr().out


def test_a_bench_wheel_without_its_subcommands_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """guardrail-bench must declare demo and bench in the guardrail.cli group, or the CLI never finds them."""
    _clean_set(tmp_path)
    _wheel(
        tmp_path, "guardrail_bench", ["guardrail_bench/demo.py", "guardrail_bench/cli.py", "guardrail_bench/py.typed"]
    )
    assert _script().main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "no [guardrail.cli] entry point `demo = guardrail_bench.demo:register`" in out
    assert "no [guardrail.cli] entry point `bench = guardrail_bench.cli:register`" in out
