"""pyproject.toml lists packages explicitly; every package folder in the tree must be in it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def _found() -> set[str]:
    found = set()
    for top, name in (
        ("streamproc", "streamproc"),
        ("plugins", "streamproc_plugins"),
        ("schemas", "streamproc_schemas"),
    ):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join((name, *rel.parts)))
    return found


def test_every_package_folder_is_declared():
    assert _found() - _declared() == set()


def test_every_declared_package_exists():
    assert _declared() - _found() == set()


def test_every_builtin_plugin_has_an_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entry_points = project["entry-points"]["streamproc"]
    plugin_dirs = {p.parent.name for p in (ROOT / "plugins").glob("*/__init__.py")}
    assert plugin_dirs == set(entry_points)
    assert all(v == f"streamproc_plugins.{k}" for k, v in entry_points.items())


def test_the_offline_shell_runs_without_the_streaming_one():
    """One pipeline core, two shells: the backtest imports neither the worker nor Faust."""
    import subprocess
    import sys

    code = (
        "import sys, streamproc.replay, streamproc.pipeline; "
        "bad = sorted(m for m in sys.modules if m == 'faust' or m.startswith(('streamproc.stream', 'faust.'))); "
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
