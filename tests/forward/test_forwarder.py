"""The forwarder's decisions, against receivers simulated with httpx.MockTransport: what
Alertmanager and a webhook receive, retries, dead letters, resends, and configuration errors."""

from __future__ import annotations

import json
import random

import httpx
import pytest

from streamproc.config import Settings
from streamproc.errors import StreamprocError
from streamproc.forward import (
    ALERTNAME,
    IDEMPOTENCY_HEADER,
    AlertForwarder,
    RetryPolicy,
    verify_signature,
)
from streamproc.pipeline import RawMessage
from streamproc.serde import Codec

NOW_S = 1_800_000_000.0
OPENED_MS = 1_799_999_000_000
KEY = "s3cret"


def alert(
    state: str = "OPEN",
    *,
    alert_id: str = "a1",
    severity: str = "HIGH",
    updated_at: int = OPENED_MS,
    resolved_at: int | None = None,
    channel: str = "pump-7",
) -> dict:
    return {
        "alert_id": alert_id,
        "channel": channel,
        "state": state,
        "opened_at": OPENED_MS,
        "updated_at": updated_at,
        "resolved_at": resolved_at,
        "severity": severity,
        "fused_score": 5.25,
        "detector_scores": [
            {"detector": "pca", "model_version": "v1", "score": 2.5, "threshold": 0.5},
            {"detector": "range", "model_version": "v1", "score": 3.0, "threshold": 1.0},
        ],
        "top_features": [
            {"index": 0, "name": "temp", "contribution": 0.41},
            {"index": 3, "name": None, "contribution": 0.22},
        ],
        "condition": "ANOMALY",
        "record_id": f"rid-{alert_id}-{state}-{updated_at}",
    }


def message(record: dict | None, *, offset: int = 0, partition: int = 1, value: bytes | None = None) -> RawMessage:
    if record is not None:
        value = Codec().encode("Alert", record)
    return RawMessage(b"pump-7", value, "alerts", partition, offset, NOW_S)


class Receiver:
    """Records requests; answers each with the next status of ``statuses`` (then 200)."""

    def __init__(self, *statuses: int, headers: dict | None = None) -> None:
        self.statuses = list(statuses)
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(
            status, headers=self.headers if status != 200 else {}, text="" if status == 200 else "receiver says no"
        )

    def bodies(self) -> list:
        return [json.loads(r.content) for r in self.requests]


def forwarder(
    receiver: Receiver, *, alertmanager: bool = True, webhook: bool = False, sleeps: list | None = None, **forward
) -> AlertForwarder:
    env = {}
    if alertmanager:
        env["STREAMPROC_FORWARD__ALERTMANAGER_URL"] = "http://am.example:9093/"
    if webhook:
        env["STREAMPROC_FORWARD__WEBHOOK_URL"] = "https://hooks.example/in/TOKEN123"
        env["STREAMPROC_FORWARD__WEBHOOK_SECRET"] = KEY
    settings = Settings.load(env=env, overrides={f"forward.{k}": v for k, v in forward.items()})
    sleeps = sleeps if sleeps is not None else []
    return AlertForwarder(
        settings,
        client=httpx.Client(transport=httpx.MockTransport(receiver)),
        codec=Codec(),
        clock=lambda: NOW_S,
        sleep=sleeps.append,
        rng=random.Random(0),
    )


def test_a_silent_channel_is_its_own_alertname_and_says_since_when() -> None:
    receiver = Receiver()
    fwd = forwarder(receiver)
    stale = {**alert(), "condition": "STALE", "fused_score": 0.0, "detector_scores": [], "top_features": []}
    assert fwd.handle(message(stale)) == []
    ((posted,),) = receiver.bodies()
    assert posted["labels"]["alertname"] == "StreamprocChannelStale" and posted["labels"]["detectors"] == ""
    assert posted["annotations"]["summary"] == "No readings from pump-7 since 2027-01-15T07:43:20.000Z"
    assert "silent" in posted["annotations"]["description"]


