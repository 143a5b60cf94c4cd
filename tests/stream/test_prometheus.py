"""A real Prometheus (Debian's, started here on a loopback port) scrapes a running worker, and
the series operators rely on are queried back through its HTTP API."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prometheus:
    def __init__(self, binary: str, root, target_port: int) -> None:
        (root / "prometheus.yml").write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {"job_name": "streamproc", "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}
                    ],
                }
            )
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = (root / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={root / 'prometheus.yml'}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.root = root

    def query(self, expr: str) -> list[dict]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]["result"]

    def wait_for(self, expr: str, timeout: float = 60.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, (self.root / "prometheus.log").read_text()[-3000:]
            try:
                found = self.query(expr)
                if found:
                    return found
            except OSError:
                pass
            assert time.monotonic() < deadline, f"Prometheus has no series for {expr}"
            time.sleep(0.5)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self._log.close()


def test_prometheus_scrapes_the_worker_series_operators_rely_on(
    pipeline, stream_models, tmp_path, system_program
) -> None:
    binary = system_program("prometheus", package="prometheus")
    worker = pipeline.start_worker(env={"STREAMPROC_WORKER__LOG_FORMAT": "json"})
    channels = [stream_models.channels[name] for name in ("a0", "clean0")]
    pipeline.produce(channels, 0, 200)
    pipeline.wait_for(lambda: sum(map(len, pipeline.scored_windows().values())) > 0, what="a scored window")
    prometheus = Prometheus(binary, tmp_path, worker.port)
    try:
        assert prometheus.wait_for('up{job="streamproc"} == 1')
        (build,) = prometheus.wait_for("streamproc_build_info")
        assert build["metric"]["version"] and build["metric"]["python"]
        assert float(prometheus.wait_for("process_resident_memory_bytes")[0]["value"][1]) > 0
        assert prometheus.wait_for('streamproc_windows_scored_total{detector="pca"} > 0')
        ratios = prometheus.wait_for("streamproc_channel_score_ratio")
        assert {r["metric"]["channel"] for r in ratios} == {"a0", "clean0"}
        assert {r["metric"]["channel"] for r in prometheus.wait_for('streamproc_model_info{detector="pca"}')} == {
            "a0",
            "clean0",
        }
        # What the chart's "no readings" rule computes: seconds since each channel's last reading.
        silent = prometheus.wait_for("time() - streamproc_channel_last_reading_timestamp_seconds")
        assert len(silent) == 2
        assert prometheus.wait_for("streamproc_consumer_lag_messages")
        assert {r["metric"]["severity"] for r in prometheus.wait_for("streamproc_open_alerts")} == {
            "LOW",
            "MEDIUM",
            "HIGH",
            "CRITICAL",
        }
        assert prometheus.wait_for("histogram_quantile(0.99, rate(streamproc_reading_to_score_seconds_bucket[1m]))")
    finally:
        prometheus.close()
    # The worker logged JSON lines only.
    lines = [line for line in worker.log().splitlines() if line.strip()]
    assert lines and all(isinstance(json.loads(line), dict) for line in lines), lines[:5]
