"""Regression test for tansu's end-offset quirk (DESIGN.md, "Running locally").

tansu reports a partition's end offset (high watermark) as the base offset of the last batch
plus one, so after a batch of several records the end offset is too small and Faust's table
recovery stops early. The embedded producer settings (EMBEDDED_OVERRIDES: one record per batch)
work around it.

How to read the results against the embedded broker:
- ``test_one_record_per_batch_gives_the_true_end_offset`` passes: the workaround works.
- ``test_multi_record_batch_end_offset`` XFAILs with "quirk present": tansu still has the bug.
  If it FAILS saying the quirk is gone, tansu was fixed: drop the one-record-per-batch producer
  overrides from ``streamproc/kafka/_overrides.py`` (and this expectation).
Against any other cluster (KAFKA_BOOTSTRAP) both must simply report the true end offset.
"""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from streamproc.kafka import EMBEDDED_OVERRIDES

BATCH = 5


def _end_offset(cluster, topic: str) -> int:
    consumer = Consumer({**cluster.admin_config(), "group.id": "end-offset-probe"})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False)
    finally:
        consumer.close()
    assert low == 0
    return high


@pytest.mark.broker
def test_one_record_per_batch_gives_the_true_end_offset(kafka_cluster, kafka_io, make_topic):
    topic = make_topic(partitions=1)
    one_per_batch = {**kafka_cluster.admin_config(), **EMBEDDED_OVERRIDES.producer}
    kafka_io.produce(one_per_batch, topic, [(None, b"r%d" % i) for i in range(BATCH)])
    stored = kafka_io.read_all(kafka_cluster.admin_config(), topic, partitions=1, expected=BATCH)
    assert [m.offset() for m in stored] == list(range(BATCH))
    assert _end_offset(kafka_cluster, topic) == BATCH


@pytest.mark.broker
def test_multi_record_batch_end_offset(kafka_cluster, kafka_io, make_topic):
    topic = make_topic(partitions=1)
    # A long linger holds every record until flush() sends them as one batch.
    batching = {**kafka_cluster.admin_config(), "linger.ms": 5000, "batch.num.messages": 1000}
    kafka_io.produce(batching, topic, [(None, b"r%d" % i) for i in range(BATCH)])
    stored = kafka_io.read_all(kafka_cluster.admin_config(), topic, partitions=1, expected=BATCH)
    assert [m.offset() for m in stored] == list(range(BATCH)), "records of the batch were lost"

    end = _end_offset(kafka_cluster, topic)
    if not kafka_cluster.embedded:
        assert end == BATCH
        return
    if end == BATCH:
        pytest.fail(
            f"tansu's end-offset quirk is gone: a {BATCH}-record batch now gives end offset "
            f"{BATCH}. Drop the one-record-per-batch producer overrides in "
            "streamproc/kafka/_overrides.py and update this test."
        )
    assert end == 1, (
        f"the end-offset quirk changed shape: a {BATCH}-record batch at offset 0 gives "
        f"end offset {end}, expected {BATCH} (fixed) or 1 (known quirk)"
    )
    pytest.xfail(f"quirk present: {BATCH} records in one batch, end offset reported as {end}")
