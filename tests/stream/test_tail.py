"""Printing alerts: the line format and `streamproc alerts tail` against the broker."""

from __future__ import annotations

import pytest

from streamproc.fusion import ChannelFusion, DetectorVerdict, Fuser, WindowVerdicts
from streamproc.serde import Codec
from streamproc.stream import TopicReader, format_alert, tail_alerts


def alert_records() -> list[dict]:
    fuser = Fuser(open_after=1, resolve_after=1)
    state = ChannelFusion()
    events = []
    for end, score in ((1_700_000_000_000, 5.0), (1_700_000_001_000, 0.2)):
        verdict = DetectorVerdict("pca", "v1", score, 0.5, (0.1, 0.6, 0.3))
        events += fuser.fuse(state, WindowVerdicts("pump-7", end, [verdict], ["temp", "flow", "rpm"]))
    return [e.to_record() for e in events]


def test_format_alert():
    opened, resolved = alert_records()
    line = format_alert(opened)
    assert line.startswith("2023-11-14 22:13:20  OPEN      pump-7  CRITICAL  fused 10.00  pca 5/0.5")
    assert "top flow 60%, rpm 30%, temp 10%" in line and line.endswith(f"[id {opened['alert_id'][:8]}]")
    assert format_alert(resolved).startswith("2023-11-14 22:13:21  RESOLVED  pump-7  LOW")
    assert format_alert(opened, when=False).startswith("OPEN ")
    unnamed = {**opened, "top_features": [{"index": 2, "name": None, "contribution": 0.5}]}
    assert "top #2 50%" in format_alert(unnamed)


@pytest.mark.broker
def test_tail_prints_the_alerts_topic(kafka_cluster, make_topic):
    from confluent_kafka import Producer

    topic = make_topic(partitions=2)
    codec = Codec()
    producer = Producer(kafka_cluster.producer_config())
    records = alert_records()
    for record in records:
        producer.produce(topic, key=record["channel"].encode(), value=codec.encode("Alert", record))
    producer.produce(topic, key=b"x", value=b"not an alert")
    producer.flush(10)
    lines: list[str] = []
    with TopicReader(kafka_cluster.consumer_config("tail-test"), [topic]) as reader:
        printed = tail_alerts(reader, lines.append, follow=False, idle_s=1.0)
    assert printed == 2 and [line.split()[2] for line in lines] == ["OPEN", "RESOLVED"]
    with TopicReader(kafka_cluster.consumer_config("tail-test"), [topic]) as reader:
        tail_alerts(reader, lines.append, follow=False, idle_s=1.0, channel="other", as_json=True)
    assert len(lines) == 2


@pytest.mark.broker
def test_alerts_feedback_sends_a_verdict_keyed_by_alert(kafka_cluster, make_topic, run_cli, monkeypatch):
    topic = make_topic(partitions=2)
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_cluster.bootstrap)
    monkeypatch.setenv("STREAMPROC_TOPICS__FEEDBACK", topic)
    status, _, err = run_cli(
        "alerts", "feedback", "1b2c3d4e-0000", "--verdict", "false-positive", "--author", "op", "--note", "maintenance"
    )
    assert status == 0 and "sent FALSE_POSITIVE on alert 1b2c3d4e-0000" in err
    with TopicReader(kafka_cluster.consumer_config("feedback-test"), [topic]) as reader:
        records = []
        for _ in range(20):
            records += list(reader.poll(0.5))
            if records:
                break
    (sent,) = records
    assert sent.schema == "Feedback"
    assert {k: sent.record[k] for k in ("alert_id", "verdict", "author", "note")} == {
        "alert_id": "1b2c3d4e-0000",
        "verdict": "FALSE_POSITIVE",
        "author": "op",
        "note": "maintenance",
    }


def test_alerts_feedback_rejects_an_unknown_verdict_in_one_line(run_cli, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:1")
    status, _, err = run_cli("alerts", "feedback", "abc", "--verdict", "maybe")
    assert status == 2  # a usage error, as click reports every one
    (line,) = err.splitlines()
    assert line.startswith("error: ") and "--verdict" in line and "'maybe'" in line
    assert all(choice in line for choice in ("true-positive", "false-positive", "unsure"))
