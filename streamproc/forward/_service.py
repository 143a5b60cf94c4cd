"""The forwarder's Kafka loop: the alerts topic read in a consumer group, each message handed to
:class:`AlertForwarder`, its dead letters published, and only then its offset stored (committed
by the client in the background and on close): at least once, never a message skipped."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import httpx

from streamproc.config import Settings
from streamproc.errors import StreamprocError
from streamproc.kafka import NO_OVERRIDES, ClientOverrides
from streamproc.observability import MetricsServer
from streamproc.pipeline import RawMessage
from streamproc.serde import codec_for

from ._forwarder import AlertForwarder
from ._metrics import ForwardMetrics

_LOG = logging.getLogger(__name__)
# librdkafka's own log lines; silenced while the cluster is first probed, whose failure is
# reported in one line instead of a reconnect message every few milliseconds.
_CLIENT_LOG = logging.getLogger(__name__ + ".client")
_POLL_S = 0.5
# Longest time spent reading assigned partitions back to learn their open alerts.
_LEARN_S = 60.0
_FLUSH_S = 30.0


def run_forwarder(
    settings: Settings,
    *,
    overrides: ClientOverrides = NO_OVERRIDES,
    stop: threading.Event | None = None,
    client: httpx.Client | None = None,
    metrics_port: int | None = None,
    on_ready: Callable[[AlertForwarder, int], None] | None = None,
) -> None:
    """Forward alerts until ``stop`` is set (or forever).

    A new consumer group starts at the end of the topic (history is not paged again); when
    partitions are assigned, the last ``forward.lookback_s`` of them up to the committed position
    are read without delivering, to learn which alerts are still open, and those are posted to
    Alertmanager again. ``on_ready(forwarder, metrics port)`` is called once serving (tests).
    """
    from confluent_kafka import Consumer, Producer

    forward = settings.forward
    stop = stop or threading.Event()
    codec = codec_for(settings)
    metrics = ForwardMetrics(process=True)
    own_client = client is None
    http = client if client is not None else httpx.Client(timeout=forward.timeout_s)
    try:
        forwarder = AlertForwarder(settings, client=http, codec=codec, metrics=metrics)
        base = {**settings.kafka.confluent_config(), "logger": _CLIENT_LOG}
        consumer = Consumer(
            overrides.consumer_config(
                {
                    **base,
                    "group.id": forward.group_id,
                    "auto.offset.reset": "latest",
                    "enable.auto.commit": True,
                    "enable.auto.offset.store": False,
                }
            )
        )
        producer = Producer(overrides.producer_config(base))
        server: MetricsServer | None = None
        try:
            _probe(consumer, settings.topics.alerts, base)
            rebuilt = threading.Event()
            held: set[int] = set()

            def assigned(_: Any, partitions: list[Any]) -> None:
                _learn_open_alerts(forwarder, base, overrides, consumer, partitions, forward.lookback_s)
                held.update(p.partition for p in partitions)
                metrics.partitions.set(len(held))
                rebuilt.set()

            def revoked(_: Any, partitions: list[Any]) -> None:
                forwarder.open.forget(p.partition for p in partitions)
                held.difference_update(p.partition for p in partitions)
                metrics.partitions.set(len(held))

            consumer.subscribe([settings.topics.alerts], on_assign=assigned, on_revoke=revoked, on_lost=revoked)
            last_loop = [time.monotonic()]
            # A loop stuck longer than every retry of both sinks (and a rebuild after an assignment)
            # is not coming back by itself.
            patience = _LEARN_S + 60.0 + 2 * (forward.retries + 1) * (forward.timeout_s + forward.max_backoff_s)

            def healthy() -> tuple[bool, str]:
                late = time.monotonic() - last_loop[0]
                return (True, "ok") if late < patience else (False, f"no progress for {late:.0f}s")

            server = MetricsServer(
                metrics.registry, healthy, port=forward.metrics_port if metrics_port is None else metrics_port
            )
            if on_ready is not None:
                on_ready(forwarder, server.port)
            next_resend = time.monotonic() + forward.resend_interval_s
            while not stop.is_set():
                message = consumer.poll(_POLL_S)
                last_loop[0] = time.monotonic()
                if rebuilt.is_set():  # alerts learnt again: Alertmanager hears of them now
                    rebuilt.clear()
                    next_resend = 0.0
                if message is not None:
                    if message.error() is not None:
                        _LOG.warning("alerts consumer: %s", message.error())
                    else:
                        _forward_one(forwarder, producer, codec, settings.topics.dead_letter, message)
                        consumer.store_offsets(message)
                if time.monotonic() >= next_resend:
                    forwarder.resend()
                    next_resend = time.monotonic() + forward.resend_interval_s
        finally:
            if server is not None:
                server.close()
            consumer.close()  # commits what was stored
            producer.flush(_FLUSH_S)
    finally:
        if own_client:
            http.close()


def _probe(consumer: Any, topic: str, base: dict[str, Any]) -> None:
    """StreamprocError in one line when the cluster cannot be reached (librdkafka's own
    reconnect messages silenced meanwhile: one every few milliseconds)."""
    from confluent_kafka import KafkaException

    _CLIENT_LOG.setLevel(logging.CRITICAL)
    try:
        consumer.list_topics(topic, timeout=10.0)
    except KafkaException as exc:
        raise StreamprocError(
            f"cannot reach the Kafka cluster at {base.get('bootstrap.servers')}: "
            f"{exc.args[0].str() if exc.args else exc}"
        ) from None
    finally:
        _CLIENT_LOG.setLevel(logging.NOTSET)


def _forward_one(forwarder: AlertForwarder, producer: Any, codec: Any, dead_letter_topic: str, message: Any) -> None:
    raw = RawMessage.from_confluent(message)
    dead_letters = forwarder.handle(raw)
    if not dead_letters:
        return
    errors: list[str] = []
    for record in dead_letters:
        producer.produce(
            dead_letter_topic,
            key=raw.key,
            value=codec.encode("DeadLetter", record),
            on_delivery=lambda error, _: errors.append(str(error)) if error else None,
        )
    if producer.flush(_FLUSH_S) or errors:
        # The offset is not stored: a restarted forwarder delivers the message again.
        raise StreamprocError(
            f"alerts forward: dead letters could not be published to {dead_letter_topic!r}: "
            f"{errors[0] if errors else 'timed out'}"
        )


def _learn_open_alerts(
    forwarder: AlertForwarder,
    base: dict[str, Any],
    overrides: ClientOverrides,
    consumer: Any,
    partitions: list[Any],
    lookback_s: float,
) -> None:
    """Read each assigned partition from ``lookback_s`` ago up to its end, so that the alerts
    opened before a restart or a rebalance are known (and resent) again.

    Up to the end, not the committed position: a resolution delivered by the previous owner but
    not yet committed is learnt too (the consumer delivers it again, which changes nothing), so
    an alert that has ended is never posted as firing. A partition not read to its end within
    :data:`_LEARN_S` is not taken on trust: its alerts are forgotten (Alertmanager lets them
    expire; a resolved alert posted as firing would page again)."""
    from confluent_kafka import Consumer, TopicPartition

    if not partitions:
        return
    since_ms = int((time.time() - lookback_s) * 1000)
    starts = consumer.offsets_for_times(
        [TopicPartition(p.topic, p.partition, since_ms) for p in partitions], timeout=10.0
    )
    ranges = []
    for start in starts:
        end = consumer.get_watermark_offsets(TopicPartition(start.topic, start.partition), timeout=10.0)[1]
        first = start.offset if start.offset >= 0 else end  # nothing newer than the lookback
        if first < end:
            ranges.append((TopicPartition(start.topic, start.partition, first), end))
    if not ranges:
        return
    # Assigned, not subscribed: this reader joins no group and commits nothing.
    reader = Consumer(
        overrides.consumer_config({**base, "group.id": "streamproc-forward-learn", "enable.auto.commit": False})
    )
    try:
        reader.assign([start for start, _ in ranges])
        ends = {(start.topic, start.partition): end for start, end in ranges}
        deadline = time.monotonic() + _LEARN_S
        while ends and time.monotonic() < deadline:
            message = reader.poll(_POLL_S)
            if message is not None and message.error() is None:
                key = cast("tuple[str, int]", (message.topic(), message.partition()))  # set on a message
                if message.offset() < ends.get(key, -1):
                    forwarder.learn(RawMessage.from_confluent(message))
            # Positions, not offsets seen: a gap (a compacted or control record) still ends a range.
            for position in reader.position([TopicPartition(t, p) for t, p in ends]):
                if position.offset >= ends[(position.topic, position.partition)]:
                    del ends[(position.topic, position.partition)]
        if ends:
            forwarder.open.forget(partition for _, partition in ends)
            _LOG.warning(
                "alerts forward: partitions %s not read back within %.0f s: their open alerts are left to "
                "expire in Alertmanager",
                sorted(ends),
                _LEARN_S,
            )
    finally:
        reader.close()
