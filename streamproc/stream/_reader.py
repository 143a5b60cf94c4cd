"""Reading the pipeline's output topics outside a consumer group (alerts tail, demo, tests)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streamproc.errors import StreamprocError
from streamproc.kafka import CLIENT_LOG
from streamproc.pipeline import RawMessage
from streamproc.serde import Codec, DecodeError

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicRecord:
    """A decoded message: its topic, schema, record and Kafka timestamp (seconds)."""

    topic: str
    schema: str
    record: dict[str, Any]
    timestamp: float
    partition: int
    offset: int


class TopicReader:
    """Reads every partition of some topics, from their beginning or their end, without joining a
    consumer group: nothing is committed, and several readers never share the messages."""

    def __init__(
        self,
        consumer_config: Mapping[str, Any],
        topics: Sequence[str],
        *,
        from_beginning: bool = True,
        codec: Codec | None = None,
        timeout: float = 10.0,
    ) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

        self.codec = codec or Codec()
        config = {
            "group.id": "streamproc-reader",
            "logger": CLIENT_LOG,
            **consumer_config,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
        self._consumer = Consumer(config)
        try:
            metadata = self._consumer.list_topics(timeout=timeout)
        except KafkaException as exc:
            self._consumer.close()
            raise StreamprocError(
                f"cannot reach the Kafka cluster at {config.get('bootstrap.servers')}: "
                f"{exc.args[0].str() if exc.args else exc}"
            ) from None
        partitions = []
        for topic in topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                raise StreamprocError(f"topic {topic!r} does not exist on {config.get('bootstrap.servers')}")
            for partition in sorted(found.partitions):
                # The end is looked up now rather than left to the first fetch, so that
                # messages produced between this call and that fetch are not missed.
                start = (
                    OFFSET_BEGINNING
                    if from_beginning
                    else self._consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)[1]
                )
                partitions.append(TopicPartition(topic, partition, start))
        self._consumer.assign(partitions)
        self._partitions = Counter(tp.topic for tp in partitions)

    def partition_count(self, topic: str) -> int:
        """How many partitions of ``topic`` this reader reads."""
        return self._partitions[topic]

    def poll_raw(self, timeout: float = 0.5) -> list[RawMessage]:
        """The messages available within ``timeout``, undecoded.

        Returns as soon as a message arrives (with whatever else is already there): ``consume``
        alone would wait for a full batch.
        """
        first = self._consumer.poll(timeout)
        if first is None:
            return []
        messages = []
        for message in [first, *self._consumer.consume(10_000, 0)]:
            if message.error() is not None:
                _LOG.debug("consumer: %s", message.error())
                continue
            messages.append(message)
        return [RawMessage.from_confluent(m) for m in messages]

    def poll(self, timeout: float = 0.5) -> Iterator[TopicRecord]:
        """Decoded messages available within ``timeout``; undecodable ones are logged and skipped."""
        for message in self.poll_raw(timeout):
            try:
                schema, record = self.codec.decode(message.value or b"")
            except DecodeError as exc:
                _LOG.warning(
                    "skipping an undecodable message at %s[%d]@%d: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    exc,
                )
                continue
            yield TopicRecord(message.topic, schema, record, message.timestamp, message.partition, message.offset)

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
