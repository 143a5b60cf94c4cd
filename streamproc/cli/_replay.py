from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from streamproc.config import Settings
from streamproc.datasets import DEFAULT_START_MS, DEFAULT_STEP_MS, TableOptions, parse_time
from streamproc.errors import StreamprocError
from streamproc.metrics import DEFAULT_MAX_BUFFER
from streamproc.replay import REPORT_FILE, ReplaySettings
from streamproc.replay import replay as run_replay

from ._shared import comma_list, headline_line, parse_settings, with_table_options


@with_table_options
def replay(
    data: Path = typer.Option(
        ..., "--data", help="A telemanom directory, or CSV/Parquet files, whose test streams are replayed."
    ),
    models: Path = typer.Option(
        None, "--models", help="Models directory written by `streamproc train` (default: detectors.models_dir)."
    ),
    detectors: str = typer.Option(
        None, "--detectors", help="Comma-separated detectors, fused as configured (default: detectors.enabled)."
    ),
    out: Path = typer.Option(
        None, "--out", help="Output directory: alerts.jsonl, scores/, metrics.json, report.md, plots/."
    ),
    config: Path = typer.Option(
        None,
        "--config",
        "-c",
        help="The worker's TOML config file (default: $STREAMPROC_CONFIG): stride, fusion, hysteresis, severities.",
    ),
    set_: list[str] = typer.Option([], "--set", help="A config override, e.g. fusion.open_after=5 (repeatable)."),
    channels: str = typer.Option(
        None, "--channels", help="Comma-separated channels or patterns such as valve1-* (default: all in --data)."
    ),
    adaptation: str = typer.Option(
        None, "--adaptation", help="Override the stored threshold adaptation: none, spot or dspot."
    ),
    risk: float = typer.Option(
        None, "--risk", help="Override the stored POT risk q (recalibrated on the model's calibration scores)."
    ),
    early_warning: int = typer.Option(
        0, "--early-warning", min=0, help="Steps before an incident in which an opening alert still catches it."
    ),
    start_time: str = typer.Option(
        None,
        "--start-time",
        help="Time of the first test step, ISO 8601 or epoch ms, for data without "
        "timestamps (default: 2000-01-01T00:00:00Z offline, now with --to-kafka); "
        "the same start gives the same alert ids.",
    ),
    step_ms: int = typer.Option(
        DEFAULT_STEP_MS, "--step-ms", min=1, help="Milliseconds between steps of data without timestamps."
    ),
    batch_size: int = typer.Option(1024, "--batch-size", help="Windows scored per call."),
    vus_max_buffer: int = typer.Option(
        DEFAULT_MAX_BUFFER, "--vus-max-buffer", help="Largest VUS buffer length (lengths 0..L, step 1)."
    ),
    plots: bool = typer.Option(
        True, "--plots/--no-plots", help="Write OUT/plots/<detector or pipeline>/<channel>.png."
    ),
    to_kafka: bool = typer.Option(
        False,
        "--to-kafka",
        help="Instead, produce the test streams onto the readings topic of KAFKA_BOOTSTRAP's cluster.",
    ),
    rate: float = typer.Option(
        None,
        "--rate",
        min=1.0,
        help="With --to-kafka: readings per second over all channels (default: as fast as possible).",
    ),
    per_message: int = typer.Option(
        1,
        "--per-message",
        min=1,
        help="With --to-kafka: samples of a channel per message; above 1 they are sent as SensorReadingBatch records.",
    ),
    table: TableOptions | None = None,
) -> None:
    """Backtest the product on recorded data: the alerts a worker would have raised, scores,
    alert-level and point-level metrics, a report and plots.

    With --to-kafka, produce the same streams (after the same warm-up) onto the readings topic
    instead, for a running worker.
    """
    overrides: dict[str, object] = dict(parse_settings(set_))
    if detectors:
        overrides["detectors.enabled"] = comma_list(detectors)
    if models is not None:
        overrides["detectors.models_dir"] = str(models)
    settings = Settings.load(config, overrides=overrides)
    start_ms = None if start_time is None else parse_time("--start-time", start_time)
    if to_kafka:
        from streamproc.stream import replay_to_kafka

        replay_to_kafka(
            settings,
            data,
            rate=rate,
            log=lambda message: typer.echo(message, err=True),
            channels=comma_list(channels) or None,
            per_message=per_message,
            start_ms=start_ms,
            step_ms=step_ms,
            table=table,
        )
        return
    if out is None:
        raise StreamprocError("missing option --out (required unless --to-kafka)")
    options = ReplaySettings(
        batch_size=batch_size,
        adaptation=adaptation,
        risk=risk,
        vus_max_buffer=vus_max_buffer,
        plots=plots,
        early_warning=early_warning,
        start_ms=DEFAULT_START_MS if start_ms is None else start_ms,
        step_ms=step_ms,
    )
    metrics = run_replay(
        data,
        settings.detectors.models_dir,
        settings.detectors.enabled,
        out,
        channels=comma_list(channels),
        settings=options,
        config=settings,
        table=table,
        log=lambda message: typer.echo(message, err=True),
    )
    pipeline = metrics["pipeline"]
    typer.echo(alert_line(" + ".join(pipeline["detectors"]) + " (alerts)", pipeline["micro"]))
    for name, result in metrics["detectors"].items():
        typer.echo(headline_line(f"{name} (sanity)" if result["sanity"] else name, result["micro"]))
    typer.echo(f"alerts: {Path(out) / pipeline['alerts_file']}")
    typer.echo(f"report: {Path(out) / REPORT_FILE}")


def alert_line(label: str, alerts: dict[str, Any]) -> str:
    delay = alerts["delay_steps"]["median"]
    return (
        f"{label}: {alerts['incidents_caught']}/{alerts['incidents']} incidents caught, "
        f"{alerts['alerts']} alerts ({alerts['false_alerts']} false), precision {alerts['precision']:.3f}, "
        f"alert F1 {alerts['f1']:.3f}, {alerts['false_alerts_per_10k_steps']:.2f} false / 10k steps, "
        f"median delay {'n/a' if delay is None else f'{delay:g}'} steps"
    )
