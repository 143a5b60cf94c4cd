from __future__ import annotations

import json
from pathlib import Path

import typer

from streamproc.serde import SchemaSet, check_schemas, load_schemas

from ._shared import echo_columns

app = typer.Typer(help="The Avro schemas of every topic (the public contract).", no_args_is_help=True)


@app.command("list")
def list_schemas() -> None:
    """List schemas: name, full name, fingerprint (CRC-64-AVRO, as in single-object headers) and file."""
    schemas = load_schemas()
    rows = [("NAME", "FULL NAME", "FINGERPRINT", "FILE")]
    rows += [(s.name, s.full_name, s.fingerprint.hex(), s.source) for s in schemas.values()]
    echo_columns(rows)


@app.command("show")
def show_schema(
    name: str = typer.Argument(..., help="Schema name, for example SensorReading."),
    canonical: bool = typer.Option(False, "--canonical", help="Print the parsing canonical form instead."),
) -> None:
    """Print one schema as JSON."""
    schema = load_schemas()[name]
    typer.echo(schema.canonical_form if canonical else json.dumps(schema.definition, indent=2))


@app.command("check")
def check(
    against: Path = typer.Option(
        None,
        "--against",
        help="Folder of the previous *.avsc files: every schema must still read data written with them.",
    ),
) -> None:
    """Check the contract: schemas parse, names are unique, fields are documented, sample records
    round-trip, and (with --against) each schema is backward compatible."""
    previous = SchemaSet.from_directory(against) if against is not None else None
    for line in check_schemas(load_schemas(), previous):
        typer.echo(line)
