from __future__ import annotations

from pathlib import Path

import typer

from streamproc.report import write_html_report


def report(
    directories: list[Path] = typer.Argument(
        ...,
        metavar="OUT_DIRS...",
        help="Output directories of replay, bench table1 and bench sensitivity runs (recognised by their files).",
    ),
    html: Path = typer.Option(..., "--html", help="The HTML file to write (self-contained: images embedded)."),
    title: str = typer.Option("streamproc report", "--title", help="The page title."),
    channel_plots: bool = typer.Option(
        True,
        "--channel-plots/--no-channel-plots",
        help="Embed a replay's per-channel plots (they make most of the file's size).",
    ),
) -> None:
    """Gather replay, Table 1 and sensitivity outputs into one HTML page that opens without a server."""
    path = write_html_report(directories, html, title=title, channel_plots=channel_plots)
    typer.echo(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)")
