"""confluent-kafka helpers the broker tests share, as the ``kafka_io`` fixture."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition


def produce(config: dict, topic: str, messages: list[tuple[bytes | None, bytes]], partition: int | None = None) -> None:
    """Send ``(key, value)`` pairs and wait until every one is acknowledged."""
    producer = Producer(config)
    failures: list[str] = []

    def delivered(error, message):
        if error is not None:
            failures.append(str(error))

    for key, value in messages:
        extra = {} if partition is None else {"partition": partition}
        producer.produce(topic, value=value, key=key, on_delivery=delivered, **extra)
    assert producer.flush(10) == 0, "messages still unacknowledged after 10s"
    assert not failures, failures


def read_all(config: dict, topic: str, partitions: int, expected: int, timeout: float = 10.0) -> list[Message]:
    """Read ``expected`` messages from the start of every partition, without a consumer group."""
    consumer = Consumer({**config, "group.id": "unused-assign-only", "enable.auto.commit": False})
    try:
        # Offset 0 rather than OFFSET_BEGINNING: resolving the logical offset costs librdkafka a
        # 500 ms retry on a freshly assigned partition, and test topics are new and never trimmed.
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        return poll(consumer, expected, timeout)
    finally:
        consumer.close()


def poll(consumer: Consumer, count: int, timeout: float = 15.0) -> list[Message]:
    """Exactly ``count`` messages from ``consumer`` (fails if they do not arrive in time)."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"got {len(messages)} of {count} messages within {timeout}s"
        message = consumer.poll(min(remaining, 0.5))
        if message is None:
            continue
        assert message.error() is None, message.error()
        messages.append(message)
    return messages


@pytest.fixture
def kafka_io() -> SimpleNamespace:
    """``produce``, ``read_all`` and ``poll``: blocking helpers whose failures are assertions."""
    return SimpleNamespace(produce=produce, read_all=read_all, poll=poll)
