"""Fixtures shared by every test area."""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest

from streamproc.kafka import KafkaCluster, create_topics, open_cluster, resolve_bootstrap


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Runs ``streamproc ARGS...`` in-process, through the real entry point (its error handling
    included); returns the exit status, stdout and stderr."""
    from streamproc.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["streamproc", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
            sys.exit(0)
        out, err = capsys.readouterr()
        return exit_info.value.code or 0, out, err

    return run


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[KafkaCluster]:
    """The cluster broker tests run against: ``KAFKA_BOOTSTRAP``'s when it is set (security
    settings from the usual ``STREAMPROC_KAFKA__*`` configuration), otherwise one embedded broker
    for the whole session, started on first use."""
    bootstrap = resolve_bootstrap()
    client_config: dict[str, str] = {}
    if bootstrap is not None:
        from streamproc.config import Settings

        client_config = Settings.load(env=os.environ).kafka.confluent_config()
        bootstrap = client_config.pop("bootstrap.servers")
    with open_cluster(bootstrap, client_config=client_config) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_cluster: KafkaCluster) -> str:
    """The ``host:port`` list of :func:`kafka_cluster`."""
    return kafka_cluster.bootstrap


@pytest.fixture
def unique_topic_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Makes topic names no other test (or earlier run on a shared cluster) uses."""
    test = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:150]

    def make(label: str = "") -> str:
        suffix = f".{label}" if label else ""
        return f"test.{test}{suffix}.{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def make_topic(kafka_cluster: KafkaCluster,
               unique_topic_name: Callable[[str], str]) -> Callable[..., str]:
    """Creates a uniquely named topic with an explicit partition count; returns its name."""

    def make(partitions: int = 1, label: str = "") -> str:
        name = unique_topic_name(label)
        create_topics(kafka_cluster.bootstrap, {name: partitions},
                      client_config=kafka_cluster.client_config)
        return name

    return make
