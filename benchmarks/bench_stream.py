"""Throughput, latency and memory of one streaming worker (``streamproc run --role all``).

For each detector, stride and number of readings per message (``--per-message``; above 1 they
travel as SensorReadingBatch records):

1. **Throughput, end to end**: a backlog of readings (``--channels`` channels x ``--steps`` steps
   of synthetic data with planted anomalies) is produced first; a worker is then started, and an
   outside consumer of the scores and alerts topics times what users receive: the backlog's
   readings over the time from the worker being ready to the last scored window, the steady rate
   between 10% and 90% of the windows, and when the last alert arrived. (An ingest counter would
   overstate it: readings can be consumed faster than their windows are scored.)
2. **Latency**: a fresh worker is fed in real time at half that rate for ``--latency-seconds``;
   reading-to-score and reading-to-alert latency are measured by a consumer, from the
   ``streamproc-produced-at`` header (when the reading that completed the window was produced)
   to the moment the score or alert is received.

Also the **ceiling**: how fast Faust alone, with the pipeline's settings, hands readings to an
agent that only counts them. Then **memory**: a ``pca`` worker's resident memory before and after ``--memory-channels``
channels each filled a window.

Every channel gets a copy of one model trained on the template channel: training cost is not
what is measured. The worker talks to the embedded broker (tansu) with its client workarounds,
among them one record per producer batch (see streamproc.kafka), as ``streamproc demo`` does.

``--profile FOLDER`` samples the first measurement's worker with py-spy (``pip install py-spy``)
and writes its collapsed stacks (``profile-*.txt``, the input of any flame-graph renderer, e.g.
speedscope) and a summary of the functions taking the most time.

Run it under the CPU lock::

    OMP_NUM_THREADS=1 flock /tmp/streamproc-cpu.lock python benchmarks/bench_stream.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamproc.datasets import SyntheticConfig, generate_synthetic
from streamproc.kafka import EmbeddedBroker, create_topics
from streamproc.pipeline import PRODUCED_AT_HEADER
from streamproc.stream import ChannelSeries, ReadingFeed
from streamproc.training import ModelStore, train_channel

PARTITIONS = 4  # of every topic a measurement creates
# Quick-to-train configurations: scoring cost, not model quality, is measured.
TRAIN_OVERRIDES = {"epochs": 1, "max_train_windows": 2000, "device": "auto"}


def rss_mib(pid: int) -> float:
    """Resident memory of a process (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_models(root: Path, detector: str, channels: list[str], window: int, n_features: int) -> None:
    """Train ``detector`` on one template channel and copy the artifact to every channel."""
    from streamproc.detection import DetectorRegistry

    data = generate_synthetic(SyntheticConfig(n_features=n_features, train_steps=3000, test_steps=10, seed=1))
    defaults = DetectorRegistry().spec(detector).default_config
    config = {"window": window, **{k: v for k, v in TRAIN_OVERRIDES.items() if k in defaults}}
    store = ModelStore(root)
    template = store.save(
        train_channel(detector, channels[0], data.train, config=config, feature_names=data.feature_names)
    )
    for name in channels[1:]:
        target = root / detector / name
        shutil.copytree(template, target)
        meta_path = target / "metadata.json"
        meta = json.loads(meta_path.read_text())
        meta["channel"] = name
        meta_path.write_text(json.dumps(meta))


def test_series(channels: list[str], steps: int, n_features: int) -> list[ChannelSeries]:
    data = generate_synthetic(
        SyntheticConfig(n_features=n_features, train_steps=10, test_steps=steps, anomaly_ratio=0.05, seed=2)
    )
    # Channels share the test signal, shifted so they do not all alert at once.
    return [
        ChannelSeries(name, np.roll(data.test, 37 * i, axis=0), data.feature_names) for i, name in enumerate(channels)
    ]


@dataclass(frozen=True)
class Variant:
    """How the worker runs: ``batched`` gives its producer back batching, which the embedded
    broker's workaround takes away (tansu's table recovery needs one record per batch; a real
    cluster does not): the rate a worker could reach without that workaround."""

    name: str = "embedded"
    batch_within_s: float = 0.05
    per_message: int = 1  # readings per message: above 1, SensorReadingBatch records

    @property
    def label(self) -> str:
        label = f"{self.name}, batch_within_s={self.batch_within_s:g}"
        return label + (f", {self.per_message} readings/message" if self.per_message > 1 else "")


def pipeline_worker(app_id: str, port: int, batched: bool) -> None:
    """``streamproc run --embedded-broker``, optionally with producer batching restored."""
    import warnings

    import faust

    from streamproc.config import Settings
    from streamproc.stream import PipelineApp, WorkerOptions, prepare_topics

    settings = Settings.load(overrides={"worker.web_port": port})
    pipeline = PipelineApp(settings, WorkerOptions(app_id=app_id, embedded_broker=True))
    if batched:
        with warnings.catch_warnings():
            # Set before the worker starts, so the producer is created with them.
            warnings.simplefilter("ignore")
            pipeline.app.conf.producer_max_batch_size = 16384
            pipeline.app.conf.producer_linger = 0.0
    prepare_topics(settings, pipeline.topics())
    faust.Worker(pipeline.app, loglevel="error", quiet=True, redirect_stdouts=False).execute_from_commandline()


class Worker:
    def __init__(
        self,
        bootstrap: str,
        topics: dict[str, str],
        app_id: str,
        models: Path,
        detector: str,
        window: int,
        stride: int,
        log: Path,
        variant: Variant,
    ) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_")}
        env.update({f"STREAMPROC_TOPICS__{k.upper()}": v for k, v in topics.items()})
        env.update(
            {
                "KAFKA_BOOTSTRAP": bootstrap,
                "STREAMPROC_WINDOW__SIZE": str(window),
                "STREAMPROC_WINDOW__STRIDE": str(stride),
                "STREAMPROC_DETECTORS__MODELS_DIR": str(models),
                "STREAMPROC_DETECTORS__ENABLED": json.dumps([detector]),
                "STREAMPROC_WORKER__BATCH_WITHIN_S": str(variant.batch_within_s),
            }
        )
        if variant.name == "embedded":
            command = [
                sys.executable,
                "-m",
                "streamproc",
                "run",
                "--embedded-broker",
                "--app-id",
                app_id,
                "--web-port",
                str(self.port),
                "--log-level",
                "error",
            ]
        else:
            command = [sys.executable, __file__, "pipeline-worker", app_id, str(self.port), variant.name]
        self.log = log.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
            return response.read()

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}")
            try:
                self.get("/readyz")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("worker not ready")

    def accepted(self) -> float:
        for line in self.get("/metrics").decode().splitlines():
            if line.startswith('streamproc_readings_total{outcome="accepted"}'):
                return float(line.split()[-1])
        return 0.0

    def rss_mib(self) -> float:
        return rss_mib(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Run:
    """Topics and a worker of one measurement."""

    counter = 0

    def __init__(
        self,
        bootstrap: str,
        workdir: Path,
        models: Path,
        detector: str,
        window: int,
        stride: int,
        variant: Variant = Variant(),
    ) -> None:
        Run.counter += 1
        tag = f"{detector}-s{stride}-{Run.counter}"
        self.bootstrap = bootstrap
        self.topics = {k: f"bench.{tag}.{k}" for k in ("readings", "scores", "alerts", "dead_letter", "feedback")}
        create_topics(bootstrap, dict.fromkeys(self.topics.values(), PARTITIONS))
        # Readings need no workaround (only changelogs do): the feed batches, to keep up.
        self.feed = ReadingFeed({"bootstrap.servers": bootstrap, "linger.ms": 2}, self.topics["readings"])
        self.worker_args = (
            bootstrap,
            self.topics,
            f"bench-{tag}",
            models,
            detector,
            window,
            stride,
            workdir / f"worker-{tag}.log",
            variant,
        )
        self.per_message = variant.per_message
        self.worker: Worker | None = None

    started: list[Worker] = []

    def start(self) -> Worker:
        self.worker = Worker(*self.worker_args)
        Run.started.append(self.worker)
        self.worker.wait_ready()
        return self.worker


@dataclass
class Throughput:
    """How fast a worker turned a backlog into what users receive.

    ``readings_per_s``: the backlog's readings over the time from the worker being ready to the
    last scored window received by an outside consumer (the drain rate, start-up included; when
    not every window was scored, the readings behind those that were);
    ``steady_readings_per_s``: the readings behind the windows scored between 10% and 90% of
    them (``stride`` per window), over that stretch (excludes start-up and the tail); ``last_alert_s``: seconds from
    ready to the last alert received. ``complete`` says whether every window was scored within
    ``--max-seconds`` (when not, the rates cover what was scored).
    """

    readings: int
    windows_expected: int
    windows_scored: int
    alerts: int
    drain_s: float
    last_alert_s: float | None
    readings_per_s: float
    steady_readings_per_s: float

    @property
    def complete(self) -> bool:
        return self.windows_scored >= self.windows_expected

    def to_json(self) -> dict:
        return {**self.__dict__, "complete": self.complete}


class OutputConsumer:
    """An outside consumer of some of a run's topics (what a user's consumer sees): reads every
    partition from the start in a thread and calls ``on_message(kind, message)`` for each record,
    ``kind`` being the topic's key in ``topics``."""

    def __init__(
        self,
        bootstrap: str,
        topics: dict[str, str],
        kinds: tuple[str, ...],
        on_message: Callable[[str, Any], None],
        **config: Any,
    ) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self._kinds = {topics[kind]: kind for kind in kinds}
        self._on_message = on_message
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "bench-outputs",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 10,
                **config,
            }
        )
        self._consumer.assign([TopicPartition(topic, p, 0) for topic in self._kinds for p in range(PARTITIONS)])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(1000, 0.05):
                if message.error() is None:
                    self._on_message(self._kinds[message.topic()], message)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._consumer.close()


