"""``guardrail bench``: placeholder until the benchmarks issue lands."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    parser = subparsers.add_parser("bench", help="benchmarks (see docs/benchmarks.md)")
    parser.set_defaults(func=lambda args: 1)
