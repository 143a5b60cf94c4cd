from __future__ import annotations

import sys

import typer

from streamproc import __version__
from streamproc.errors import StreamprocError

from . import (
    _bench,
    _broker,
    _config,
    _datasets,
    _models,
    _plugins,
    _replay,
    _report,
    _schemas,
    _stream,
    _table1,
    _train,
)

app = typer.Typer(
    name="streamproc",
    help="Streaming, structure-aware anomaly detection for multivariate sensor data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=True,
)
app.add_typer(_plugins.app, name="plugins")
app.add_typer(_broker.app, name="broker")
app.add_typer(_datasets.app, name="datasets")
app.add_typer(_schemas.app, name="schemas")
app.add_typer(_config.app, name="config")
app.command("train")(_train.train)
app.add_typer(_models.app, name="models")
app.command("replay")(_replay.replay)
app.command("run")(_stream.run)
app.command("demo")(_stream.demo)
app.add_typer(_stream.alerts_app, name="alerts")
app.add_typer(_bench.app, name="bench")
_bench.app.command("table1")(_table1.table1)
app.command("report")(_report.report)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"streamproc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Streaming, structure-aware anomaly detection for multivariate sensor data."""


def main() -> None:
    """Entry point: user errors end with one line on stderr and exit status 1, no traceback."""
    try:
        # Without standalone mode click returns an exit status instead of raising for typer.Exit.
        status = app(standalone_mode=False)
    except StreamprocError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        typer.echo(f"error: {exc.strerror or exc}: {exc.filename}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort as exc:
        # click turns Ctrl-C into Abort; it is still an interruption.
        if isinstance(exc.__cause__, KeyboardInterrupt):
            typer.echo("interrupted", err=True)
            sys.exit(130)
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        # Usage errors come from typer's bundled click; recognise them by their interface.
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            typer.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        raise
    if isinstance(status, int) and status:
        sys.exit(status)