def test_an_open_alert_becomes_one_alertmanager_alert_with_routing_labels_and_explanation() -> None:
    receiver = Receiver()
    fwd = forwarder(
        receiver,
        labels={"site": "plant-1", "asset": "pump"},
        link_template="https://grafana.example/d/x?var-channel={channel}&from={opened_at_ms}",
        resend_interval_s=30,
    )
    assert fwd.handle(message(alert())) == []
    (request,) = receiver.requests
    assert request.url == "http://am.example:9093/api/v2/alerts"
    ((posted,),) = receiver.bodies()
    assert posted["labels"] == {
        "alertname": ALERTNAME,
        "alert_id": "a1",
        "channel": "pump-7",
        "severity": "high",
        "detectors": "pca,range",
        "site": "plant-1",
        "asset": "pump",
    }
    assert posted["startsAt"] == "2027-01-15T07:43:20.000Z"
    # Firing for four resend intervals from now unless posted again.
    assert posted["endsAt"] == "2027-01-15T08:02:00.000Z"
    notes = posted["annotations"]
    assert "pump-7" in notes["summary"] and "5.25" in notes["summary"]
    assert notes["top_features"] == "temp 41%, #3 22%"
    assert "pca 2.5/0.5" in notes["description"] and "range 3/1" in notes["description"]
    assert posted["generatorURL"] == f"https://grafana.example/d/x?var-channel=pump-7&from={OPENED_MS}"


def test_a_resolved_alert_ends_when_it_resolved_and_is_no_longer_resent() -> None:
    receiver = Receiver()
    fwd = forwarder(receiver)
    fwd.handle(message(alert()))
    resolved_ms = OPENED_MS + 500_000
    fwd.handle(message(alert("RESOLVED", updated_at=resolved_ms, resolved_at=resolved_ms), offset=1))
    posted = receiver.bodies()[1][0]
    assert posted["endsAt"] == "2027-01-15T07:51:40.000Z"
    assert posted["labels"]["alert_id"] == "a1"
    assert len(fwd.open) == 0
    receiver.requests.clear()
    assert fwd.resend() and receiver.requests == []


def test_a_resolution_stamped_in_the_future_still_ends_the_alert_now() -> None:
    receiver = Receiver()
    future = int(NOW_S * 1000) + 3_600_000
    forwarder(receiver).handle(message(alert("RESOLVED", updated_at=future, resolved_at=future)))
    assert receiver.bodies()[0][0]["endsAt"] == "2027-01-15T08:00:00.000Z"


def test_a_severity_change_retires_the_old_label_set_in_the_same_post() -> None:
    receiver = Receiver()
    fwd = forwarder(receiver)
    fwd.handle(message(alert(severity="MEDIUM")))
    fwd.handle(message(alert("UPDATE", severity="CRITICAL", updated_at=OPENED_MS + 10_000), offset=1))
    new, old = receiver.bodies()[1]
    assert new["labels"]["severity"] == "critical" and new["endsAt"] > "2027-01-15T08:00:00.000Z"
    assert old["labels"]["severity"] == "medium" and old["endsAt"] == "2027-01-15T08:00:00.000Z"


def test_open_alerts_are_resent_and_forgotten_with_their_partition() -> None:
    receiver = Receiver()
    fwd = forwarder(receiver)
    fwd.handle(message(alert(alert_id="a1"), partition=0))
    fwd.handle(message(alert(alert_id="a2", channel="fan-1"), partition=2))
    receiver.requests.clear()
    assert fwd.resend()
    assert sorted(a["labels"]["alert_id"] for a in receiver.bodies()[0]) == ["a1", "a2"]
    fwd.open.forget([2])
    receiver.requests.clear()
    fwd.resend()
    assert [a["labels"]["alert_id"] for a in receiver.bodies()[0]] == ["a1"]


def test_alerts_learnt_after_a_restart_are_resent_but_not_delivered_again() -> None:
    receiver = Receiver()
    fwd = forwarder(receiver, webhook=True)
    fwd.learn(message(alert()))
    fwd.learn(message(None, value=b"garbage", offset=1))
    assert receiver.requests == []
    fwd.resend()
    assert [r.url.host for r in receiver.requests] == ["am.example"]


