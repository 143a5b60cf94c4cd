"""``streamproc demo``: a broker, a stream with planted anomalies, a worker, alerts printed live.

The demo is the whole product in one command: it trains ``pca`` models on the training part of
the data once (kept in a cache folder), starts the embedded broker (or uses ``KAFKA_BOOTSTRAP``),
runs a worker process, produces the test part at a chosen rate and prints each alert as it
opens, escalates and resolves, next to the planted anomaly it found. It ends by itself once
every window has been scored (or after ``duration``), with a summary.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from streamproc.config import Settings, to_toml
from streamproc.errors import StreamprocError
from streamproc.kafka import KafkaCluster, create_topics

from ._feed import ChannelSeries, ReadingFeed
from ._reader import TopicReader
from ._tail import format_alert
from ._worker import embedded_broker

STEP_MS = 1000
_READY_TIMEOUT_S = 90.0
_SETTLE_S = 1.0  # a quiet spell after the last score that ends the demo
_STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class DemoChannel:
    """A channel's training and test series and its labelled (planted) anomaly spans."""

    name: str
    train: np.ndarray
    test: np.ndarray
    feature_names: list[str]
    events: list[tuple[str, int, int]]  # (kind, first step, last step), test steps


@dataclass(frozen=True)
class DemoOptions:
    """What to stream: a telemanom directory's ``channels`` (all when None) or
    ``synthetic_channels`` generated from ``seed``; at ``rate`` readings per second; for at most
    ``duration`` seconds (None: until every window is scored); scored by ``detectors`` (None: the
    settings' ``detectors.enabled``) with models from ``models_dir`` (default: a cache folder),
    trained there first when missing."""

    data: Path | None = None
    channels: tuple[str, ...] | None = None
    synthetic_channels: int = 4
    rate: float = 500.0
    duration: float | None = None
    detectors: tuple[str, ...] | None = None
    models_dir: Path | None = None
    seed: int = 7


