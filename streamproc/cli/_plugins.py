from __future__ import annotations

import typer

from streamproc.detection import DetectorRegistry

app = typer.Typer(help="Detector plugins installed in this environment.", no_args_is_help=True)


@app.command("list")
def list_plugins() -> None:
    """List detectors: name, version, package and description."""
    infos = DetectorRegistry().infos()
    rows = [("NAME", "VERSION", "PACKAGE", "DESCRIPTION")]
    rows += [(i.spec.name, i.version, i.package, i.spec.summary) for i in infos]
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=False)) + "  " + row[3])