def test_the_webhook_body_is_signed_and_carries_an_idempotency_key() -> None:
    receiver = Receiver()
    fwd = forwarder(receiver, alertmanager=False, webhook=True, labels={"site": "plant-1"})
    record = alert()
    fwd.handle(message(record))
    (request,) = receiver.requests
    assert str(request.url) == "https://hooks.example/in/TOKEN123"
    assert request.headers[IDEMPOTENCY_HEADER] == record["record_id"]
    assert verify_signature(KEY.encode(), request.headers, request.content, now_s=NOW_S)
    assert not verify_signature(b"other key", request.headers, request.content, now_s=NOW_S)
    assert not verify_signature(KEY.encode(), request.headers, request.content + b" ", now_s=NOW_S)
    assert not verify_signature(KEY.encode(), request.headers, request.content, now_s=NOW_S + 3600)  # a replay
    body = json.loads(request.content)
    assert body["alert"] == record and body["labels"] == {"site": "plant-1"}


def test_an_alert_without_record_id_gets_a_key_from_its_position() -> None:
    receiver = Receiver()
    fwd = forwarder(receiver, alertmanager=False, webhook=True)
    fwd.handle(message({**alert(), "record_id": ""}, offset=7))
    fwd.handle(message({**alert(), "record_id": ""}, offset=8))
    keys = [r.headers[IDEMPOTENCY_HEADER] for r in receiver.requests]
    assert all(keys) and keys[0] != keys[1]


def test_transient_failures_are_retried_with_growing_jittered_waits() -> None:
    receiver = Receiver(503, 502, 429)
    sleeps: list[float] = []
    fwd = forwarder(
        receiver, alertmanager=False, webhook=True, sleeps=sleeps, retries=4, backoff_s=1.0, max_backoff_s=3.0
    )
    assert fwd.handle(message(alert())) == []
    assert len(receiver.requests) == 4
    # Waits within [half, all] of 1, 2, then 4 capped at 3 seconds.
    assert len(sleeps) == 3
    for wait, ceiling in zip(sleeps, (1.0, 2.0, 3.0), strict=False):
        assert ceiling / 2 <= wait <= ceiling
    # The same delivery, same key, every time: the receiver can drop repeats.
    assert len({r.headers[IDEMPOTENCY_HEADER] for r in receiver.requests}) == 1
    samples = fwd.metrics.registry.get_sample_value
    assert samples("streamproc_forward_deliveries_total", {"sink": "webhook", "outcome": "retried"}) == 3
    assert samples("streamproc_forward_deliveries_total", {"sink": "webhook", "outcome": "delivered"}) == 1


def test_retry_after_is_honoured_up_to_the_longest_wait() -> None:
    sleeps: list[float] = []
    fwd = forwarder(Receiver(429, headers={"Retry-After": "2.5"}), sleeps=sleeps, backoff_s=0.1, max_backoff_s=4.0)
    fwd.handle(message(alert()))
    assert sleeps == [2.5]
    sleeps.clear()
    fwd = forwarder(Receiver(503, headers={"Retry-After": "600"}), sleeps=sleeps, backoff_s=0.1, max_backoff_s=4.0)
    fwd.handle(message(alert()))
    assert sleeps == [4.0]


def test_deliveries_that_keep_failing_are_dead_lettered_with_the_reason() -> None:
    receiver = Receiver(*[500] * 10)
    fwd = forwarder(receiver, webhook=True, retries=2, backoff_s=0.0)
    dead = fwd.handle(message(alert(), offset=41, partition=3))
    assert [d["reason"] for d in dead] == ["alertmanager-delivery-failed", "webhook-delivery-failed"]
    assert len(receiver.requests) == 6
    for letter in dead:
        assert (letter["topic"], letter["partition"], letter["offset"]) == ("alerts", 3, 41)
        assert letter["detail"].startswith("3 attempt(s)") and "HTTP 500: receiver says no" in letter["detail"]
        assert letter["payload"] == Codec().encode("Alert", alert())
    # The webhook's path may hold a token: the reason names its host only.
    assert "TOKEN123" not in dead[1]["detail"] and "hooks.example" in dead[1]["detail"]
    assert dead[0]["record_id"] != dead[1]["record_id"]


