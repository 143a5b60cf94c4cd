from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, cast

import typer

from streamproc.datasets import (
    FETCH_RECORD,
    SyntheticConfig,
    fetch_telemanom,
    generate_synthetic_channels,
    load_telemanom,
    write_telemanom,
)

from ._shared import echo_columns

app = typer.Typer(help="Fetch, inspect and generate data sets in the telemanom layout.", no_args_is_help=True)

BASE_URL_ENV = "STREAMPROC_DATASETS_URL"


@app.command("fetch")
def fetch(
    dataset: str = typer.Argument(..., help="smap or msl"),
    to: Path = typer.Option(..., "--to", help="Directory to create (train/, test/, labeled_anomalies.csv)."),
    base_url: str = typer.Option(
        None,
        "--base-url",
        envvar=BASE_URL_ENV,
        help="Fetch data.zip and labeled_anomalies.csv from this URL instead of upstream.",
    ),
    archive_sha256: str = typer.Option(None, "--archive-sha256", help="Expected SHA-256 of data.zip."),
    labels_sha256: str = typer.Option(None, "--labels-sha256", help="Expected SHA-256 of labeled_anomalies.csv."),
    require_checksums: bool = typer.Option(
        False, "--require-checksums", help="Fail instead of warning when a file has no known SHA-256."
    ),
    force: bool = typer.Option(False, "--force", help="Replace a data set already at --to."),
    timeout: float = typer.Option(60.0, "--timeout", help="Network timeout in seconds."),
) -> None:
    """Download the public telemanom data, verify it, and unpack one spacecraft's channels."""
    result = fetch_telemanom(
        dataset,
        to,
        base_url=base_url,
        checksums={k: v for k, v in (("archive", archive_sha256), ("labels", labels_sha256)) if v},
        require_checksums=require_checksums,
        force=force,
        timeout=timeout,
        log=lambda message: typer.echo(message, err=True),
    )
    typer.echo(f"{result.spacecraft}: {len(result.channels)} channels in {result.directory}")


@app.command("info")
def info(
    directory: Path = typer.Argument(..., help="A telemanom directory."),
    spacecraft: str = typer.Option(None, "--spacecraft", help="Only this spacecraft's channels (e.g. SMAP)."),
    duplicates: str = typer.Option(
        "merge", "--duplicates", help="Channels listed more than once: merge their spans, or drop them."
    ),
) -> None:
    """Per channel: train/test lengths, features, labelled spans and their share; then totals."""
    # load_telemanom rejects any other value.
    dataset = load_telemanom(directory, spacecraft=spacecraft, duplicates=cast(Literal["merge", "drop"], duplicates))
    summaries = [dataset.summary(name) for name in dataset.channels]
    rows = [("CHANNEL", "TRAIN", "TEST", "FEATURES", "SEGMENTS", "ANOMALOUS", "SPANS")]
    for s in summaries:
        spans = " ".join(f"{a}-{b}" for a, b in s.segments) or "-"
        rows.append(
            (
                s.name,
                str(s.train_steps),
                str(s.test_steps),
                str(s.n_features),
                str(len(s.segments)),
                f"{100 * s.anomalous_steps / s.test_steps:.2f}%",
                spans,
            )
        )
    echo_columns(rows)
    test_steps = sum(s.test_steps for s in summaries)
    anomalous = sum(s.anomalous_steps for s in summaries)
    typer.echo(
        f"total: {len(summaries)} channels, {sum(s.train_steps for s in summaries)} train steps, "
        f"{test_steps} test steps, {sum(len(s.segments) for s in summaries)} segments, "
        f"{anomalous} anomalous test steps ({100 * anomalous / max(test_steps, 1):.2f}%)"
    )
    for s in summaries:
        if s.label_rows > 1:
            typer.echo(f"note: {s.name} is listed {s.label_rows} times in the labels; spans merged")
    if dataset.dropped:
        typer.echo(f"note: dropped channels listed more than once: {', '.join(dataset.dropped)}")
    if dataset.unlabelled:
        typer.echo(f"note: arrays without labels, ignored: {', '.join(dataset.unlabelled)}")
    _echo_fetch_record(Path(directory) / FETCH_RECORD)


def _echo_fetch_record(path: Path) -> None:
    if not path.is_file():
        return
    try:
        record = json.loads(path.read_text())
        for entry in record["files"]:
            state = "verified" if entry["verified"] else "NOT verified"
            typer.echo(f"source: {entry['url']} sha256 {entry['sha256']} ({state})")
    except (OSError, ValueError, KeyError, TypeError):
        typer.echo(f"note: {path} is unreadable; provenance unknown")


@app.command("synth")
def synth(
    to: Path = typer.Option(..., "--to", help="Directory to write (telemanom layout)."),
    channels: int = typer.Option(3, "--channels", help="Number of channels."),
    features: int = typer.Option(8, "--features", help="Features per channel."),
    train_steps: int = typer.Option(5000, "--train-steps"),
    test_steps: int = typer.Option(3000, "--test-steps"),
    anomaly_ratio: float = typer.Option(0.05, "--anomaly-ratio", help="Share of test steps inside planted anomalies."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Write a seeded synthetic industrial data set with planted, labelled anomalies."""
    config = SyntheticConfig(
        n_features=features, train_steps=train_steps, test_steps=test_steps, anomaly_ratio=anomaly_ratio, seed=seed
    )
    data = generate_synthetic_channels(config, channels)
    write_telemanom(to, data)
    events = sum(len(d.events) for d in data.values())
    typer.echo(f"wrote {len(data)} channels with {events} planted anomalies to {to}")
