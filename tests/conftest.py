"""Fixtures shared by every test area."""

from __future__ import annotations

import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from streamproc.datasets import SyntheticConfig, generate_synthetic
from streamproc.kafka import KafkaCluster, create_topics, open_cluster, resolve_bootstrap
from streamproc.training import ModelStore, TrainedModel, train_channel

# Set by .ci/run: a Debian program a test runs must be there (scripts/test installs them), so
# that a failed installation fails CI instead of skipping what it was meant to prove.
REQUIRE_PROGRAMS_ENV = "REQUIRE_SYSTEM_PROGRAMS"


def _system_program(*names: str, package: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    message = (
        f"{names[0]} is not installed (Debian: apt-get install {package}; scripts/test installs it when run as root)"
    )
    if os.environ.get(REQUIRE_PROGRAMS_ENV):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def system_program() -> Callable[..., str]:
    """``system_program(*names, package=...)``: the path of the first of ``names`` on PATH;
    otherwise the test is skipped, saying how to install ``package``, or fails where
    :data:`REQUIRE_PROGRAMS_ENV` is set."""
    return _system_program


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
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
def make_topic(kafka_cluster: KafkaCluster, unique_topic_name: Callable[[str], str]) -> Callable[..., str]:
    """Creates a uniquely named topic with an explicit partition count; returns its name."""

    def make(partitions: int = 1, label: str = "") -> str:
        name = unique_topic_name(label)
        create_topics(kafka_cluster.bootstrap, {name: partitions}, client_config=kafka_cluster.client_config)
        return name

    return make


# -- small trained models and synthetic streams (pipeline, replay and stream tests) -------------

WINDOW = 16
STRIDE = 4
N_FEATURES = 4
STEP_MS = 1000
START_MS = 1_700_000_000_000


@dataclass(frozen=True)
class StreamChannel:
    """A test stream, its planted spans ``(start, end)`` and its trained model."""

    name: str
    test: np.ndarray
    feature_names: list[str]
    events: list[tuple[int, int]]
    model: TrainedModel


@dataclass(frozen=True)
class StreamModels:
    """Models trained with windows of ``window`` samples for every channel, in ``root`` (a model
    store); the stream tests score every ``stride`` samples."""

    root: Path
    channels: dict[str, StreamChannel]
    window: int = WINDOW
    stride: int = STRIDE
    start_ms: int = START_MS
    step_ms: int = STEP_MS

    def window_end(self, step: int) -> int:
        """The timestamp the harness gives test step ``step`` (the end of a window ending there)."""
        return self.start_ms + step * self.step_ms

    def window_steps(self, steps: int) -> list[int]:
        """The test steps at which windows end in a stream of ``steps`` readings."""
        return list(range(self.window - 1, steps, self.stride))

    def expected_window_ends(self, steps: int) -> list[int]:
        return [self.window_end(i) for i in self.window_steps(steps)]

    def offline_alerts(self, channel: StreamChannel) -> list[tuple[str, str, int]]:
        """``(alert_id, state, updated_at)`` of the alerts the offline backtest gives for the
        channel's test stream, streamed from ``start_ms`` with the worker's window and stride."""
        return [(e.alert_id, e.state, e.updated_at) for e in self.backtest(channel).events]

    def backtest(self, channel: StreamChannel):
        """The offline backtest of the channel's test stream (no warm-up, as the tests stream it)."""
        from streamproc.config import Settings
        from streamproc.datasets import Recording
        from streamproc.replay import Backtest

        settings = Settings.load(env={}, overrides={"window.size": self.window, "window.stride": self.stride})
        timestamps = self.start_ms + self.step_ms * np.arange(len(channel.test), dtype=np.int64)
        recording = Recording(channel.name, channel.test, timestamps, 0, channel.feature_names)
        return Backtest(settings, self.store, ["pca"]).run(recording)

    @property
    def store(self) -> ModelStore:
        return ModelStore(self.root)


@pytest.fixture(scope="session")
def stream_models(tmp_path_factory: pytest.TempPathFactory) -> StreamModels:
    """Eight channels: ``a0``..``a5`` with planted anomalies, ``clean0``/``clean1`` without (seeds
    whose clean test streams stay under the trained thresholds)."""
    root = tmp_path_factory.mktemp("models")
    store = ModelStore(root)
    specs = [(f"a{i}", 10 + i, 0.06) for i in range(6)] + [("clean0", 30, 0.0), ("clean1", 32, 0.0)]
    channels = {}
    for name, seed, ratio in specs:
        data = generate_synthetic(
            SyntheticConfig(n_features=N_FEATURES, train_steps=1200, test_steps=600, anomaly_ratio=ratio, seed=seed)
        )
        model = train_channel("pca", name, data.train, config={"window": WINDOW}, feature_names=data.feature_names)
        store.save(model)
        channels[name] = StreamChannel(
            name, data.test, data.feature_names, [(e.start, e.end) for e in data.events], store.load("pca", name)
        )
    return StreamModels(root, channels)