def test_a_refused_request_is_not_retried() -> None:
    receiver = Receiver(400)
    (dead,) = forwarder(receiver, retries=5).handle(message(alert()))
    assert len(receiver.requests) == 1 and "HTTP 400" in dead["detail"]


def test_an_unreachable_receiver_is_retried_then_dead_lettered() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    (dead,) = forwarder(refuse, retries=1, backoff_s=0.0).handle(message(alert()))
    assert "2 attempt(s)" in dead["detail"] and "connection failed" in dead["detail"]


def test_an_undecodable_message_is_dead_lettered_without_delivery() -> None:
    receiver = Receiver()
    (dead,) = forwarder(receiver).handle(message(None, value=b"\x00\x01not avro"))
    assert receiver.requests == [] and dead["reason"] in ("truncated", "unknown-magic", "unknown-schema-id")
    (dead,) = forwarder(receiver).handle(message(None, value=None))
    assert dead["reason"] == "truncated"


def test_a_failed_resend_is_reported_and_left_for_the_next_interval() -> None:
    receiver = Receiver()
    fwd = forwarder(receiver, retries=3)
    fwd.handle(message(alert()))
    receiver.statuses = [503]
    receiver.requests.clear()
    assert not fwd.resend()
    assert len(receiver.requests) == 1
    assert fwd.metrics.registry.get_sample_value("streamproc_forward_resends_total", {"outcome": "failed"}) == 1


@pytest.mark.parametrize(
    ("forward", "message_part"),
    [
        ({}, "nothing to forward to"),
        ({"labels": {"severity": "x"}}, "'severity' is set by streamproc itself"),
        ({"labels": {"bad-name": "x"}}, "'bad-name' is not a label name"),
        ({"link_template": "https://g/{nope}"}, "forward.link_template"),
    ],
)
def test_configuration_mistakes_are_refused_with_the_key(forward: dict, message_part: str) -> None:
    with pytest.raises(StreamprocError, match=message_part.replace("(", r"\(")):
        forwarder(Receiver(), alertmanager=bool(forward), **forward)


def test_retry_policy_waits_never_exceed_the_cap() -> None:
    policy, rng = RetryPolicy(retries=10, backoff_s=0.5, max_backoff_s=2.0), random.Random(1)
    waits = [policy.delay(n, rng) for n in range(1, 11)]
    assert all(0 < w <= 2.0 for w in waits) and waits[-1] >= 1.0


def test_a_record_the_sinks_cannot_take_is_dead_lettered_and_never_held_open() -> None:
    receiver = Receiver()
    fwd = forwarder(receiver, webhook=True)
    garbled = alert(alert_id="bad")
    garbled["opened_at"] = 1_700_000_000_000_000  # microseconds sent as milliseconds: year 55,840
    (dead,) = fwd.handle(message(garbled))
    assert dead["reason"] == "processing-error" and "out of range" in dead["detail"]
    fwd.learn(message(garbled))
    assert receiver.requests == [] and len(fwd.open) == 0
    assert fwd.handle(message(alert(), offset=1)) == []  # and the next message goes through


def test_a_non_finite_score_is_dead_lettered_rather_than_sent_as_invalid_json() -> None:
    receiver = Receiver()
    (dead,) = forwarder(receiver, alertmanager=False, webhook=True).handle(
        message({**alert(), "fused_score": float("nan")})
    )
    assert dead["reason"] == "processing-error" and receiver.requests == []


def test_a_forged_signature_header_is_rejected_not_raised() -> None:
    headers = {"X-Streamproc-Timestamp": str(int(NOW_S)), "X-Streamproc-Signature": "sha256=\u00e9\u00e9"}
    assert not verify_signature(KEY.encode(), headers, b"{}", now_s=NOW_S)
    assert not verify_signature(KEY.encode(), {**headers, "X-Streamproc-Timestamp": "soon"}, b"{}", now_s=NOW_S)


def test_a_resolution_arriving_on_another_partition_still_closes_the_alert() -> None:
    fwd = forwarder(Receiver())
    fwd.handle(message(alert(), partition=0))
    fwd.handle(message(alert("RESOLVED", updated_at=OPENED_MS + 1, resolved_at=OPENED_MS + 1), partition=5))
    assert len(fwd.open) == 0
