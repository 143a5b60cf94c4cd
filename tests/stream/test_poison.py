"""No input stops a worker: messages up to the cluster's size limit are dead-lettered, bounded,
and the stream goes on (a 1 MB dead letter used to exceed the producer's limit and kill it)."""

from __future__ import annotations

import hashlib
import os

import pytest
from test_pipeline import STEPS, all_scored

from streamproc.pipeline import DEAD_LETTER_PAYLOAD_BYTES

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]

# 1 MB, and just under stock Kafka's limit (message.max.bytes 1,048,588 less a record's framing).
SIZES = (1_000_000, 1_048_000)


def test_messages_up_to_the_size_limit_are_dead_lettered_and_the_worker_goes_on(pipeline, stream_models):
    from confluent_kafka import Producer

    worker = pipeline.start_worker()
    channels = [stream_models.channels[n] for n in ("clean0", "a2")]
    pipeline.produce(channels, 0, STEPS // 2)
    producer = Producer({**pipeline.cluster.producer_config(), "message.max.bytes": 2_000_000})
    payloads = [b"\xc3\x01" + os.urandom(size - 2) for size in SIZES]  # single-object marker, garbage after
    for payload in payloads:
        producer.produce(pipeline.topics["readings"], key=b"clean0", value=payload)
    assert producer.flush(30) == 0
    pipeline.produce(channels, STEPS // 2, STEPS)
    pipeline.wait_for(all_scored(pipeline, [c.name for c in channels]), what="every window scored", timeout=120)
    pipeline.wait_for(lambda: len(pipeline.records("dead_letter")) >= len(SIZES), what="the dead letters")

    assert worker.process.poll() is None, f"the worker died:\n{worker.log()[-3000:]}"
    letters = sorted((r.record for r in pipeline.records("dead_letter")), key=lambda r: r["payload_size"])
    assert [letter["payload_size"] for letter in letters] == list(SIZES)
    for letter, payload in zip(letters, payloads, strict=False):
        assert letter["payload_truncated"] and letter["payload"] == payload[:DEAD_LETTER_PAYLOAD_BYTES]
        assert letter["payload_sha256"] == hashlib.sha256(payload).hexdigest()
        assert letter["key"] == b"clean0" and letter["reason"]
    # The readings around them were all used: the planted anomalies still raise their alerts.
    assert [(a, s, t) for a, s, t in alert_keys(pipeline, "a2")] == stream_models.offline_alerts(
        stream_models.channels["a2"]
    )


def alert_keys(pipeline, channel):
    return [
        (r.record["alert_id"], r.record["state"], r.record["updated_at"])
        for r in pipeline.records("alerts")
        if r.record["channel"] == channel
    ]
