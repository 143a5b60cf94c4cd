from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import typer

from streamproc.config import Settings
from streamproc.datasets import ChannelData, HistoryDataset, TableDataset, TableOptions, TelemanomDataset, open_dataset
from streamproc.detection import DetectorRegistry, ProgressCallback
from streamproc.errors import StreamprocError
from streamproc.pipeline import missing_policy
from streamproc.thresholds import ThresholdConfig
from streamproc.training import (
    ModelStore,
    TrainingOptions,
    data_fingerprint,
    resolve_config,
    resolve_spec,
    train_channel,
)

from ._shared import comma_list, make_deterministic, parse_settings, with_table_options


def covariate_indices(channel: ChannelData, choice: str) -> tuple[int, ...]:
    """``--covariates``: ``auto`` (the data set's roles), ``none``, or feature names."""
    if choice == "auto":
        return channel.covariates
    if choice == "none":
        return ()
    return channel.feature_indices(comma_list(choice))


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class _PlainProgress:
    """One line per epoch and per channel on stderr, for logs and pipes."""

    def __init__(self, total: int) -> None:
        self.total = total

    def __enter__(self) -> _PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def epoch(self, channel: str, step: int, steps: int, values: Mapping[str, float]) -> None:
        losses = " ".join(f"{k} {v:.4g}" for k, v in values.items())
        typer.echo(f"  {channel} {step}/{steps} {losses}", err=True)

    def channel_done(self, index: int, line: str, eta: float | None) -> None:
        suffix = f" (ETA {_duration(eta)})" if eta is not None else ""
        typer.echo(f"[{index}/{self.total}] {line}{suffix}", err=True)


class _RichProgress(_PlainProgress):
    """A live bar over channels and one over the current channel's steps, with losses and ETA."""

    def __init__(self, total: int) -> None:
        super().__init__(total)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[losses]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._channels = self._progress.add_task("channels", total=total, losses="")
        self._steps = self._progress.add_task("", total=1, losses="", visible=False)

    def __enter__(self) -> _RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def epoch(self, channel: str, step: int, steps: int, values: Mapping[str, float]) -> None:
        losses = " ".join(f"{k} {v:.4g}" for k, v in values.items())
        self._progress.update(
            self._steps, description=channel, completed=step, total=steps, losses=losses, visible=True
        )

    def channel_done(self, index: int, line: str, eta: float | None) -> None:
        self._progress.console.print(f"[{index}/{self.total}] {line}", markup=False, highlight=False)
        self._progress.update(self._channels, completed=index)