def cache_dir() -> Path:
    """Where the demo keeps trained models and its worker's log (outside any checkout)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamproc" / "demo"


def synthetic_channels(count: int, seed: int) -> list[DemoChannel]:
    from streamproc.datasets import SyntheticConfig, generate_synthetic_channels

    config = SyntheticConfig(n_features=6, train_steps=3000, test_steps=2500, anomaly_ratio=0.04, seed=seed)
    return [
        DemoChannel(name, d.train, d.test, d.feature_names, [(e.kind, e.start, e.end) for e in d.events])
        for name, d in generate_synthetic_channels(config, count, prefix="plant").items()
    ]


def telemanom_channels(root: Path, names: Sequence[str] | None) -> list[DemoChannel]:
    from streamproc.datasets import load_telemanom

    dataset = load_telemanom(root)
    chosen = list(names) if names else dataset.channels
    out = []
    for name in chosen:
        data = dataset.channel(name)
        out.append(
            DemoChannel(
                name,
                data.train,
                data.test,
                data.feature_names,
                [("labelled", start, end) for start, end in data.segments],
            )
        )
    return out


def ensure_models(
    channels: Sequence[DemoChannel], models_dir: Path, detector: str, window: int, echo: Callable[[str], None]
) -> None:
    """Train ``detector`` for every channel that has no model of the right window yet."""
    from streamproc.training import ModelStore, train_channel

    store = ModelStore(models_dir)
    missing = []
    for channel in channels:
        try:
            if store.load(detector, channel.name).window == window:
                continue
        except StreamprocError:
            pass
        missing.append(channel)
    if not missing:
        return
    echo(f"training {detector} on the training part of {len(missing)} channel(s) (once; kept in {models_dir}) ...")
    for channel in missing:
        started = time.perf_counter()
        model = train_channel(
            detector, channel.name, channel.train, config={"window": window}, feature_names=channel.feature_names
        )
        store.save(model)
        echo(f"  {channel.name}: threshold {model.threshold:.4g} ({time.perf_counter() - started:.1f}s)")


def _models_key(options: DemoOptions, channels: Sequence[DemoChannel], window: int) -> str:
    source = f"{Path(options.data).resolve()}" if options.data else f"synthetic-{options.seed}"
    names = ",".join(c.name for c in channels)
    # the detectors are not part of the key: each keeps its models in its own subfolder
    digest = hashlib.sha1(f"{source}|{names}|{window}".encode()).hexdigest()[:10]
    return f"{'data' if options.data else 'synthetic'}-{digest}"


class _Worker:
    """The worker subprocess, its log file and its web port; it runs with the demo's settings
    (written to ``config_file``)."""

    def __init__(self, cluster: KafkaCluster, config_file: Path, port: int, log_path: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "streamproc",
            "run",
            "--app-id",
            "streamproc-demo",
            "--config",
            str(config_file),
            "--web-port",
            str(port),
            "--log-level",
            "error",
        ]
        if cluster.embedded:
            command.append("--embedded-broker")
        self.port = port
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        env = {**os.environ, "KAFKA_BOOTSTRAP": cluster.bootstrap}
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log_tail(self, chars: int = 2000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StreamprocError(f"the worker exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise StreamprocError(f"the worker was not ready within {timeout:g}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return cast(int, sock.getsockname()[1])  # (host, port) for AF_INET


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


@dataclass
class DemoResult:
    """Counts of a demo run; ``caught`` planted anomalies had an alert open on them, and
    ``unexplained`` alerts opened where nothing was planted."""

    opened: int = 0
    resolved: int = 0
    caught: int = 0
    planted: int = 0
    unexplained: int = 0
    windows_scored: int = 0
    windows_expected: int = 0
    finished: bool = False


def run_demo(settings: Settings, options: DemoOptions, echo: Callable[[str], None]) -> DemoResult:
    """Run the demo and return what happened.

    Ctrl-C while the stream runs stops it like ``duration`` does (worker and broker shut down,
    summary printed); during start-up it propagates as KeyboardInterrupt.
    """
    window, stride = settings.window.size, settings.window.stride
    channels = (
        telemanom_channels(options.data, options.channels)
        if options.data
        else synthetic_channels(options.synthetic_channels, options.seed)
    )
    short = [c.name for c in channels if len(c.train) <= window or len(c.test) < window]
    if short:
        raise StreamprocError(f"channel(s) {', '.join(short)} are shorter than window.size={window}")
    models_dir = options.models_dir or cache_dir() / "models" / _models_key(options, channels, window)
    detectors = list(options.detectors or settings.detectors.enabled)
    for detector in detectors:
        ensure_models(channels, models_dir, detector, window, echo)
    settings = dataclasses.replace(
        settings,
        detectors=dataclasses.replace(settings.detectors, enabled=detectors, models_dir=str(models_dir)),
    )
    expected = {c.name: len(range(window, len(c.test) + 1, stride)) for c in channels}
    result = DemoResult(planted=sum(len(c.events) for c in channels), windows_expected=sum(expected.values()))

    with _demo_cluster(settings) as cluster:
        topics = settings.topics
        create_topics(
            cluster.bootstrap,
            dict.fromkeys(
                [topics.readings, topics.scores, topics.alerts, topics.dead_letter, topics.feedback], topics.partitions
            ),
            client_config=dict(cluster.client_config),
        )
        port = settings.worker.web_port if _port_free(settings.worker.web_port) else _free_port()
        where = "embedded broker" if cluster.embedded else "broker"
        echo(f"{where} at {cluster.bootstrap}; worker metrics at http://127.0.0.1:{port}/metrics")
        workdir = Path(tempfile.mkdtemp(prefix="streamproc-demo-"))
        config_file = workdir / "settings.toml"
        # The file may hold credentials of a configured cluster: readable by this user only.
        config_file.touch(mode=0o600)
        config_file.write_text(to_toml(settings.to_dict(reveal_secrets=True)))
        worker = _Worker(cluster, config_file, port, cache_dir() / "worker.log")
        stop = threading.Event()
        try:
            started = time.monotonic()
            worker.wait_ready(_READY_TIMEOUT_S)
            echo(f"worker ready after {time.monotonic() - started:.1f}s (log: {worker.log_path})")
            with TopicReader(
                cluster.consumer_config("streamproc-demo-reader"), [topics.alerts, topics.scores], from_beginning=False
            ) as reader:
                feed = ReadingFeed(cluster.producer_config(), topics.readings)
                start_ms = int(time.time() * 1000)
                total = sum(len(c.test) for c in channels)
                echo(
                    f"streaming {total} readings of {len(channels)} channel(s) at {options.rate:g}/s; "
                    f"{result.planted} anomalies are planted. Alerts:"
                )
                feeder = threading.Thread(
                    target=feed.produce,
                    name="demo-feed",
                    daemon=True,
                    kwargs={
                        "series": [ChannelSeries(c.name, c.test, c.feature_names) for c in channels],
                        "rate": options.rate,
                        "start_ms": start_ms,
                        "step_ms": STEP_MS,
                        "stop": stop,
                    },
                )
                follower = _Follower(channels, expected, start_ms, settings, result, echo)
                feeder.start()
                try:
                    while options.duration is None or follower.elapsed() < options.duration:
                        if worker.process.poll() is not None:
                            raise StreamprocError(
                                f"the worker exited with status {worker.process.returncode}:\n{worker.log_tail()}"
                            )
                        for item in reader.poll(0.5):
                            follower.handle(item.schema, item.record)
                        if not feeder.is_alive() and follower.all_scored():
                            # The last batch's alerts are sent beside its scores, not before
                            # them: read on until the topics fall quiet.
                            while items := list(reader.poll(_SETTLE_S)):
                                for item in items:
                                    follower.handle(item.schema, item.record)
                            result.finished = True
                            break
                except KeyboardInterrupt:
                    echo("interrupted")
        finally:
            stop.set()
            worker.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    echo(
        f"{'done' if result.finished else 'stopped'}: {result.windows_scored}/{result.windows_expected} windows "
        f"scored; {result.opened} alerts opened, {result.resolved} resolved; planted anomalies caught "
        f"{result.caught}/{result.planted}; alerts without a planted anomaly {result.unexplained}"
    )
    return result


class _Follower:
    """Prints each alert next to the planted anomaly it found (if any) and keeps the counts."""

    def __init__(
        self,
        channels: Sequence[DemoChannel],
        expected: dict[str, int],
        start_ms: int,
        settings: Settings,
        result: DemoResult,
        echo: Callable[[str], None],
    ) -> None:
        self.channels = {c.name: c for c in channels}
        self.expected = expected
        self.start_ms = start_ms
        self.window, self.stride = settings.window.size, settings.window.stride
        self.open_after = settings.fusion.open_after
        self.result = result
        self.echo = echo
        self.began = time.monotonic()
        # windows scored per (channel, detector): each detector publishes its own score
        self.scored: Counter[tuple[str, str]] = Counter()
        self.detectors = settings.detectors.enabled
        self.caught: set[tuple[str, int]] = set()

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def all_scored(self) -> bool:
        return all(
            self.scored[name, detector] >= count for name, count in self.expected.items() for detector in self.detectors
        )

    def handle(self, schema: str, record: dict[str, Any]) -> None:
        if schema == "AnomalyScore":
            if record.get("shadow"):
                return  # a shadow model's score: the live ones count
            channel = record["channel"]
            before = min(self.scored[channel, detector] for detector in self.detectors)
            self.scored[channel, record["detector"]] += 1
            # a window counts as scored once every detector has scored it
            self.result.windows_scored += min(self.scored[channel, detector] for detector in self.detectors) - before
            return
        if schema != "Alert":
            return
        step = (record["updated_at"] - self.start_ms) // STEP_MS
        note = ""
        if record["state"] == "OPEN":
            self.result.opened += 1
            event = _planted_event(self.channels[record["channel"]], step, self.window, self.stride, self.open_after)
            if event is None:
                self.result.unexplained += 1
                note = "  <- no planted anomaly here"
            else:
                self.caught.add((record["channel"], event[1]))
                self.result.caught = len(self.caught)
                note = f"  <- planted {event[0]} at steps {event[1]}-{event[2]}"
        elif record["state"] == "RESOLVED":
            self.result.resolved += 1
        self.echo(f"[{self.elapsed():6.1f}s] step {step:>5}  {format_alert(record, when=False)}{note}")


@contextmanager
def _demo_cluster(settings: Settings) -> Iterator[KafkaCluster]:
    """The configured cluster, or an embedded broker that outlives the worker on Ctrl-C."""
    if not settings.uses_embedded_broker:
        client = settings.kafka.confluent_config()
        yield KafkaCluster(client.pop("bootstrap.servers"), embedded=False, client_config=client)
        return
    with embedded_broker() as broker:
        yield KafkaCluster(broker.bootstrap, embedded=True)


def _planted_event(
    channel: DemoChannel, step: int, window: int, stride: int, open_after: int
) -> tuple[str, int, int] | None:
    """The planted event an alert opened at ``step`` belongs to: one that its opening windows
    (the last ``open_after`` ones, each ``window`` steps long) overlap."""
    first = step - (open_after - 1) * stride - window + 1
    for event in channel.events:
        if event[1] <= step and event[2] >= first:
            return event
    return None
