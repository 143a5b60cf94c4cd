"""The Faust transports of a worker: aiokafka, with seeks that cannot lose records.

Faust (0.15) lost records across a rebalance, measured in a takeover under CPU starvation.
After a rebalance its recovery seeks every partition back to the committed offset while the
fetch loop keeps delivering records fetched from the old positions; the records
fetched again after the seek are then below the read offsets those deliveries advanced and are
dropped, and when the seek completes Faust resets its read offsets, takes the next records for a
"gap" and commits over it. (Records Faust filters out because their partition was paused
between fetch and delivery are skipped by aiokafka's position too; the rebalance's seek, which
follows every such pause, is what brings them back.) :class:`PositionSafeConsumer` makes a seek
wait until the batch being delivered has been delivered, so positions and read offsets move
back together.

:class:`EmbeddedTransport` adds what the embedded broker needs: tansu answers a fetch only when
the request's maximum wait has passed, even when records arrive sooner, and Faust asks for up to
1.5 s, so every record would wait about that long. On other brokers a long wait costs nothing,
because they answer as soon as records arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "streamproc-kafka"
EMBEDDED_SCHEME = "streamproc-tansu"
EMBEDDED_FETCH_MAX_WAIT_MS = 20


class PositionSafeConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, with seeks serialised against the delivery of fetched batches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Held from the moment records are fetched until the batch has been delivered; not
        # while waiting for the flow to resume, which a seek of the recovery precedes.
        self._delivering = asyncio.Lock()
        self._delivering_task: asyncio.Task[Any] | None = None

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        self._end_abandoned_delivery()
        await self._delivering.acquire()
        self._delivering_task = asyncio.current_task()
        try:
            return await super()._getmany(active_partitions, timeout)
        except BaseException:
            self._end_delivery()
            raise

    async def getmany(self, timeout: float) -> AsyncIterator[Any]:
        try:
            async for tp, message in super().getmany(timeout):
                yield tp, message
        finally:
            self._end_delivery()

    def _end_abandoned_delivery(self) -> None:
        # Faust's fetch loop does not close the delivery's generator when it fails or restarts:
        # a delivery whose task ended (or that this task left) delivers nothing any more.
        holder = self._delivering_task
        if holder is not None and (holder.done() or holder is asyncio.current_task()):
            self._end_delivery()

    def _end_delivery(self) -> None:
        if self._delivering_task is not None:
            self._delivering_task = None
            self._delivering.release()

    async def perform_seek(self) -> None:
        # Faust's own getmany seeks when it finds the flow stopped after a fetch: that seek is
        # part of the delivery it would otherwise wait for.
        if self._delivering_task is not None and self._delivering_task is asyncio.current_task():
            await super().perform_seek()
            return
        self._end_abandoned_delivery()
        async with self._delivering:
            await super().perform_seek()


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
