"""Workers as subprocesses against the test broker, and reading their outputs back (the models
they score with come from the top-level conftest)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


class WorkerProcess:
    """``streamproc run`` in a subprocess, with its log in a file."""

    def __init__(self, command: list[str], env: dict[str, str], port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def readyz(self) -> dict:
        return json.loads(self.get("/readyz")[1])

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"worker exited early:\n{self.log()[-3000:]}"
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"worker not ready within {timeout}s:\n{self.log()[-3000:]}")

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on /metrics (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        for family in text_string_to_metric_families(self.get("/metrics")[1].decode()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return 0.0

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.process.returncode


class Pipeline:
    """Topics of its own on the test cluster, workers running on them, and their outputs."""

    def __init__(self, cluster, models, workdir: Path, name: str) -> None:
        from streamproc.kafka import create_topics

        self.cluster = cluster
        self.models = models
        self.workdir = workdir
        suffix = uuid.uuid4().hex[:8]
        self.app_id = f"test-{name}-{suffix}"
        self.topics = {
            key: f"test.{name}.{key}.{suffix}" for key in ("readings", "scores", "alerts", "dead_letter", "feedback")
        }
        create_topics(
            cluster.bootstrap, dict.fromkeys(self.topics.values(), 4), client_config=dict(cluster.client_config)
        )
        self.workers: list[WorkerProcess] = []
        self._records: list = []
        self._reader = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROC_")}
        env.update({f"STREAMPROC_TOPICS__{k.upper()}": v for k, v in self.topics.items()})
        env.update(
            {
                "KAFKA_BOOTSTRAP": self.cluster.bootstrap,
                "OMP_NUM_THREADS": "1",
                "STREAMPROC_WINDOW__SIZE": str(self.models.window),
                "STREAMPROC_WINDOW__STRIDE": str(self.models.stride),
                "STREAMPROC_DETECTORS__MODELS_DIR": str(self.models.root),
                "STREAMPROC_DETECTORS__ENABLED": "pca",  # what the test models are
            }
        )
        return env

    def start_worker(self, role: str = "all", *, wait: bool = True, env: dict[str, str] | None = None) -> WorkerProcess:
        port = _free_port()
        command = [
            sys.executable,
            "-m",
            "streamproc",
            "run",
            "--role",
            role,
            "--app-id",
            self.app_id,
            "--web-port",
            str(port),
            "--log-level",
            "info",
        ]
        if self.cluster.embedded:
            command.append("--embedded-broker")
        worker = WorkerProcess(
            command, {**self.env(), **(env or {})}, port, self.workdir / f"worker-{role}-{len(self.workers)}.log"
        )
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def feed(self):
        from streamproc.stream import ReadingFeed

        return ReadingFeed(self.cluster.producer_config(), self.topics["readings"])

    def produce(
        self, channels, start: int = 0, stop: int | None = None, rate: float | None = None, per_message: int = 1
    ) -> None:
        from streamproc.stream import ChannelSeries

        series = [ChannelSeries(c.name, c.test[start:stop], c.feature_names) for c in channels]
        self.feed().produce(
            series,
            rate=rate,
            start_ms=self.models.window_end(start),
            step_ms=self.models.step_ms,
            per_message=per_message,
        )

    def records(self, topic: str) -> list:
        """Everything read so far from one of the pipeline's topics (``scores``, ``alerts``, ...)."""
        self._poll()
        return [r for r in self._records if r.topic == self.topics[topic]]

    def _poll(self, timeout: float = 0.2) -> None:
        from streamproc.stream import TopicReader

        if self._reader is None:
            self._reader = TopicReader(
                self.cluster.consumer_config(f"{self.app_id}-reader"),
                [self.topics[k] for k in ("scores", "alerts", "dead_letter")],
            )
        self._records.extend(self._reader.poll(timeout))

    def wait_for(self, condition, timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._poll(0.3)
            if condition():
                return
            for worker in self.workers:
                if worker.process.poll() not in (None, 0, -signal.SIGKILL, -signal.SIGTERM):
                    raise AssertionError(f"a worker failed:\n{worker.log()[-3000:]}")
        logs = "\n".join(w.log()[-2000:] for w in self.workers)
        raise AssertionError(f"timed out waiting for {what}; worker logs:\n{logs}")

    def scored_windows(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for record in self.records("scores"):
            found.setdefault(record.record["channel"], []).append(record.record["window_end"])
        return found

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self._reader is not None:
            self._reader.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def make_pipeline(kafka_cluster, stream_models) -> Callable[..., Pipeline]:
    """Makes a :class:`Pipeline` with topics of its own, scoring with ``models`` (anything with the
    ``root``, ``window`` and ``stride`` of a model store; default: ``stream_models``); the caller
    closes it."""
    return lambda workdir, name, models=stream_models: Pipeline(kafka_cluster, models, workdir, name)


@pytest.fixture
def pipeline(make_pipeline, tmp_path, request) -> Iterator[Pipeline]:
    pipe = make_pipeline(tmp_path, re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:40].strip("-"))
    yield pipe
    pipe.close()
