"""``streamproc run``: one worker of the streaming pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from streamproc.config import Settings

LOG_LEVELS = ("crit", "error", "warn", "info", "debug")


def run(
    role: str = typer.Option("all", "--role", help="all (the whole pipeline), window, detect or fuse."),
    detector: Optional[list[str]] = typer.Option(
        None, "--detector", help="Run only this detector (repeatable; default: detectors.enabled)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML config file (default: $STREAMPROC_CONFIG)."),
    models: Optional[Path] = typer.Option(None, "--models", help="Models directory (detectors.models_dir)."),
    app_id: str = typer.Option("streamproc", "--app-id",
                               help="Consumer group and prefix of the worker's internal topics."),
    web_port: Optional[int] = typer.Option(None, "--web-port", min=1, max=65535,
                                           help="Port of /metrics, /healthz and /readyz (worker.web_port)."),
    embedded_broker: bool = typer.Option(
        False, "--embedded-broker",
        help="KAFKA_BOOTSTRAP is streamproc's embedded broker: apply its client workarounds."),
    log_level: str = typer.Option("warn", "--log-level", help=f"One of {', '.join(LOG_LEVELS)}."),
) -> None:
    """Run a pipeline worker until Ctrl-C or SIGTERM.

    Without a configured cluster (KAFKA_BOOTSTRAP, kafka.bootstrap), an embedded broker is
    started for the worker and its address printed.
    """
    from streamproc.errors import StreamprocError
    from streamproc.stream import WorkerOptions, run_worker

    if log_level not in LOG_LEVELS:
        raise StreamprocError(f"--log-level: {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    settings = Settings.load(config, overrides={"detectors.models_dir": str(models) if models else None,
                                                "worker.web_port": web_port})
    options = WorkerOptions(role=role, detectors=tuple(detector) if detector else None, app_id=app_id,
                            embedded_broker=embedded_broker)
    run_worker(settings, options, loglevel=log_level)