class OutputClock:
    """Receipt times of every record on the scores and alerts topics, counted without decoding."""

    def __init__(self, bootstrap: str, topics: dict[str, str]) -> None:
        self.times: dict[str, list[float]] = {"scores": [], "alerts": []}
        self._consumer = OutputConsumer(
            bootstrap, topics, ("scores", "alerts"), lambda kind, _: self.times[kind].append(time.perf_counter())
        )

    def close(self) -> None:
        self._consumer.close()


def start_profile(pid: int, out: Path) -> subprocess.Popen:
    """py-spy sampling ``pid`` (with its native threads' Python frames) until stopped."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def stop_profile(sampler: subprocess.Popen, out: Path, top: int = 25) -> None:
    """Stop the sampler, then write ``<out>.summary.md``: the packages whose own frames took the
    most samples, and the frames with the most samples, alone (self) and with what they call
    (inclusive), as shares of all samples."""
    sampler.send_signal(signal.SIGINT)
    sampler.wait(60)
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
    by_package: dict[str, int] = {}
    for frame, n in own.items():
        path = frame.rpartition("(")[2].split(":")[0]
        package = path.split("/")[0] if "/" in path else path.removesuffix(".py")
        by_package[package] = by_package.get(package, 0) + n
    lines = [f"{total} samples", "", "| self | package (where the time is spent, by its own frames) |", "|---:|---|"]
    for package in sorted(by_package, key=by_package.get, reverse=True)[:top]:
        lines.append(f"| {100 * by_package[package] / total:.1f}% | {package} |")
    lines += ["", "| self | inclusive | frame |", "|---:|---:|---|"]
    for frame in sorted(inclusive, key=inclusive.get, reverse=True)[:top]:
        lines.append(f"| {100 * own.get(frame, 0) / total:.1f}% | {100 * inclusive[frame] / total:.1f}% | `{frame}` |")
    lines += ["", "| self | frame |", "|---:|---|"]
    for frame in sorted(own, key=own.get, reverse=True)[:top]:
        lines.append(f"| {100 * own[frame] / total:.1f}% | `{frame}` |")
    out.with_suffix(".summary.md").write_text("\n".join(lines) + "\n")


def expected_windows(steps: int, window: int, stride: int) -> int:
    """Windows a channel of ``steps`` readings yields: the first when the window is full, then
    one every ``stride`` readings."""
    return 0 if steps < window else (steps - window) // stride + 1


def measure_throughput(
    run: Run, series: list[ChannelSeries], stride: int, window: int, max_seconds: float, profile: Path | None = None
) -> Throughput:
    """End to end: a backlog is produced, then a worker started; the clock runs from the worker
    being ready to the last scored window (and the last alert) an outside consumer receives."""
    total = sum(len(s.values) for s in series)
    expected = sum(expected_windows(len(s.values), window, stride) for s in series)
    run.feed.produce(series, start_ms=1_700_000_000_000, step_ms=1000, per_message=run.per_message)
    clock = OutputClock(run.bootstrap, run.topics)
    worker = run.start()
    began = time.perf_counter()
    sampler = None
    try:
        if profile is not None:
            sampler = start_profile(worker.process.pid, profile)
        quiet_since, seen = None, 0  # quiet is timed from the first score: loading models takes a while
        while len(clock.times["scores"]) < expected and time.perf_counter() - began < max_seconds:
            time.sleep(0.2)
            if len(clock.times["scores"]) != seen:
                quiet_since, seen = time.perf_counter(), len(clock.times["scores"])
            elif quiet_since is not None and time.perf_counter() - quiet_since > 15:
                break  # nothing more is coming
        time.sleep(1.0)  # the alerts of the last windows
    finally:
        try:
            if sampler is not None:
                stop_profile(sampler, profile)
        finally:
            worker.stop()
            clock.close()
    scores, alerts = np.asarray(clock.times["scores"]), clock.times["alerts"]
    if len(scores) < 10:
        raise RuntimeError(f"only {len(scores)} of {expected} windows were scored: see the worker's log")
    drain = float(scores[-1] - began)
    low, high = int(0.1 * len(scores)), int(0.9 * len(scores)) - 1
    # Each channel's first window takes `window` readings, every later one `stride` more; the
    # feed goes step by step across channels, so the first fills come before any window.
    fill = len(series) * (window - stride)
    steady = (high - low) * stride / float(scores[high] - scores[low])
    return Throughput(
        total,
        expected,
        len(scores),
        len(alerts),
        drain,
        float(alerts[-1] - began) if alerts else None,
        min(total, fill + len(scores) * stride) / drain,
        steady,
    )


def faust_ceiling_worker(bootstrap: str, topic: str, total: int) -> None:
    """A worker with the pipeline's Faust settings whose agent only counts its batches: the
    rate at which Faust alone hands readings to an agent. Prints readings/s, then exits."""
    import faust

    from streamproc.config import Settings
    from streamproc.stream import WorkerOptions, faust_settings

    settings = Settings.load(env={}, overrides={"kafka.bootstrap": bootstrap})
    options = WorkerOptions(app_id=f"ceiling-{topic}", embedded_broker=True, web_enabled=False)
    app = faust.App(options.group(), **faust_settings(settings, options))
    readings = app.topic(
        topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topics.partitions,
    )
    per_batch = settings.worker.batch_size * settings.window.stride
    seen = {"count": 0, "first": 0.0}

    @app.agent(readings)
    async def count(stream):
        async for events in stream.take_events(per_batch, within=settings.worker.batch_within_s):
            if not seen["count"]:
                seen["first"] = time.perf_counter()
            seen["count"] += len(events)
            if seen["count"] >= total:
                print(
                    f"ceiling {(seen['count'] - len(events)) / (time.perf_counter() - seen['first']):.1f}", flush=True
                )
                os._exit(0)

    faust.Worker(app, loglevel="error", quiet=True, redirect_stdouts=False).execute_from_commandline()


def measure_faust_ceiling(bootstrap: str, series: list[ChannelSeries]) -> float:
    topic = f"bench.ceiling.{Run.counter}"
    Run.counter += 1
    create_topics(bootstrap, {topic: 4})
    ReadingFeed({"bootstrap.servers": bootstrap, "linger.ms": 2}, topic).produce(series)
    total = sum(len(s.values) for s in series)
    out = subprocess.run(
        [sys.executable, __file__, "ceiling-worker", bootstrap, topic, str(total)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    return float(out.split("ceiling")[-1].split()[0])


def measure_latency(run: Run, names: list[str], n_features: int, window: int, rate: float, seconds: float) -> dict:
    """Latency percentiles while readings arrive in real time at ``rate``.

    Every channel's first window is filled beforehand and the worker given time to catch up
    (and load its models), so that windows are due from the first second of the timed feed;
    only messages caused by that feed are counted.
    """
    from confluent_kafka import Consumer, TopicPartition

    prefill = window - 1
    steps = int(rate * seconds / len(names)) + 1
    series = test_series(names, prefill + steps, n_features)
    start_ms = 1_700_000_000_000
    worker = run.start()
    run.feed.produce(
        [ChannelSeries(s.channel, s.values[:prefill], s.feature_names) for s in series],
        start_ms=start_ms,
        step_ms=1000,
        per_message=run.per_message,
    )
    deadline = time.monotonic() + 120
    while worker.accepted() < prefill * len(names) and time.monotonic() < deadline:
        time.sleep(0.25)
    time.sleep(1)
    consumer = Consumer(
        {"bootstrap.servers": run.bootstrap, "group.id": "bench", "enable.auto.commit": False, "fetch.wait.max.ms": 10}
    )
    consumer.assign([TopicPartition(run.topics[t], p, 0) for t in ("scores", "alerts") for p in range(PARTITIONS)])
    latencies: dict[str, list[float]] = {run.topics["scores"]: [], run.topics["alerts"]: []}
    stop = threading.Event()
    feed = threading.Thread(
        target=run.feed.produce,
        kwargs={
            "series": [ChannelSeries(s.channel, s.values[prefill:], s.feature_names) for s in series],
            "rate": rate,
            "start_ms": start_ms + prefill * 1000,
            "step_ms": 1000,
            "stop": stop,
            "per_message": run.per_message,
        },
    )
    began = time.time()
    feed.start()
    deadline = time.monotonic() + seconds + 15
    quiet_since = None
    while time.monotonic() < deadline:
        # poll, not consume: consume waits for its whole batch, which would add to the latency.
        message = consumer.poll(0.1)
        if message is not None and message.error() is None:
            quiet_since = None
            received = time.time()
            produced = dict(message.headers() or []).get(PRODUCED_AT_HEADER)
            if produced is not None and struct.unpack(">d", produced)[0] >= began:
                latencies[message.topic()].append(received - struct.unpack(">d", produced)[0])
        elif not feed.is_alive():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 3:
                break
    stop.set()
    feed.join()
    consumer.close()
    worker.stop()

    def quantiles(values: list[float]) -> dict:
        if not values:
            return {"n": 0}
        ms = 1000 * np.asarray(values)
        return {"n": len(values), "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}

    return {"score": quantiles(latencies[run.topics["scores"]]), "alert": quantiles(latencies[run.topics["alerts"]])}


def measure_memory(bootstrap: str, workdir: Path, channels: int, window: int, stride: int, n_features: int) -> dict:
    names = [f"m{i:05d}" for i in range(channels)]
    models = workdir / "models-memory"
    train_models(models, "pca", names, window, n_features)
    run = Run(bootstrap, workdir, models, "pca", window, stride)
    worker = run.start()
    time.sleep(2)
    before = worker.rss_mib()
    series = test_series(names, window + stride, n_features)
    run.feed.produce(series, start_ms=1_700_000_000_000, step_ms=1000)
    total = channels * (window + stride)
    deadline = time.monotonic() + 600
    while worker.accepted() < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker took in {worker.accepted():.0f} of {total} readings in 10 minutes")
        time.sleep(0.5)
    time.sleep(2)
    after = worker.rss_mib()
    worker.stop()
    model = ModelStore(models).load("pca", names[0])
    from streamproc.fusion import ChannelFusion
    from streamproc.windows import ChannelWindow

    return {
        "channels": channels,
        "rss_before_mib": before,
        "rss_after_mib": after,
        "mib_per_1000_channels": (after - before) * 1000 / channels,
        "window_state_bytes": len(ChannelWindow(window, n_features).to_bytes()),
        "fusion_state_bytes": len(ChannelFusion(last_window_end=1_700_000_000_000).to_bytes()),
        "pca_model_bytes": int(model.detector.basis.nbytes + model.detector.mean.nbytes),
    }


def measure_all(bootstrap: str, workdir: Path, args: argparse.Namespace, results: dict) -> None:
    names = [f"c{i:03d}" for i in range(args.channels)]
    ceiling = measure_faust_ceiling(bootstrap, test_series(names, args.steps, args.features))
    print(f"Faust alone (agent that only counts): {ceiling:,.0f} readings/s", flush=True)
    results["faust_ceiling_readings_per_s"] = ceiling
    plan = [
        (d, int(stride), Variant(per_message=int(n)))
        for d in args.detectors.split(",")
        for stride in args.strides.split(",")
        for n in args.per_message.split(",")
    ]
    if args.variants:
        first = args.detectors.split(",")[0]
        plan += [(first, 10, Variant("batched")), (first, 10, Variant(batch_within_s=0.25))]
    trained: set[str] = set()
    for detector, stride, variant in plan:
        models = workdir / f"models-{detector}"
        if detector not in trained:
            started = time.perf_counter()
            train_models(models, detector, names, args.window, args.features)
            print(f"{detector}: trained in {time.perf_counter() - started:.1f}s", flush=True)
            trained.add(detector)
        series = test_series(names, args.steps, args.features)
        profile = None
        if args.profile is not None:
            profile = args.profile / f"profile-{detector}-s{stride}-{re.sub(r'[^A-Za-z0-9.]+', '-', variant.label)}.txt"
        throughput = measure_throughput(
            Run(bootstrap, workdir, models, detector, args.window, stride, variant),
            series,
            stride,
            args.window,
            args.max_seconds,
            profile,
        )
        rate = throughput.readings_per_s
        print(f"{detector} stride {stride} ({variant.label}): {json.dumps(throughput.to_json())}", flush=True)
        for latency_rate in [rate / 2, *(float(r) for r in args.latency_rates.split(",") if r)]:
            latency = measure_latency(
                Run(bootstrap, workdir, models, detector, args.window, stride, variant),
                names,
                args.features,
                args.window,
                latency_rate,
                args.latency_seconds,
            )
            print(f"  at {latency_rate:,.0f}/s: {json.dumps(latency)}", flush=True)
            results["runs"].append(
                {
                    "detector": detector,
                    "stride": stride,
                    "variant": variant.label,
                    "throughput": throughput.to_json(),
                    "latency_rate": latency_rate,
                    "latency": latency,
                }
            )
    if args.memory_channels:
        memory = measure_memory(bootstrap, workdir, args.memory_channels, args.window, 10, args.features)
        print(f"memory: {json.dumps(memory)}", flush=True)
        results["memory"] = memory


def main() -> None:
    if sys.argv[1:2] == ["ceiling-worker"]:
        faust_ceiling_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    if sys.argv[1:2] == ["pipeline-worker"]:
        pipeline_worker(sys.argv[2], int(sys.argv[3]), batched=sys.argv[4] == "batched")
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--detectors",
        default="pca,omnianomaly",
        help="pca, and the heaviest plugin by scoring cost per window (omnianomaly).",
    )
    parser.add_argument("--strides", default="10,1")
    parser.add_argument(
        "--per-message",
        default="1,10",
        help="Readings per message (above 1: SensorReadingBatch records, as buffering gateways send them).",
    )
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--steps", type=int, default=1000, help="Backlog steps per channel.")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="Longest throughput measurement.")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument(
        "--latency-rates",
        default="",
        help="Further real-time rates (readings/s, comma-separated) at which to measure latency, "
        "besides half the throughput.",
    )
    parser.add_argument("--memory-channels", type=int, default=1000)
    parser.add_argument(
        "--variants",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Also run the first detector at stride 10 with producer batching restored, and with batch_within_s=0.25.",
    )
    parser.add_argument("--out", type=Path, help="Also write the results as JSON here.")
    parser.add_argument(
        "--profile",
        type=Path,
        help="Sample each throughput run's worker with py-spy; collapsed stacks and a summary go to this folder.",
    )
    args = parser.parse_args()
    if args.profile is not None and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy (pip install py-spy)")

    results: dict = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average": os.getloadavg()[0]},
        "args": {k: str(v) for k, v in vars(args).items()},
        "runs": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    try:
        with EmbeddedBroker() as broker:
            try:
                measure_all(broker.bootstrap, workdir, args, results)
            finally:
                for worker in Run.started:  # those a failed measurement left running
                    worker.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    print(markdown(results))


def markdown(results: dict) -> str:
    """The results as the rows of BENCHMARKS.md's tables."""
    lines = [
        "| detector | stride | worker | readings/s to the last scored window | steady readings/s | "
        "windows scored | last alert (s) | rate for latency | score p50 / p99 ms | alert p50 / p99 ms |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        t = run["throughput"]
        cells = []
        for kind in ("score", "alert"):
            q = run["latency"][kind]
            cells.append(f"{q['p50_ms']:,.0f} / {q['p99_ms']:,.0f} (n={q['n']})" if q["n"] else "none")
        last_alert = f"{t['last_alert_s']:.1f} ({t['alerts']})" if t["last_alert_s"] is not None else "none"
        lines.append(
            f"| {run['detector']} | {run['stride']} | {run['variant']} | {t['readings_per_s']:,.0f} | "
            f"{t['steady_readings_per_s']:,.0f} | {t['windows_scored']:,}/{t['windows_expected']:,} | "
            f"{last_alert} | {run['latency_rate']:,.0f} | {cells[0]} | {cells[1]} |"
        )
    memory = results.get("memory")
    if memory:
        lines.append("")
        lines.append(
            f"memory: {memory['mib_per_1000_channels']:.1f} MiB RSS per 1,000 channels "
            f"({memory['channels']} channels: {memory['rss_before_mib']:.1f} -> "
            f"{memory['rss_after_mib']:.1f} MiB); per channel: window state "
            f"{memory['window_state_bytes']} B, fusion state {memory['fusion_state_bytes']} B, "
            f"pca model arrays {memory['pca_model_bytes']} B"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
