from __future__ import annotations

import typer

from streamproc.detection import DetectorRegistry

from ._shared import echo_columns

app = typer.Typer(help="Detector plugins installed in this environment.", no_args_is_help=True)


@app.command("list")
def list_plugins() -> None:
    """List detectors: name, version, package and description."""
    infos = DetectorRegistry().infos()
    rows = [("NAME", "VERSION", "PACKAGE", "DESCRIPTION")]
    rows += [(i.spec.name, i.version, i.package, i.spec.summary) for i in infos]
    echo_columns(rows)
