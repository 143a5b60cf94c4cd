"""The streaming commands: ``run`` (a worker), ``demo``, ``alerts tail`` and ``alerts feedback``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Optional

import typer

from streamproc.config import Settings
from streamproc.errors import StreamprocError


class Role(StrEnum):
    """What a worker runs (``--role``): help lists the choices and click refuses others."""

    ALL = "all"
    WINDOW = "window"
    DETECT = "detect"
    FUSE = "fuse"


class LogLevel(StrEnum):
    CRIT = "crit"
    ERROR = "error"
    WARN = "warn"
    INFO = "info"
    DEBUG = "debug"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class VerdictChoice(StrEnum):
    TRUE_POSITIVE = "true-positive"
    FALSE_POSITIVE = "false-positive"
    UNSURE = "unsure"


def run(
    role: Role = typer.Option(Role.ALL, "--role", help="all: the whole pipeline in one process; or one of its stages."),
    detector: Optional[list[str]] = typer.Option(
        None, "--detector", help="Run only this detector (repeatable; default: detectors.enabled)."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="TOML config file (default: $STREAMPROC_CONFIG)."
    ),
    models: Optional[Path] = typer.Option(None, "--models", help="Models directory (detectors.models_dir)."),
    app_id: str = typer.Option(
        "streamproc", "--app-id", help="Consumer group and prefix of the worker's internal topics."
    ),
    web_port: Optional[int] = typer.Option(
        None, "--web-port", min=1, max=65535, help="Port of /metrics, /healthz and /readyz (worker.web_port)."
    ),
    embedded_broker: bool = typer.Option(
        False,
        "--embedded-broker",
        help="KAFKA_BOOTSTRAP is streamproc's embedded broker: apply its client workarounds.",
    ),
    log_level: LogLevel = typer.Option(LogLevel.WARN, "--log-level", help="How much the worker logs."),
    log_format: Optional[LogFormat] = typer.Option(
        None, "--log-format", help="json: one object per line, for log shippers (worker.log_format)."
    ),
) -> None:
    """Run a pipeline worker until Ctrl-C or SIGTERM.

    Without a configured cluster (KAFKA_BOOTSTRAP, kafka.bootstrap), an embedded broker is
    started for the worker and its address printed.
    """
    from streamproc.stream import WorkerOptions, run_worker

    settings = Settings.load(
        config,
        overrides={
            "detectors.models_dir": str(models) if models else None,
            "worker.web_port": web_port,
            "worker.log_format": log_format.value if log_format else None,
        },
    )
    options = WorkerOptions(
        role=role.value, detectors=tuple(detector) if detector else None, app_id=app_id, embedded_broker=embedded_broker
    )
    run_worker(settings, options, loglevel=log_level.value)


def demo(
    data: Optional[Path] = typer.Option(
        None, "--data", help="A telemanom directory (e.g. SMAP) to stream instead of synthetic data."
    ),
    channels: Optional[str] = typer.Option(
        None,
        "--channels",
        help="Comma-separated channels of --data (default: all), or how many synthetic "
        "channels to generate (default: 4).",
    ),
    rate: float = typer.Option(500.0, "--rate", min=1.0, help="Readings per second, over all channels."),
    duration: Optional[float] = typer.Option(
        None, "--duration", min=1.0, help="Stop after this many seconds (default: when every window is scored)."
    ),
    detector: Optional[list[str]] = typer.Option(
        None, "--detector", help="Detector to train (if needed) and run (repeatable; default: detectors.enabled)."
    ),
    models: Optional[Path] = typer.Option(
        None, "--models", help="Models directory (default: a cache folder under ~/.cache/streamproc/demo)."
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="TOML config file (default: $STREAMPROC_CONFIG)."
    ),
) -> None:
    """Stream data with planted anomalies through a worker and print alerts as they open and resolve.

    Starts the embedded broker (or uses KAFKA_BOOTSTRAP), trains a model per channel on the
    first run, runs a worker, and ends by itself once every window is scored (Ctrl-C stops it
    earlier).
    """
    from streamproc.errors import StreamprocError
    from streamproc.stream import DemoOptions, run_demo

    names: tuple[str, ...] | None = None
    count = 4
    if channels:
        if data is None:
            if not channels.isdigit() or int(channels) < 1:
                raise StreamprocError(
                    f"--channels: without --data, give a number of synthetic channels, not {channels!r}"
                )
            count = int(channels)
        else:
            names = tuple(c.strip() for c in channels.split(",") if c.strip())
    settings = Settings.load(config)
    run_demo(
        settings,
        DemoOptions(
            data=data,
            channels=names,
            synthetic_channels=count,
            rate=rate,
            duration=duration,
            detectors=tuple(detector) if detector else None,
            models_dir=models,
        ),
        typer.echo,
    )


alerts_app = typer.Typer(help="The alerts topic.", no_args_is_help=True)


@alerts_app.command("tail")
def tail(
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="TOML config file (default: $STREAMPROC_CONFIG)."
    ),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Start with the oldest alert kept."),
    channel: Optional[str] = typer.Option(None, "--channel", help="Only this channel's alerts."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per line."),
    follow: bool = typer.Option(
        True, "--follow/--no-follow", help="Keep waiting for alerts (default), or stop once none arrive for 2s."
    ),
) -> None:
    """Print alerts as they are published (KAFKA_BOOTSTRAP or kafka.bootstrap must point at the cluster)."""
    from streamproc.stream import TopicReader, tail_alerts

    settings = Settings.load(config)
    with TopicReader(
        settings.kafka.confluent_config(), [settings.topics.alerts], from_beginning=from_beginning
    ) as reader:
        tail_alerts(reader, typer.echo, channel=channel, as_json=as_json, follow=follow)


@alerts_app.command("forward")
def forward(
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="TOML config file (default: $STREAMPROC_CONFIG)."
    ),
) -> None:
    """Forward alerts to Alertmanager and/or a signed webhook (the [forward] settings), at least once;
    deliveries that keep failing go to the dead-letter topic. Serves /metrics and /healthz on
    forward.metrics_port. Stops on Ctrl-C or SIGTERM."""
    import logging.config
    import signal
    import threading

    from streamproc.forward import run_forwarder
    from streamproc.observability import json_logging_config

    settings = Settings.load(config)
    if settings.worker.log_format == "json":
        logging.config.dictConfig(json_logging_config("info"))
    else:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not settings.kafka.bootstrap:
        raise StreamprocError("alerts forward: no cluster configured; set KAFKA_BOOTSTRAP or kafka.bootstrap")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sinks = [
        name
        for name, url in (
            ("Alertmanager", settings.forward.alertmanager_url),
            ("webhook", settings.forward.webhook_url),
        )
        if url is not None
    ]
    if sinks:  # without any, the forwarder refuses to start and says why
        typer.echo(
            f"forwarding {settings.topics.alerts!r} to {' and '.join(sinks)} "
            f"(group {settings.forward.group_id}, metrics on :{settings.forward.metrics_port})",
            err=True,
        )
    try:
        run_forwarder(settings, stop=stop)
    except KeyboardInterrupt:
        stop.set()


@alerts_app.command("feedback")
def feedback(
    alert_id: str = typer.Argument(..., help="The alert's full id (alerts tail --json shows it)."),
    verdict: VerdictChoice = typer.Option(..., "--verdict", case_sensitive=False, help="The operator's judgement."),
    author: Optional[str] = typer.Option(None, "--author", help="Who judges (default: the user name)."),
    note: Optional[str] = typer.Option(None, "--note", help="A free-text remark."),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="TOML config file (default: $STREAMPROC_CONFIG)."
    ),
) -> None:
    """Send a verdict on an alert to the feedback topic; the worker owning the alert's channel tunes
    that channel's detector thresholds with it (a false positive raises those that fired)."""
    import getpass

    from streamproc.stream import send_verdict

    record = send_verdict(Settings.load(config), alert_id, verdict.value, author=author or getpass.getuser(), note=note)
    typer.echo(f"sent {record['verdict']} on alert {record['alert_id']}", err=True)
