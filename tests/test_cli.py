"""The ``guardrail`` command: the core's own subcommands, and the ones other distributions install."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from guardrail import cli


def _without_installed_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if no other distribution declared a ``guardrail.cli`` entry point (the core installed alone)."""
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    monkeypatch.setenv("COLUMNS", "200")  # one help line per subcommand


@pytest.mark.parametrize("argv", [["bench"], ["bench", "--agent", "gemma", "--help"], ["demo", "--seed", "3"]])
def test_a_subcommand_of_a_missing_distribution_says_how_to_install_it(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without guardrail-bench, ``guardrail bench`` / ``demo`` (with any arguments) exit 2 naming the package."""
    _without_installed_commands(monkeypatch)
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert f"guardrail {argv[0]} comes with guardrail-bench" in error
    assert "pip install guardrail-bench" in error


def test_the_core_lists_the_missing_subcommands_in_its_help(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``guardrail --help`` names bench and demo as needing guardrail-bench, beside the core's ``report``."""
    _without_installed_commands(monkeypatch)
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "report" in out
    assert out.count("(needs guardrail-bench)") == 2


def test_an_installed_entry_point_adds_its_subcommand(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``register(subparsers)`` declared in the ``guardrail.cli`` group becomes a subcommand; it replaces the
    install hint of the same name."""
    calls: list[Any] = []

    def register(subparsers: Any) -> None:
        parser = subparsers.add_parser("bench", help="a bench from elsewhere")
        parser.add_argument("--n", type=int, default=1)
        parser.set_defaults(func=lambda args: calls.append(args.n) or 0)

    point = EntryPoint(name="bench", value=f"{__name__}:register", group=cli.ENTRY_POINT_GROUP)
    monkeypatch.setattr(EntryPoint, "load", lambda self: register)
    monkeypatch.setattr(cli, "entry_points", lambda group: [point] if group == cli.ENTRY_POINT_GROUP else [])
    assert cli.main(["bench", "--n", "7"]) == 0
    assert calls == [7]
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "(needs guardrail-bench)" in capsys.readouterr().out  # demo is still missing


def test_unknown_arguments_to_a_core_subcommand_are_still_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the install hints swallow arguments: ``guardrail report FILE --nope`` is a usage error (exit 2)."""
    _without_installed_commands(monkeypatch)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["report", "x.jsonl", "--nope"])
    assert exit_.value.code == 2


def test_a_core_subcommand_loads_no_other_distribution(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``guardrail report`` never imports the installed subcommands (they may be slow, or even broken), while
    ``guardrail --help`` still lists them."""
    loaded: list[str] = []

    def load(self: EntryPoint) -> Any:
        loaded.append(self.name)
        return lambda subparsers: subparsers.add_parser(self.name, help="from elsewhere")

    point = EntryPoint(name="bench", value="elsewhere:register", group=cli.ENTRY_POINT_GROUP)
    monkeypatch.setattr(EntryPoint, "load", load)
    monkeypatch.setattr(cli, "entry_points", lambda group: [point] if group == cli.ENTRY_POINT_GROUP else [])
    events = tmp_path / "events.jsonl"
    events.write_text("")
    assert cli.main(["report", str(events)]) == 1  # no step events
    assert loaded == []
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert loaded == ["bench"]
    assert "from elsewhere" in capsys.readouterr().out
