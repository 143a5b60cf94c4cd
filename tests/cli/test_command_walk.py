"""Every command of the CLI, walked: its help renders, and called without its required
arguments it says what is missing in one line (exit status 2), never with a traceback."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from streamproc.cli._app import app


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """(path, command) of every leaf command (typer bundles its own click: groups by their shape)."""
    found = []
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_the_walk_finds_the_commands() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"train", "replay", "run", "demo", "models promote", "alerts tail"} <= names and len(names) > 25


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=" ".join)
def test_every_command_has_help(run_cli, path) -> None:
    code, out, err = run_cli(*path, "--help")
    assert code == 0 and "Usage:" in out and not err


@pytest.mark.parametrize(
    "path",
    [path for path, command in COMMANDS if any(p.required for p in command.params)],
    ids=" ".join,
)
def test_a_missing_required_argument_is_one_line(run_cli, path) -> None:
    code, _, err = run_cli(*path)
    assert code == 2 and err.startswith("error: Missing") and len(err.strip().splitlines()) == 1, err