@with_table_options
def train(
    detector: str = typer.Option(..., "--detector", help="Detector name (see `streamproc plugins list`)."),
    data: Path = typer.Option(
        None,
        "--data",
        help="A telemanom directory (train/, test/, labeled_anomalies.csv), "
        "or CSV/Parquet files (a file or a folder; one channel per file).",
    ),
    from_topic: str = typer.Option(
        None,
        "--from-topic",
        help="Instead of --data: train on the readings already on this topic of KAFKA_BOOTSTRAP's "
        "cluster (all of each channel's history in the time range is training data).",
    ),
    since: str = typer.Option(
        None,
        "--since",
        help="With --from-topic: readings taken at or after this time (ISO 8601, epoch ms, or a span back "
        "from now: 12h, 7d).",
    ),
    until: str = typer.Option(
        None, "--until", help="With --from-topic: readings taken before this time (ISO 8601, epoch ms, or a span: 1h)."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Models directory; each model is a new version in OUT/<detector>/<channel>/versions/."
    ),
    channels: str = typer.Option(
        None, "--channels", help="Comma-separated channels or patterns such as valve1-* (default: all)."
    ),
    settings: list[str] = typer.Option([], "--set", help="Detector config override key=value (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Retrain channels whose model is up to date."),
    shadow: bool = typer.Option(
        False,
        "--shadow",
        help="Store each new model as the shadow of the live one (scored beside it, never fused into "
        "alerts; `streamproc models promote` makes it live) instead of making it live; a channel's "
        "first model is live all the same.",
    ),
    validation_fraction: float = typer.Option(
        0.2,
        "--validation-fraction",
        help="Share of each channel's training data held out for early stopping and threshold calibration.",
    ),
    risk: float = typer.Option(ThresholdConfig.risk, "--risk", help="POT risk q: target exceedance probability."),
    level: float = typer.Option(ThresholdConfig.level, "--level", help="POT initial quantile."),
    adaptation: str = typer.Option(
        ThresholdConfig.adaptation,
        "--adaptation",
        help="Online threshold adaptation stored in the model: none, spot or dspot.",
    ),
    depth: int = typer.Option(ThresholdConfig.depth, "--depth", help="DSPOT moving-average depth."),
    covariates: str = typer.Option(
        "auto",
        "--covariates",
        help="Features that are inputs only, never scored or blamed: auto (what the "
        "data set declares, e.g. the telemanom layout's command columns), none, "
        "or comma-separated feature names.",
    ),
    config_file: Path = typer.Option(
        None,
        "--config",
        "-c",
        help="The worker's TOML config file (default: $STREAMPROC_CONFIG): its window.missing_* settings "
        "fill missing training values as the worker fills windows.",
    ),
    table: TableOptions | None = None,
) -> None:
    """Train one model per channel, with a label-free POT threshold; up-to-date models are skipped."""
    worker_settings = Settings.load(config_file)
    missing = missing_policy(worker_settings)
    registry = DetectorRegistry()
    spec = resolve_spec(detector, registry)
    config = resolve_config(spec, parse_settings(settings))
    options = TrainingOptions(
        validation_fraction=validation_fraction,
        threshold=ThresholdConfig(risk=risk, level=level, adaptation=adaptation, depth=depth),
    )
    dataset = _training_data(worker_settings, data, table, from_topic, since, until)
    for line in getattr(dataset, "detected", ()):
        # Without --data, the data set is the history of --from-topic.
        typer.echo(f"{data or cast(HistoryDataset, dataset).source}: {line}", err=True)
    selected = dataset.select(comma_list(channels))
    store = ModelStore(out, registry)
    make_deterministic()

    started = time.perf_counter()
    trained = skipped = 0
    spent_training = 0.0
    progress = _RichProgress(len(selected)) if sys.stderr.isatty() else _PlainProgress(len(selected))
    try:
        with progress:
            for index, name in enumerate(selected, start=1):
                channel = dataset.channel(name)
                inputs = covariate_indices(channel, covariates)
                reused = (
                    None
                    if force
                    else store.reuse(
                        spec.name,
                        name,
                        config=config,
                        options=options.to_json(),
                        fingerprint=data_fingerprint(channel.train),
                        covariates=inputs,
                        role="shadow" if shadow else "live",
                    )
                )
                if reused is not None:
                    skipped += 1
                    recalibrated = " (threshold recalibrated)" if reused.recalibrated else ""
                    progress.channel_done(index, f"{name}: up to date{recalibrated}, skipped", None)
                    continue
                began = time.perf_counter()
                model = train_channel(
                    spec,
                    name,
                    channel.train,
                    config=config,
                    options=options,
                    feature_names=channel.feature_names,
                    covariates=inputs,
                    timestamps=channel.train_timestamps,
                    missing=missing,
                    registry=registry,
                    # cast: mypy cannot type a lambda with an extra defaulted parameter (_n: this channel's name).
                    progress=cast(
                        ProgressCallback, lambda step, steps, values, _n=name: progress.epoch(_n, step, steps, values)
                    ),
                )
                store.save(model, role="shadow" if shadow else "live")
                trained += 1
                spent_training += time.perf_counter() - began
                remaining = len(selected) - index
                eta = spent_training / trained * remaining if remaining else None
                report = model.metadata["training"]
                fit = report["fit_report"]
                loss = "" if fit.get("final_loss") is None else f", loss {fit['final_loss']:.4g}"
                if fit.get("validation_loss") is not None:
                    loss += f", val_loss {fit['validation_loss']:.4g}"
                state = model.threshold_state
                note = f" ({state.note})" if state.note else ""
                flat = report["flat_features"]
                if flat:
                    note += (
                        f"; {len(flat)} scored feature(s) did not vary in training ({_first_names(flat)}): "
                        f"any movement of them will score as anomalous; "
                        f"train on a period in which they vary, or declare them covariates"
                    )
                for phrase, features in report.get("feature_notes", {}).items():
                    note += f"; {len(features)} feature(s) {phrase} ({_first_names(features)})"
                progress.channel_done(
                    index,
                    f"{name}: {report['seconds']:.1f}s{loss}, threshold {model.threshold:.4g} "
                    f"[{state.method}, {report['calibration']['source']}]{note}",
                    eta,
                )
    except KeyboardInterrupt:
        # Each model is saved as soon as it is trained: say what is kept, then stop as interrupted.
        typer.echo(
            f"{spec.name}: interrupted; {trained} channel(s) trained and saved in {store.root / spec.name}, "
            f"{skipped} already up to date, {len(selected) - trained - skipped} left (running the same "
            f"command again, without --force, skips the saved ones)",
            err=True,
        )
        raise
    typer.echo(
        f"{spec.name}: trained {trained}, skipped {skipped} of {len(selected)} channel(s) "
        f"in {_duration(time.perf_counter() - started)} -> {store.root / spec.name}"
    )


def _training_data(
    settings: Settings,
    data: Path | None,
    table: TableOptions | None,
    topic: str | None,
    since: str | None,
    until: str | None,
) -> TelemanomDataset | TableDataset | HistoryDataset:
    """The data set ``train`` reads: ``--data``, or the history of ``--from-topic``."""
    if (data is None) == (topic is None):
        raise StreamprocError("give --data or --from-topic (one of them)")
    if topic is None:
        if since is not None or until is not None:
            raise StreamprocError("--since and --until go with --from-topic")
        assert data is not None  # exactly one of data and topic is given
        return open_dataset(data, table)
    if table is not None:
        raise StreamprocError("the CSV/Parquet options go with --data, not --from-topic")
    from streamproc.datasets import parse_time
    from streamproc.stream import read_history

    return read_history(
        settings.kafka.confluent_config(),
        topic,
        since_ms=parse_time("--since", since) if since is not None else None,
        until_ms=parse_time("--until", until) if until is not None else None,
    )


def _first_names(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")
