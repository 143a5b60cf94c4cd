"""A Faust transport for the embedded broker: aiokafka with fetches that return promptly.

tansu answers a fetch only when the request's maximum wait has passed, even when records arrive
sooner, and Faust's consumer asks for up to 1.5 s: every record would wait about that long.
This transport shortens the wait for the embedded broker only; on other brokers a long wait
costs nothing, because they answer as soon as records arrive.
"""

from __future__ import annotations

from typing import Any

from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka

SCHEME = "streamproc-tansu"
FETCH_MAX_WAIT_MS = 20


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes no setting for it; aiokafka reads the attribute when the consumer starts.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


def embedded_broker_urls(bootstrap_servers: list[str]) -> list[str]:
    """Faust ``broker`` URLs that select this transport."""
    drivers.TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")
    return [f"{SCHEME}://{host}" for host in bootstrap_servers]
