"""A consumer group picks up exactly where its committed offsets say."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition


@pytest.mark.broker
def test_new_member_resumes_after_the_committed_offsets(kafka_cluster, kafka_io, make_topic, unique_topic_name):
    topic = make_topic(partitions=2)
    values = [f"m{i:02d}".encode() for i in range(20)]
    kafka_io.produce(kafka_cluster.producer_config(), topic, [(None, v) for v in values[0::2]], partition=0)
    kafka_io.produce(kafka_cluster.producer_config(), topic, [(None, v) for v in values[1::2]], partition=1)
    group = unique_topic_name("group")
    settings = {"auto.offset.reset": "earliest", "enable.auto.commit": False}

    first = Consumer(kafka_cluster.consumer_config(group, settings))
    first.subscribe([topic])
    seen_first = kafka_io.poll(first, 8)
    last = {}
    for message in seen_first:
        last[message.partition()] = message.offset()
    first.commit(offsets=[TopicPartition(topic, p, o + 1) for p, o in last.items()], asynchronous=False)
    first.close()

    second = Consumer(kafka_cluster.consumer_config(group, settings))
    second.subscribe([topic])
    try:
        seen_second = kafka_io.poll(second, len(values) - len(seen_first))
        committed = second.committed([TopicPartition(topic, p) for p in (0, 1)], timeout=10)
    finally:
        second.close()

    # Nothing repeated, nothing skipped.
    assert sorted(m.value() for m in seen_first + seen_second) == values
    for partition in (0, 1):
        resumed = [m.offset() for m in seen_second if m.partition() == partition]
        expected_start = last.get(partition, -1) + 1
        assert resumed == list(range(expected_start, 10)), f"partition {partition}"
    assert {tp.partition: tp.offset for tp in committed} == {p: o + 1 for p, o in last.items()} | {
        p: -1001 for p in (0, 1) if p not in last
    }
