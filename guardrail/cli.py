"""The ``guardrail`` command: ``report``, plus ``demo`` and ``bench`` when guardrail-bench is installed.

Other distributions add subcommands through the ``guardrail.cli`` entry-point group: each entry point names a
``register(subparsers)`` function that adds its subcommand with ``set_defaults(func=...)``, where
``func(args) -> int`` is the exit code. The core never imports them; it finds them in the installed metadata.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

__all__ = ["ENTRY_POINT_GROUP", "build_parser", "main"]

#: The entry-point group other distributions register their subcommands in.
ENTRY_POINT_GROUP = "guardrail.cli"

# The core's own subcommands: name -> the module whose ``register`` adds it, imported when the parser is built.
_COMMANDS = {"report": "guardrail.telemetry.report"}

# Subcommands that come from another distribution: name -> (what it does, the distribution that provides it).
# Without that distribution, the subcommand still parses and says how to install it.
_PROVIDED_ELSEWHERE = {
    "demo": (
        "the knowing-doing gap on a 10-arm bandit: unguarded, corrected, the full plan, and UCB",
        "guardrail-bench",
    ),
    "bench": ("play agents behind guard policies and write the figures", "guardrail-bench"),
}


def _registered() -> dict[str, Callable[[Any], None]]:
    """The ``register`` functions installed distributions declare in :data:`ENTRY_POINT_GROUP`, by name."""
    return {point.name: point.load() for point in entry_points(group=ENTRY_POINT_GROUP)}


def _install_hint(name: str, distribution: str) -> Callable[[argparse.Namespace], int]:
    def hint(args: argparse.Namespace) -> int:
        print(
            f"guardrail {name} comes with {distribution}, which is not installed: pip install {distribution}"
            " (in a clone of the repository: make demo)",
            file=sys.stderr,
        )
        return 2

    return hint


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered: the core's and the installed distributions'.

    With ``command`` naming one of the core's own subcommands, only the core's are registered: loading the
    others (``guardrail demo`` imports the whole guard) costs ``guardrail report`` a third of a second.
    """
    parser = argparse.ArgumentParser(
        prog="guardrail",
        description="Catch LLM agents acting against their own rationale; measure and correct it.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMANDS.values():
        importlib.import_module(module).register(subparsers)
    if command in _COMMANDS:
        return parser
    registered = _registered()
    for _, register in sorted(registered.items()):
        register(subparsers)
    for name, (summary, distribution) in _PROVIDED_ELSEWHERE.items():
        if name not in registered:
            missing = subparsers.add_parser(name, help=f"{summary} (needs {distribution})", add_help=False)
            # any arguments (even --help) reach the hint instead of an "unrecognized arguments" error
            missing.set_defaults(func=_install_hint(name, distribution), ignores_arguments=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "ignores_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args))


if __name__ == "__main__":
    sys.exit(main())
