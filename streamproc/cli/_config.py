from __future__ import annotations

import json
from pathlib import Path

import typer

from streamproc.config import Settings, to_toml

app = typer.Typer(help="Resolved configuration.", no_args_is_help=True)


@app.command("show")
def show(
    config: Path = typer.Option(None, "--config", "-c", help="TOML config file (default: $STREAMPROC_CONFIG)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of TOML."),
) -> None:
    """Print the settings after defaults, config file and environment are applied; secrets show as ***."""
    tree = Settings.load(config).to_dict()
    typer.echo(json.dumps(tree, indent=2) if as_json else to_toml(tree), nl=as_json)
