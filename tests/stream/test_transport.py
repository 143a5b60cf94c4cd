"""The worker's Faust transport: a seek waits for the batch being delivered (the readings lost in a
takeover under CPU starvation)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import faust
import pytest
from aiokafka import TopicPartition

from streamproc.stream._transport import PositionSafeConsumer, broker_urls

TOPIC = "readings"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


@dataclass
class Record:
    partition: int
    offset: int
    topic: str = TOPIC
    timestamp: int = 0
    timestamp_type: int = 0
    headers: tuple = ()
    key: bytes = b"k"
    value: bytes = b"v"
    checksum: None = None
    serialized_key_size: int = 1
    serialized_value_size: int = 1


def records(tp: TopicPartition, first: int, last: int) -> list[Record]:
    return [Record(tp.partition, offset) for offset in range(first, last + 1)]


@dataclass
class FakeKafkaConsumer:
    """What ``_rewind_unmoved`` uses of aiokafka's consumer."""

    positions: dict[TopicPartition, int]
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset


class FakeConsumerThread:
    """Stands in for Faust's aiokafka thread: hands out prepared batches, records seeks."""

    def __init__(self, kafka: FakeKafkaConsumer) -> None:
        self.kafka = kafka
        self.batches: list[dict[TopicPartition, list[Record]]] = []
        self.fetching = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        self.committed = {P0: 0, P1: 0}
        self.committed_seeks = 0

    async def getmany(self, active_partitions: Any, timeout: float) -> dict[TopicPartition, list[Record]]:
        self.fetching.set()
        await self.release.wait()
        batch = self.batches.pop(0)
        for tp, recs in batch.items():
            self.kafka.positions[tp] = recs[-1].offset + 1
        return batch

    async def seek_to_committed(self) -> dict[TopicPartition, int]:
        self.committed_seeks += 1
        self.kafka.positions.update(self.committed)
        return dict(self.committed)

    def highwater(self, tp: TopicPartition) -> int:
        return 1000

    def _ensure_consumer(self) -> FakeKafkaConsumer:
        return self.kafka

    async def call_thread(self, fun: Any, *args: Any) -> Any:
        return await fun(*args)


def with_consumer(scenario: Any) -> Any:
    """Run ``scenario(consumer)`` in an event loop, with a consumer whose thread is a fake."""

    async def main() -> Any:
        app = faust.App("transport-test", broker=broker_urls(["localhost:1"], embedded=False))
        consumer = app.consumer
        assert isinstance(consumer, PositionSafeConsumer)
        consumer._thread = FakeConsumerThread(FakeKafkaConsumer({P0: 0, P1: 0}))
        consumer._set_active_tps({P0, P1})
        return await scenario(consumer)

    return asyncio.run(main())


async def deliver(consumer: PositionSafeConsumer) -> list[tuple[int, int]]:
    return [(tp.partition, message.offset) async for tp, message in consumer.getmany(timeout=1.0)]


def test_broker_urls_select_the_transport():
    assert broker_urls(["a:9092"], embedded=False) == ["streamproc-kafka://a:9092"]
    assert broker_urls(["a:9092"], embedded=True) == ["streamproc-tansu://a:9092"]


def test_a_seek_waits_until_the_fetched_batch_is_delivered():
    async def scenario(consumer: PositionSafeConsumer) -> None:
        thread = consumer._thread
        thread.batches.append({P0: records(P0, 0, 3)})
        delivery = consumer.getmany(timeout=1.0)
        await delivery.__anext__()
        seek = asyncio.ensure_future(consumer.perform_seek())
        await asyncio.sleep(0.01)
        assert thread.committed_seeks == 0 and not seek.done()
        rest = [message.offset async for _, message in delivery]
        await asyncio.wait_for(seek, timeout=1)
        assert rest == [1, 2, 3] and thread.committed_seeks == 1

    with_consumer(scenario)


def test_a_seek_from_inside_the_delivery_does_not_wait_for_itself():
    async def scenario(consumer: PositionSafeConsumer) -> None:
        # Faust's getmany seeks back to the committed offsets itself when the flow stopped during the fetch.
        thread = consumer._thread
        thread.batches.append({P0: records(P0, 0, 3)})
        thread.release.clear()
        delivery = asyncio.ensure_future(deliver(consumer))
        await thread.fetching.wait()
        consumer.stop_flow()
        thread.release.set()
        assert await asyncio.wait_for(delivery, timeout=1) == []
        assert thread.committed_seeks == 1

    with_consumer(scenario)


def test_a_delivery_abandoned_by_a_failed_fetch_loop_does_not_block_the_next():
    async def scenario(consumer: PositionSafeConsumer) -> None:
        thread = consumer._thread
        thread.batches += [{P0: records(P0, 0, 3)}, {P0: records(P0, 4, 5)}]

        kept = []  # Faust's crash handling keeps the traceback, and with it the open generator

        async def failing_fetch_loop() -> None:
            delivery = consumer.getmany(timeout=1.0)
            kept.append(delivery)
            async for _ in delivery:
                raise RuntimeError("callback failed")

        with pytest.raises(RuntimeError):
            await asyncio.ensure_future(failing_fetch_loop())
        # The recovery's seek and Faust's restarted fetcher (a new task) both go through.
        await asyncio.wait_for(consumer.perform_seek(), timeout=1)
        assert await asyncio.wait_for(asyncio.ensure_future(deliver(consumer)), timeout=1) == [(0, 4), (0, 5)]

    with_consumer(scenario)
