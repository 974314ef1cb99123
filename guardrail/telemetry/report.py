"""``guardrail report``: placeholder until the telemetry issue lands (the telemetry helper replaces this file)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser("report", help="summarise telemetry files")
    parser.add_argument("files", nargs="+")
    parser.set_defaults(func=lambda args: 1)
