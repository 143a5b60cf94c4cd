"""``streamproc models``: the versions of stored models and which one is live or in the shadow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from streamproc.detection import ArtifactError
from streamproc.errors import StreamprocError
from streamproc.training import ModelStore, Pointers, VersionInfo

from ._shared import comma_list, echo_columns

app = typer.Typer(
    help="Model versions: list, show, promote, shadow, rollback, retire (workers pick up the change), "
    "and compare a shadow with the live version on the scores topic.",
    no_args_is_help=True,
)

_MODELS = typer.Option(Path("models"), "--models", help="Models directory (detectors.models_dir).")
_DETECTOR = typer.Argument(..., help="Detector name.")
_CHANNEL = typer.Argument(..., help="Channel name.")


@app.command("list")
def list_models(
    models: Path = _MODELS,
    detector: str | None = typer.Option(None, "--detector", help="Only this detector."),
) -> None:
    """Every detector and channel with its live and shadow versions and how many are kept."""
    if not models.is_dir():
        raise StreamprocError(f"--models {models}: not a directory")
    store = ModelStore(models)
    rows: list[tuple[str, ...]] = [("DETECTOR", "CHANNEL", "LIVE", "SHADOW", "VERSIONS", "PREVIOUS")]
    for name in [detector] if detector else store.detectors():
        for channel in store.stored_channels(name):
            try:
                pointers = store.pointers(name, channel)
                kept = len(store.versions(name, channel))
            except ArtifactError as exc:  # one broken channel does not hide the others
                rows.append((name, channel, "?", "?", "?", str(exc)))
                continue
            if not kept:
                continue
            previous = ",".join(str(n) for n in pointers.history) or "-"
            rows.append((name, channel, _number(pointers.live), _number(pointers.shadow), str(kept), previous))
    if len(rows) == 1:
        typer.echo(f"no models under {models}")
        return
    echo_columns(rows)


@app.command("show")
def show(detector: str = _DETECTOR, channel: str = _CHANNEL, models: Path = _MODELS) -> None:
    """The stored versions of one channel's model: when and by whom, on what data, how calibrated."""
    store = ModelStore(models)
    versions = store.versions(detector, channel)
    if not versions:
        raise ArtifactError(f"no {detector!r} model for channel {channel!r} under {models}")
    rows: list[tuple[str, ...]] = [
        ("VERSION", "STATE", "CREATED", "BY", "MODEL ID", "WINDOW", "THRESHOLD", "VAL LOSS", "DATA")
    ]
    rows += [_version_row(info) for info in versions]
    echo_columns(rows)
    pointers = store.pointers(detector, channel)
    if pointers.history:
        typer.echo(f"rollback returns to version {pointers.history[-1]}")


@app.command("promote")
def promote(
    detector: str = _DETECTOR,
    channel: str = _CHANNEL,
    version: int = typer.Argument(..., help="Version to make live."),
    models: Path = _MODELS,
) -> None:
    """Make a version live (it must load; the live one becomes what rollback returns to)."""
    _said(detector, channel, ModelStore(models).promote(detector, channel, version))


@app.command("shadow")
def shadow(
    detector: str = _DETECTOR,
    channel: str = _CHANNEL,
    version: str = typer.Argument(..., help="Version to score in the shadow of the live one, or 'none'."),
    models: Path = _MODELS,
) -> None:
    """Score a version beside the live one (its scores flagged as shadow, never fused into alerts)."""
    if version.lower() == "none":
        number = None
    elif version.isdigit():
        number = int(version)
    else:
        raise typer.BadParameter(f"expected a version number or 'none', got {version!r}")
    _said(detector, channel, ModelStore(models).set_shadow(detector, channel, number))


@app.command("rollback")
def rollback(detector: str = _DETECTOR, channel: str = _CHANNEL, models: Path = _MODELS) -> None:
    """Make the version that was live before the current one live again."""
    _said(detector, channel, ModelStore(models).rollback(detector, channel))


