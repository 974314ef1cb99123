"""The public surface is curated: __all__ is sorted, complete and importable."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import guardrail


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then functions and the rest."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


PUBLIC_MODULES = [
    "guardrail",
    "guardrail.detectors",
    "guardrail.policies",
    "guardrail.telemetry",
    "guardrail.exceptions",
    "guardrail.testing",
    "guardrail.parsing",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    """Each public module's __all__ is sorted, without duplicates, and every name resolves."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key)
    assert len(exported) == len(set(exported))
    for member in exported:
        assert hasattr(module, member), f"{name}.{member} is in __all__ but missing"


def test_top_level_exports_every_public_class_defined_by_guardrail() -> None:
    """Nothing public in guardrail/__init__.py is left out of __all__ (httpx's drift check)."""
    names = {
        name
        for name, value in vars(guardrail).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("guardrail")
    }
    assert names <= set(guardrail.__all__)


def test_exceptions_share_one_root() -> None:
    """Every guardrail exception derives from GuardrailError; misuse errors are also builtin types."""
    from guardrail import exceptions

    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), exceptions.GuardrailError)
    assert issubclass(exceptions.ConfigurationError, ValueError)
    assert issubclass(exceptions.InvalidInputError, TypeError)
    assert issubclass(exceptions.MissingDependencyError, ImportError)


PRIVATE_MODULES = ["guardrail.rationale._cascade"]
"""Implementation modules whose public names are all part of the top-level surface."""


@pytest.mark.parametrize("name", PRIVATE_MODULES)
def test_every_public_name_of_a_private_module_is_exported(name: str) -> None:
    """What a private module lists in its __all__ (e.g. CascadeReader) is importable from guardrail itself."""
    module = importlib.import_module(name)
    for member in module.__all__:
        assert member in guardrail.__all__, f"{name}.{member} is public but not exported"
        assert getattr(guardrail, member) is getattr(module, member)


def test_every_public_exception_is_exported_from_guardrail() -> None:
    """Each exception class guardrail.exceptions defines is importable from guardrail itself, as the same class."""
    import inspect

    from guardrail import exceptions

    defined = {
        name
        for name, value in vars(exceptions).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and not name.startswith("_")
    }
    assert defined == set(exceptions.__all__)
    for name in defined:
        assert name in guardrail.__all__, f"guardrail.exceptions.{name} is not exported from guardrail"
        assert getattr(guardrail, name) is getattr(exceptions, name)


def test_the_names_users_type_to_configure_a_guard_are_exported() -> None:
    """The finding kinds ``answers=`` takes, and the protocols a user implements, come from guardrail itself."""
    from guardrail import detectors

    kinds = {name for name in detectors.__all__ if name.isupper()}
    assert kinds <= set(guardrail.__all__)
    assert {"Prompter", "Sink", "SkipStep"} <= set(guardrail.__all__)


def _modules_loaded_after(code: str) -> set[str]:
    """The guardrail modules a fresh interpreter has loaded after running ``code``."""
    import subprocess
    import sys

    probe = f"{code}\nimport sys\nprint('\\n'.join(m for m in sys.modules if m.startswith('guardrail')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_guardrail_loads_a_module_only_when_one_of_its_names_is_used() -> None:
    """``import guardrail`` loads no implementation module; using a name loads its module (and what it needs)."""
    assert _modules_loaded_after("import guardrail") == {"guardrail", "guardrail._version"}
    loaded = _modules_loaded_after("import guardrail\nguardrail.ConfigurationError")
    assert "guardrail.exceptions" in loaded
    assert "guardrail.guard" not in loaded
    assert "guardrail.guard" in _modules_loaded_after("from guardrail import Guard")


def test_the_report_command_loads_none_of_the_guard(tmp_path: Path) -> None:
    """``guardrail report`` starts fast: reading telemetry loads no guard, parser, reader, detector or policy."""
    events = tmp_path / "events.jsonl"
    events.write_text("")
    loaded = _modules_loaded_after(f"import guardrail.cli\nguardrail.cli.main(['report', {str(events)!r}])")
    assert "guardrail.telemetry.report" in loaded
    heavy = {"guardrail.guard", "guardrail.parsing", "guardrail.rationale", "guardrail.detectors", "guardrail.policies"}
    assert not heavy & loaded


def test_the_lazy_table_names_the_module_each_name_is_imported_from_for_type_checkers() -> None:
    """The runtime's table of where each public name lives says what the ``TYPE_CHECKING`` imports say."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(guardrail))
    (block,) = (node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    static = {
        alias.name: node.module for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert static == guardrail._HOME
    assert set(static) | {"__version__"} == set(guardrail.__all__)


@pytest.mark.slow
def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    """Nothing relies on ``import guardrail`` having loaded other modules first (the names load lazily)."""
    import pkgutil
    import subprocess
    import sys

    failed = []
    for module in pkgutil.walk_packages(guardrail.__path__, "guardrail."):
        result = subprocess.run([sys.executable, "-c", f"import {module.name}"], capture_output=True, text=True)
        if result.returncode:
            failed.append(f"{module.name}: {result.stderr.strip().splitlines()[-1]}")
    assert not failed
