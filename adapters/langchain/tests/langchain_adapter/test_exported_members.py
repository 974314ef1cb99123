"""The adapter's public surface is curated: __all__ is sorted, complete and importable."""

from __future__ import annotations

import importlib

import pytest

import guardrail_langchain


def _isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then functions and the rest."""
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


PUBLIC_MODULES = ["guardrail_langchain", "guardrail_langchain.testing", "guardrail_langchain.middleware"]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    """Each public module's __all__ is sorted, without duplicates, and every name resolves."""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key)
    assert len(exported) == len(set(exported))
    for member in exported:
        assert getattr(module, member) is not None


def test_the_package_imports_without_langchain_agents() -> None:
    """Importing guardrail_langchain does not import langchain (only langchain-core)."""
    import subprocess
    import sys

    code = (
        "import sys, guardrail_langchain; "
        "leaked = [m for m in sys.modules if m == 'langchain' or m.startswith('langchain.')]; "
        "sys.exit(f'imported {leaked}' if leaked else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


INTERNAL = {
    "ToolLike",
    "as_message",
    "reply_of",
    "to_messages",
    "adispatch_step",
    "dispatch_step",
    "adispatch_custom",
    "dispatch_custom",
}
"""Helpers the adapter's modules share, not meant for users."""


def test_every_public_class_and_function_is_exported() -> None:
    """Public names defined in the private modules are all in __all__."""
    exported = set(guardrail_langchain.__all__)
    for module_name in ("_events", "_guard", "_judge", "_messages", "_prompter", "_runnable", "_errors"):
        module = importlib.import_module(f"guardrail_langchain.{module_name}")
        for member in getattr(module, "__all__", ()):
            if member in INTERNAL:
                continue
            assert member in exported, f"{module_name}.{member} is public but not exported"