@app.command("retire")
def retire(
    detector: str = _DETECTOR,
    channel: str = _CHANNEL,
    version: int = typer.Argument(..., help="Version to delete (never the live one)."),
    models: Path = _MODELS,
) -> None:
    """Delete a version for good; it leaves the rollback history and the shadow."""
    _said(detector, channel, ModelStore(models).retire(detector, channel, version))


@app.command("compare")
def compare(
    detector: str = _DETECTOR,
    channels: str | None = typer.Option(None, "--channels", help="Comma-separated channels (default: all)."),
    since: str | None = typer.Option(
        None, "--since", help="Windows ending at or after this time (ISO 8601, ms, or a span back: 2d)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Windows ending before this time (ISO 8601, ms, or a span back: 1h)."
    ),
    quiet_s: float = typer.Option(
        3.0, "--quiet", min=0.1, help="Stop reading once the scores topic has been silent this long (seconds)."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML config file (default: $STREAMPROC_CONFIG)."),
) -> None:
    """Live against shadow on the scores topic: per channel, the windows both versions scored,
    their score correlation, threshold crossings and the alerts each alone would have opened
    (the configured fusion.open_after / resolve_after)."""
    from streamproc.config import Settings
    from streamproc.datasets import parse_time
    from streamproc.stream import TopicReader
    from streamproc.training import compare_shadow

    settings = Settings.load(config)
    wanted = set(comma_list(channels)) if channels else None
    low = parse_time("--since", since) if since is not None else None
    high = parse_time("--until", until) if until is not None else None
    records = []
    with TopicReader(settings.kafka.confluent_config(), [settings.topics.scores]) as reader:
        while batch := list(reader.poll(quiet_s)):
            for item in batch:
                record = item.record
                if item.schema != "AnomalyScore" or (wanted is not None and record["channel"] not in wanted):
                    continue
                if (low is not None and record["window_end"] < low) or (
                    high is not None and record["window_end"] >= high
                ):
                    continue
                records.append(record)
    fusion = settings.fusion
    found = compare_shadow(records, detector, open_after=fusion.open_after, resolve_after=fusion.resolve_after)
    if not found:
        typer.echo(f"no window of {detector!r} scored by both a live and a shadow version on {settings.topics.scores}")
        return
    rows: list[tuple[str, ...]] = [
        ("CHANNEL", "LIVE", "SHADOW", "WINDOWS", "CORRELATION", "ANOMALOUS LIVE/SHADOW", "AGREE", "ALERTS LIVE/SHADOW")
    ]
    for c in found:
        correlation = "-" if c.correlation is None else f"{c.correlation:.3f}"
        rows.append(
            (
                c.channel,
                ",".join(c.live_versions),
                ",".join(c.shadow_versions),
                str(c.windows),
                correlation,
                f"{c.live_anomalous}/{c.shadow_anomalous}",
                f"{c.agreement:.1%}",
                f"{c.live_alerts}/{c.shadow_alerts}",
            )
        )
    echo_columns(rows)


def _said(detector: str, channel: str, pointers: Pointers) -> None:
    typer.echo(f"{detector} {channel}: live {_number(pointers.live)}, shadow {_number(pointers.shadow)}")


def _number(version: int | None) -> str:
    return "-" if version is None else str(version)


def _version_row(info: VersionInfo) -> tuple[str, ...]:
    meta: dict[str, Any] = dict(info.metadata)
    training = meta.get("training", {})
    fit = training.get("fit_report", {})
    threshold = meta.get("threshold", {})
    value = threshold.get("threshold") if isinstance(threshold, dict) else None
    loss = fit.get("validation_loss")
    fingerprint = training.get("data_fingerprint", {})
    data = fingerprint.get("sha256", "")[:12] if isinstance(fingerprint, dict) else ""
    return (
        str(info.version),
        info.state or "-",
        info.created_at or training.get("trained_at", "-"),
        info.created_by or "-",
        str(meta.get("version", "-")),
        str(meta.get("config", {}).get("window", "-")),
        "-" if value is None else f"{value:.4g}",
        "-" if loss is None else f"{loss:.4g}",
        data or "-",
    )
