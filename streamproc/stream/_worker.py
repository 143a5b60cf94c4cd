"""Running a worker process: the cluster, its topics, and the Faust worker itself."""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from streamproc.config import Settings
from streamproc.errors import StreamprocError
from streamproc.kafka import CLIENT_LOG, EmbeddedBroker, TopicCreationError, create_topics
from streamproc.observability import JsonFormatter, json_logging_config

from ._app import PipelineApp, WorkerOptions

_LOG = logging.getLogger(__name__)


def with_bootstrap(settings: Settings, bootstrap: str) -> Settings:
    """``settings`` pointing at ``bootstrap``."""
    return dataclasses.replace(settings, kafka=dataclasses.replace(settings.kafka, bootstrap=bootstrap))


@contextmanager
def embedded_broker() -> Iterator[EmbeddedBroker]:
    """An embedded broker that Ctrl-C does not reach.

    The terminal sends SIGINT to the whole process group; the broker must outlive the worker's
    clean shutdown (which still talks to it), so it starts with SIGINT blocked (a signal mask
    survives fork and exec, and tansu installs a handler of its own, which would override an
    ignored disposition) and is stopped when the block exits.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        broker = EmbeddedBroker().start()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield broker
    finally:
        broker.stop()


@contextmanager
def worker_cluster(settings: Settings, options: WorkerOptions) -> Iterator[tuple[Settings, WorkerOptions]]:
    """The settings and options to run with: as given for a configured cluster; with the
    address of a freshly started embedded broker (and its workarounds) otherwise."""
    if not settings.uses_embedded_broker:
        settings.kafka.bootstrap_servers()  # ConfigError when unset and the embedded broker is off
        yield settings, options
        return
    with embedded_broker() as broker:
        print(
            f"embedded broker (memory only) at {broker.bootstrap}; point producers at it with "
            f"KAFKA_BOOTSTRAP={broker.bootstrap}",
            file=sys.stderr,
            flush=True,
        )
        yield with_bootstrap(settings, broker.bootstrap), dataclasses.replace(options, embedded_broker=True)


def prepare_topics(settings: Settings, topics: Mapping[str, int]) -> None:
    """Create the topics a role uses, and check that the keyed ones have the partitions its
    tables expect (a table's changelog has as many partitions as its source topic)."""
    config = settings.kafka.confluent_config()
    bootstrap = config.pop("bootstrap.servers")
    try:
        create_topics(bootstrap, topics, replication=settings.topics.replication, client_config=config)
    except TopicCreationError as exc:
        # Clusters often forbid clients to create topics; if they exist, that is fine.
        _LOG.warning("could not create topics (%s); assuming they exist", exc)
    existing = topic_partitions(settings, list(topics))
    for name in (settings.topics.readings, settings.topics.scores):
        found = existing.get(name)
        if found is not None and found != settings.topics.partitions:
            raise StreamprocError(
                f"topics.partitions: topic {name!r} has {found} partitions but "
                f"topics.partitions is {settings.topics.partitions}; set it to {found}"
            )


def topic_partitions(settings: Settings, names: list[str], timeout: float = 10.0) -> dict[str, int]:
    """Partition counts of the ``names`` that exist."""
    from confluent_kafka.admin import AdminClient

    # The ignore: confluent-kafka types AdminClient's config without its documented "logger" entry.
    admin = AdminClient({**settings.kafka.confluent_config(), "logger": CLIENT_LOG})  # type: ignore[dict-item]
    metadata = admin.list_topics(timeout=timeout)
    return {
        name: len(metadata.topics[name].partitions)
        for name in names
        if name in metadata.topics and metadata.topics[name].error is None
    }


def run_worker(settings: Settings, options: WorkerOptions, *, loglevel: str = "warn") -> None:
    """Run one worker in the foreground until SIGINT or SIGTERM (blocking)."""
    import faust

    with worker_cluster(settings, options) as (settings, options):
        pipeline = PipelineApp(settings, options)
        prepare_topics(settings, pipeline.topics())
        started = "worker " + " ".join(f"{k}={v}" for k, v in describe(pipeline).items())
        if settings.worker.log_format == "json":
            started = JsonFormatter().format(
                logging.LogRecord("streamproc.worker", logging.INFO, __file__, 0, started, None, None)
            )
        print(started, file=sys.stderr, flush=True)
        logging_config = json_logging_config(loglevel) if settings.worker.log_format == "json" else None
        worker = faust.Worker(
            pipeline.app, loglevel=loglevel, quiet=True, redirect_stdouts=False, logging_config=logging_config
        )
        try:
            worker.execute_from_commandline()
        finally:
            pipeline.executor.shutdown(wait=False, cancel_futures=True)


def describe(pipeline: PipelineApp) -> dict[str, Any]:
    """What a worker runs, for its start-up line."""
    return {
        "group": pipeline.options.group(),
        "role": pipeline.options.role,
        "detectors": pipeline.catalog.detectors,
        "web_port": pipeline.settings.worker.web_port,
    }
