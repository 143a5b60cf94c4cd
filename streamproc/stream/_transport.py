"""The Faust transports of a worker: aiokafka, with fetched records that cannot be lost.

Faust (0.15) can lose records across a rebalance, measured in a takeover under CPU starvation
(issue 4): Faust filters the records aiokafka returns by the partitions it considers active at
that moment and silently drops the rest, although aiokafka has already moved its position past
them; and after a rebalance it seeks to the committed offsets while its fetch loop keeps
delivering records from the old positions, then resets its read offsets under records already
delivered, and later commits over the resulting "gap". :class:`PositionSafeConsumer` closes
both holes: a seek never runs while a fetched batch is being delivered, and any record of a
batch that was not delivered is fetched again, unless something else moved the position since.

:class:`EmbeddedTransport` adds what the embedded broker needs: tansu answers a fetch only when
the request's maximum wait has passed, even when records arrive sooner, and Faust asks for up to
1.5 s, so every record would wait about that long. On other brokers a long wait costs nothing,
because they answer as soon as records arrive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "streamproc-kafka"
EMBEDDED_SCHEME = "streamproc-tansu"
EMBEDDED_FETCH_MAX_WAIT_MS = 20
_LOG = logging.getLogger(__name__)


class PositionSafeConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, with seeks serialised against delivery and undelivered
    records fetched again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Held from the moment records are fetched until the batch has been delivered; not
        # while waiting for the flow to resume, which a seek of the recovery precedes.
        self._delivering = asyncio.Lock()
        self._delivering_task: asyncio.Task[Any] | None = None
        self._fetched: Mapping[Any, list[Any]] = {}

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        await self._delivering.acquire()
        self._delivering_task = asyncio.current_task()
        try:
            records = await super()._getmany(active_partitions, timeout)
        except BaseException:
            self._end_delivery()
            raise
        self._fetched = records or {}
        return records

    async def getmany(self, timeout: float) -> AsyncIterator[Any]:
        try:
            delivered: dict[Any, int] = {}
            async for tp, message in super().getmany(timeout):
                delivered[tp] = message.offset
                yield tp, message
            await self._refetch_undelivered(delivered)
        finally:
            self._end_delivery()

    def _end_delivery(self) -> None:
        self._fetched = {}
        if self._delivering_task is not None:
            self._delivering_task = None
            self._delivering.release()

    async def perform_seek(self) -> None:
        # Faust's own getmany seeks when it finds the flow stopped after a fetch: that seek is
        # part of the delivery it would otherwise wait for.
        if self._delivering_task is not None and self._delivering_task is asyncio.current_task():
            await super().perform_seek()
            return
        async with self._delivering:
            await super().perform_seek()

    async def _refetch_undelivered(self, delivered: Mapping[Any, int]) -> None:
        rewinds = {}
        for tp, records in self._fetched.items():
            last = delivered.get(tp)
            undelivered = [r.offset for r in records if last is None or r.offset > last]
            if undelivered:
                rewinds[tp] = (undelivered[0], records[-1].offset + 1)
        if rewinds:
            await self._thread.call_thread(_rewind_unmoved, self._thread._ensure_consumer(), rewinds)


async def _rewind_unmoved(consumer: Any, rewinds: Mapping[Any, tuple[int, int]]) -> None:
    """In the consumer's thread: seek each partition back to ``first`` if its position is still
    ``position_after`` (the position right after the fetched batch); a partition whose position
    moved since (a seek, or a reset by a rebalance) has been taken care of already."""
    for tp, (first, position_after) in rewinds.items():
        try:
            if tp in consumer.assignment() and await consumer.position(tp) == position_after:
                consumer.seek(tp, first)
                _LOG.info("fetching %s again from offset %d: records fetched but not delivered", tp, first)
        except IllegalStateError:  # revoked meanwhile
            continue


class _EmbeddedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes no setting for it; aiokafka reads the attribute when the consumer starts.
        consumer._fetch_max_wait_ms = EMBEDDED_FETCH_MAX_WAIT_MS
        return consumer


class _EmbeddedConsumer(PositionSafeConsumer):
    def _new_consumer_thread(self) -> _EmbeddedConsumerThread:
        return _EmbeddedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = PositionSafeConsumer


class EmbeddedTransport(faust_aiokafka.Transport):
    Consumer = _EmbeddedConsumer


def broker_urls(bootstrap_servers: list[str], *, embedded: bool) -> list[str]:
    """Faust ``broker`` URLs that select this module's transport (the embedded broker's, or the
    one for any other Kafka cluster)."""
    drivers.TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")
    drivers.TRANSPORTS.aliases.setdefault(EMBEDDED_SCHEME, f"{__name__}:EmbeddedTransport")
    scheme = EMBEDDED_SCHEME if embedded else SCHEME
    return [f"{scheme}://{host}" for host in bootstrap_servers]
