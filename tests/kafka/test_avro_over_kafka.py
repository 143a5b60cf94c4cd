"""SensorReading records produced and consumed through the Avro codec, over a real broker."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamproc.serde import Codec


def _readings(count: int) -> list[dict]:
    return [
        {
            "channel": f"line-{i % 3}",
            "timestamp": 1_700_000_000_000 + 250 * i,
            "values": [i * 0.5, -float(i), 1e-300 * i],
            "feature_names": ["temp", "pressure", "flow"] if i % 2 else None,
            "missing": [1] if i % 5 == 0 else [],
        }
        for i in range(count)
    ]


@pytest.mark.broker
@pytest.mark.parametrize("wire_format", ["single-object", "confluent"])
def test_readings_round_trip_through_codec_and_broker(kafka_cluster, kafka_io, make_topic, wire_format):
    registry = (
        SchemaRegistryClient.new_client({"url": f"mock://kafka-{wire_format}"}) if wire_format == "confluent" else None
    )
    codec = Codec(registry=registry)
    assert codec.wire_format == wire_format
    topic = make_topic(partitions=2)
    readings = _readings(12)
    kafka_io.produce(
        kafka_cluster.producer_config(),
        topic,
        [(r["channel"].encode(), codec.encode("SensorReading", r)) for r in readings],
    )

    messages = kafka_io.read_all(kafka_cluster.admin_config(), topic, partitions=2, expected=len(readings))

    decoded = [codec.decode(m.value(), expect="SensorReading") for m in messages]
    assert {d.schema for d in decoded} == {"SensorReading"}
    assert all(m.key().decode() == d.record["channel"] for m, d in zip(messages, decoded, strict=False))
    by_time = sorted((d.record for d in decoded), key=lambda r: r["timestamp"])
    assert by_time == readings
    # Keyed by channel: each channel's readings stay in one partition, in order.
    for channel in {r["channel"] for r in readings}:
        own = [
            (m.partition(), d.record["timestamp"])
            for m, d in zip(messages, decoded, strict=False)
            if d.record["channel"] == channel
        ]
        assert len({p for p, _ in own}) == 1
        assert [t for _, t in own] == sorted(t for _, t in own)
