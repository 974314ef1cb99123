"""The ``guardrail`` command: ``demo``, ``bench``, ``report``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# Each module defines ``register(subparsers)`` adding its subcommand with ``set_defaults(func=...)``, where
# ``func(args) -> int`` is the exit code. Imported lazily by name so ``guardrail --help`` stays fast.
_COMMANDS = ("guardrail.demo", "guardrail.bench.cli", "guardrail.telemetry.report")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="guardrail",
        description="Catch LLM agents acting against their own rationale; measure and correct it.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMANDS:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args))


if __name__ == "__main__":
    sys.exit(main())
