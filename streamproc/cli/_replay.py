from __future__ import annotations

from pathlib import Path

import typer

from streamproc.metrics import DEFAULT_MAX_BUFFER
from streamproc.errors import StreamprocError
from streamproc.replay import REPORT_FILE, ReplaySettings, replay as run_replay

from ._shared import comma_list, headline_line


def replay(
    data: Path = typer.Option(..., "--data", help="A telemanom directory whose test streams are replayed."),
    models: Path = typer.Option(None, "--models", help="Models directory written by `streamproc train`."),
    detectors: str = typer.Option(None, "--detectors", help="Comma-separated detector names."),
    out: Path = typer.Option(None, "--out", help="Output directory: scores/, metrics.json, report.md, plots/."),
    channels: str = typer.Option(None, "--channels", help="Comma-separated channels (default: all in --data)."),
    adaptation: str = typer.Option(None, "--adaptation",
                                   help="Override the stored threshold adaptation: none, spot or dspot."),
    risk: float = typer.Option(None, "--risk", help="Override the stored POT risk q (recalibrated on the "
                                                     "model's calibration scores)."),
    batch_size: int = typer.Option(1024, "--batch-size", help="Windows scored per call."),
    vus_max_buffer: int = typer.Option(DEFAULT_MAX_BUFFER, "--vus-max-buffer",
                                       help="Largest VUS buffer length (lengths 0..L, step 1)."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write OUT/plots/<detector>/<channel>.png."),
    to_kafka: bool = typer.Option(False, "--to-kafka", help="Instead, produce the test streams onto the readings "
                                                            "topic of KAFKA_BOOTSTRAP's cluster."),
    rate: float = typer.Option(None, "--rate", min=1.0, help="With --to-kafka: readings per second over all "
                                                             "channels (default: as fast as possible)."),
    per_message: int = typer.Option(1, "--per-message", min=1, help="With --to-kafka: samples of a channel per "
                                                                     "message; above 1 they are sent as "
                                                                     "SensorReadingBatch records."),
) -> None:
    """Replay test streams through trained models; write scores, metrics, a report and plots.

    With --to-kafka, produce them onto the readings topic instead, for a running worker.
    """
    if to_kafka:
        from streamproc.config import Settings
        from streamproc.stream import replay_to_kafka

        replay_to_kafka(Settings.load(), data, rate=rate, log=lambda message: typer.echo(message, err=True),
                        channels=comma_list(channels) or None, per_message=per_message)
        return
    missing = [flag for flag, value in (("--models", models), ("--detectors", detectors), ("--out", out))
               if value is None]
    if missing:
        raise StreamprocError(f"missing option(s) {', '.join(missing)} (required unless --to-kafka)")
    settings = ReplaySettings(batch_size=batch_size, adaptation=adaptation, risk=risk,
                              vus_max_buffer=vus_max_buffer, plots=plots)
    metrics = run_replay(data, models, comma_list(detectors), out, channels=comma_list(channels), settings=settings,
                         log=lambda message: typer.echo(message, err=True))
    for name, result in metrics["detectors"].items():
        typer.echo(headline_line(f"{name} (sanity)" if result["sanity"] else name, result["micro"]))
    typer.echo(f"report: {Path(out) / REPORT_FILE}")
