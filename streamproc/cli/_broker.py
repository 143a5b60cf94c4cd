from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer

from streamproc.config import Settings, TopicSettings
from streamproc.errors import StreamprocError
from streamproc.kafka import BrokerExitedError, EmbeddedBroker, create_topics

app = typer.Typer(help="The embedded Kafka-protocol broker (tansu, memory-only).", no_args_is_help=True)


@app.command("start")
def start(
    port: Optional[int] = typer.Option(
        None, "--port", min=1, max=65535, help="Loopback port to listen on (default: a free one)."
    ),
    topics: str = typer.Option(
        "default",
        "--topics",
        help="Topics to create: 'default' (the pipeline's topics, named and partitioned as "
        "configured), 'none', or comma-separated NAME:PARTITIONS items, 'default' among them.",
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="TOML config file (default: $STREAMPROC_CONFIG)."
    ),
) -> None:
    """Run the embedded broker in the foreground until Ctrl-C; print its bootstrap address."""
    wanted = parse_topics(topics, lambda: Settings.load(config).topics)
    # `kill` and container stops send SIGTERM: take the same clean path as Ctrl-C.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with EmbeddedBroker(port) as broker:
            create_topics(broker.bootstrap, wanted)
            typer.echo(f"bootstrap: {broker.bootstrap}")
            sys.stdout.flush()
            listed = ", ".join(f"{name} ({count})" for name, count in wanted.items()) or "none"
            typer.echo(f"topics (partitions): {listed}", err=True)
            typer.echo("press Ctrl-C to stop", err=True)
            status = broker.wait()
            raise BrokerExitedError(
                f"the embedded broker exited unexpectedly with status {status}; its output:\n{broker.output_tail()}"
            )
    except KeyboardInterrupt:
        typer.echo("broker stopped", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_topics(spec: str, configured: Callable[[], TopicSettings]) -> dict[str, int]:
    """``none``, or comma-separated items each ``default`` or ``NAME:PARTITIONS``.

    ``configured`` supplies the topic settings ``default`` stands for; it is only called when
    ``default`` is asked for, so an explicit list needs no valid configuration.
    """
    text = spec.strip()
    if text == "none":
        return {}
    topics: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if item == "default":
            settings = configured()
            topics.update({name: settings.partitions for name in settings.by_schema().values()})
            continue
        name, sep, count = item.partition(":")
        if not sep or not name or not count.isdigit() or int(count) < 1:
            raise StreamprocError(
                f"--topics: {item!r} is not 'default' or NAME:PARTITIONS "
                "(a positive partition count, e.g. sensors.readings:4)"
            )
        topics[name] = int(count)
    return topics
