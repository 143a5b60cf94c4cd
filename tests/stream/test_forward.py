"""Alerts from the real worker reach a real Alertmanager (Debian's prometheus-alertmanager, started
here on a loopback port) and a signed webhook, through `streamproc alerts forward`'s loop: open,
then resolved; retried while the webhook fails; dead-lettered when it keeps refusing."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from streamproc.config import Settings
from streamproc.forward import IDEMPOTENCY_HEADER, run_forwarder, verify_signature
from streamproc.serde import Codec

pytestmark = [pytest.mark.broker, pytest.mark.timeout(300)]

KEY = "webhook-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """An HTTP endpoint on loopback keeping every request; ``answer(body)`` picks the status."""

    def __init__(self, answer: Callable[[bytes], int] = lambda body: 200) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((dict(self.headers.items()), body))
                self.send_response(answer(body))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory, system_program) -> Iterator[SimpleNamespace]:
    binary = system_program("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager")
    root = tmp_path_factory.mktemp("alertmanager")
    notifications = Receiver()
    # Notify at once and on resolution, so that both states can be read back.
    (root / "alertmanager.yml").write_text(
        json.dumps(
            {
                "route": {
                    "receiver": "test",
                    "group_by": ["alert_id"],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [{"name": "test", "webhook_configs": [{"url": notifications.url, "send_resolved": True}]}],
            }
        )
    )
    port = free_port()
    log = (root / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={root / 'alertmanager.yml'}",
            f"--storage.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def get(path: str):
        with urllib.request.urlopen(url + path, timeout=5) as response:
            return json.loads(response.read() or b"null")

    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (root / "alertmanager.log").read_text()
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "Alertmanager did not become ready"
                time.sleep(0.2)
        yield SimpleNamespace(url=url, get=get, notifications=notifications)
    finally:
        process.terminate()
        process.wait(10)
        log.close()
        notifications.close()


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def notified(alertmanager, alert_id: str, status: str) -> bool:
    """Whether Alertmanager has sent a notification with ``alert_id`` in state ``status``."""
    for _, body in alertmanager.notifications.requests:
        for item in json.loads(body)["alerts"]:
            if item["labels"].get("alert_id") == alert_id and item["status"] == status:
                return True
    return False


def test_worker_alerts_reach_alertmanager_and_a_signed_webhook(
    pipeline, stream_models, alertmanager, kafka_cluster
) -> None:
    channel = stream_models.channels["a0"]
    events = stream_models.backtest(channel).events
    opened = next(e for e in events if e.state == "OPEN")
    assert any(e.alert_id == opened.alert_id and e.state == "RESOLVED" for e in events), "the alert resolves"
    open_step = (opened.updated_at - stream_models.start_ms) // stream_models.step_ms

    codec = Codec()
    failures = {"left": 2}

    def webhook_answer(body: bytes) -> int:
        # Two transient failures first (retried), then every resolution refused for good (dead-lettered).
        if failures["left"]:
            failures["left"] -= 1
            return 503
        return 400 if json.loads(body)["alert"]["state"] == "RESOLVED" else 200

    hook = Receiver(webhook_answer)
    env = {
        **pipeline.env(),
        "STREAMPROC_FORWARD__ALERTMANAGER_URL": alertmanager.url,
        "STREAMPROC_FORWARD__WEBHOOK_URL": hook.url,
        "STREAMPROC_FORWARD__WEBHOOK_SECRET": KEY,
        "STREAMPROC_FORWARD__GROUP_ID": f"{pipeline.app_id}-forward",
        "STREAMPROC_FORWARD__LABELS__SITE": "plant-1",
        "STREAMPROC_FORWARD__RESEND_INTERVAL_S": "1",
        "STREAMPROC_FORWARD__BACKOFF_S": "0.05",
        "STREAMPROC_FORWARD__RETRIES": "3",
    }
    settings = Settings.load(env=env)
    stop = threading.Event()
    ready: dict = {}
    failed: list[BaseException] = []

    def forward() -> None:
        try:
            run_forwarder(
                settings,
                overrides=kafka_cluster.overrides,
                stop=stop,
                metrics_port=0,
                on_ready=lambda forwarder, port: ready.update(forwarder=forwarder, port=port),
            )
        except BaseException as exc:  # reported by the test thread
            failed.append(exc)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        wait_until(lambda: failed or ready.get("forwarder") is not None, "the forwarder to start")
        assert not failed, failed
        metrics = ready["forwarder"].metrics.registry.get_sample_value
        wait_until(lambda: metrics("streamproc_forward_assigned_partitions") == 4, "the forwarder's partitions")

        pipeline.start_worker()
        pipeline.produce([channel], 0, open_step + 1)
        pipeline.wait_for(
            lambda: any(r.record["alert_id"] == opened.alert_id for r in pipeline.records("alerts")),
            what="the alert to open",
        )
        # Firing in Alertmanager, with the routing labels and the explanation.
        wait_until(
            lambda: any(a["labels"].get("alert_id") == opened.alert_id for a in alertmanager.get("/api/v2/alerts")),
            "Alertmanager to list the alert",
        )
        (firing,) = [a for a in alertmanager.get("/api/v2/alerts") if a["labels"]["alert_id"] == opened.alert_id]
        assert firing["status"]["state"] == "active"
        assert firing["labels"]["channel"] == "a0" and firing["labels"]["site"] == "plant-1"
        assert firing["labels"]["alertname"] == "StreamprocAnomaly" and firing["labels"]["detectors"] == "pca"
        assert "a0" in firing["annotations"]["summary"] and firing["annotations"]["top_features"]
        wait_until(lambda: notified(alertmanager, opened.alert_id, "firing"), "a firing notification")

        pipeline.produce([channel], open_step + 1)
        pipeline.wait_for(
            lambda: any(
                r.record["alert_id"] == opened.alert_id and r.record["state"] == "RESOLVED"
                for r in pipeline.records("alerts")
            ),
            what="the alert to resolve",
        )
        wait_until(
            lambda: not any(a["labels"].get("alert_id") == opened.alert_id for a in alertmanager.get("/api/v2/alerts")),
            "Alertmanager to end the alert",
        )
        wait_until(lambda: notified(alertmanager, opened.alert_id, "resolved"), "a resolved notification")

        # The webhook: every alert message, signed, keyed by its record id; resolutions dead-lettered.
        # The stream is read to its end first: later alerts of the channel would reach the webhook too.
        pipeline.wait_for(lambda: len(pipeline.records("alerts")) >= len(events), what="the backtest's every alert")
        alerts = [r.record for r in pipeline.records("alerts")]
        assert len(alerts) == len(events)
        resolved = [a for a in alerts if a["state"] == "RESOLVED"]
        pipeline.wait_for(
            lambda: (
                len([r for r in pipeline.records("dead_letter") if r.record["reason"] == "webhook-delivery-failed"])
                == len(resolved)
            ),
            what="the refused resolutions' dead letters",
        )
        keys = set()
        for headers, body in hook.requests:
            assert verify_signature(KEY.encode(), headers, body, now_s=time.time()), "unsigned or tampered"
            keys.add(headers[IDEMPOTENCY_HEADER])
        assert keys == {a["record_id"] for a in alerts}
        for letter in pipeline.records("dead_letter"):
            assert letter.record["topic"] == pipeline.topics["alerts"]
            assert codec.decode(letter.record["payload"]).record["state"] == "RESOLVED"
            assert "HTTP 400" in letter.record["detail"]
        assert metrics("streamproc_forward_deliveries_total", {"sink": "webhook", "outcome": "retried"}) >= 2
        assert metrics("streamproc_forward_deliveries_total", {"sink": "alertmanager", "outcome": "delivered"}) == len(
            alerts
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{ready['port']}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        stop.set()
        thread.join(30)
        hook.close()
    assert not failed, failed


def test_a_new_forwarder_learns_which_alerts_are_open_and_posts_only_those(pipeline, kafka_cluster) -> None:
    """Alerts already on the topic are not delivered again (a new group starts at the end), but
    read back: the open one is posted to Alertmanager at once, the resolved one is not."""
    import httpx
    from confluent_kafka import Producer

    codec = Codec()

    def alert(alert_id: str, state: str, channel: str) -> dict:
        now = int(time.time() * 1000)
        return {
            "alert_id": alert_id,
            "channel": channel,
            "state": state,
            "opened_at": now - 60_000,
            "updated_at": now,
            "resolved_at": now if state == "RESOLVED" else None,
            "severity": "HIGH",
            "fused_score": 3.0,
            "detector_scores": [],
            "top_features": [],
            "record_id": f"{alert_id}-{state}",
        }

    producer = Producer(kafka_cluster.producer_config())
    for record in (alert("a1", "OPEN", "c1"), alert("a2", "OPEN", "c2"), alert("a1", "RESOLVED", "c1")):
        producer.produce(pipeline.topics["alerts"], key=record["channel"].encode(), value=codec.encode("Alert", record))
    assert producer.flush(15) == 0

    posted: list[list[dict]] = []
    client = httpx.Client(
        transport=httpx.MockTransport(lambda request: posted.append(json.loads(request.content)) or httpx.Response(200))
    )
    env = {
        **pipeline.env(),
        "STREAMPROC_FORWARD__ALERTMANAGER_URL": "http://alertmanager.invalid:9093",
        "STREAMPROC_FORWARD__GROUP_ID": f"{pipeline.app_id}-learn",
    }
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forwarder,
        args=(Settings.load(env=env),),
        daemon=True,
        kwargs={"overrides": kafka_cluster.overrides, "stop": stop, "client": client, "metrics_port": 0},
    )
    thread.start()
    try:
        wait_until(lambda: posted, "the open alerts to be posted")
        assert [a["labels"]["alert_id"] for a in posted[0]] == ["a2"]
        assert posted[0][0]["endsAt"] > posted[0][0]["startsAt"]
    finally:
        stop.set()
        thread.join(30)
