"""guardrail-bench adds ``guardrail demo`` and ``guardrail bench`` through the core's entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from guardrail.cli import ENTRY_POINT_GROUP, main


def test_the_installed_distribution_declares_demo_and_bench() -> None:
    """The installed metadata holds both subcommands, each naming this package's ``register``."""
    points = {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}
    assert points["demo"] == "guardrail_bench.demo:register"
    assert points["bench"] == "guardrail_bench.cli:register"


def test_guardrail_help_lists_the_installed_subcommands_without_an_install_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With guardrail-bench installed, ``guardrail --help`` lists demo and bench as they are."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "demo" in out
    assert "bench" in out
    assert "needs guardrail-bench" not in out
