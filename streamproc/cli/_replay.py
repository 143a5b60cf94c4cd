from __future__ import annotations

from pathlib import Path

import typer

from streamproc.metrics import DEFAULT_MAX_BUFFER
from streamproc.replay import ReplaySettings, replay as run_replay


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
) -> None:
    """Replay test streams through trained models; write scores, metrics, a report and plots.

    With --to-kafka, produce them onto the readings topic instead, for a running worker.
    """
    if to_kafka:
        from streamproc.config import Settings
        from streamproc.stream import replay_to_kafka

        replay_to_kafka(Settings.load(), data, rate=rate, log=lambda message: typer.echo(message, err=True),
                        channels=[c.strip() for c in channels.split(",") if c.strip()] if channels else None)
        return
    missing = [flag for flag, value in (("--models", models), ("--detectors", detectors), ("--out", out))
               if value is None]
    if missing:
        from streamproc.errors import StreamprocError

        raise StreamprocError(f"missing option(s) {', '.join(missing)} (required unless --to-kafka)")
    settings = ReplaySettings(batch_size=batch_size, adaptation=adaptation, risk=risk,
                              vus_max_buffer=vus_max_buffer, plots=plots)
    names = [c.strip() for c in channels.split(",") if c.strip()] if channels else None
    metrics = run_replay(data, models, detectors.split(","), out, channels=names, settings=settings,
                         log=lambda message: typer.echo(message, err=True))
    for name, result in metrics["detectors"].items():
        micro = result["micro"]
        label = f"{name} (sanity)" if result["sanity"] else name
        vus = "n/a" if micro["vus_pr"] is None else f"{micro['vus_pr']:.3f}"
        typer.echo(f"{label}: PA-F1 {micro['point_adjusted']['f1']:.3f}  PW-F1 {micro['point_wise']['f1']:.3f}  "
                   f"event-F1 {micro['event_wise']['f1']:.3f}  VUS-PR {vus}  "
                   f"oracle best F1 {micro['oracle_best_f1']['f1']:.3f}")
    typer.echo(f"report: {Path(out) / 'report.md'}")
