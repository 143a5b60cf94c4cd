"""What the forwarder decides for each alert message: the posts to make, their retries, and the
dead letters of deliveries that kept failing. The Kafka loop (:mod:`._service`) only moves data."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from streamproc.config import Settings
from streamproc.errors import StreamprocError
from streamproc.pipeline import RawMessage, dead_letter_record
from streamproc.serde import Codec, DecodeError, record_id

from ._alertmanager import (
    VALIDITY_INTERVALS,
    AlertmanagerSink,
    alert_labels,
    alert_link,
    alertmanager_alert,
    check_labels,
    resolved_copy,
)
from ._delivery import Delivery, RetryPolicy, deliver
from ._metrics import ForwardMetrics
from ._open import OpenAlerts
from ._webhook import WebhookSink, webhook_body


class AlertForwarder:
    """Forwards Alert messages to Alertmanager and/or a webhook, at least once.

    :meth:`handle` delivers one message and returns the dead letters of the deliveries that
    failed (the caller publishes them before committing the message's offset);
    :meth:`learn` takes in a message already delivered before a restart, to know which alerts
    are open; :meth:`resend` posts the open alerts to Alertmanager again, which it expects
    while they last. ``clock`` (seconds), ``sleep`` and ``rng`` are test seams.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.Client,
        codec: Codec,
        metrics: ForwardMetrics | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        forward = settings.forward
        self.alertmanager = (
            AlertmanagerSink(client, forward.alertmanager_url.reveal())
            if forward.alertmanager_url is not None and forward.alertmanager_url.reveal()
            else None
        )
        self.webhook = (
            WebhookSink(
                client,
                forward.webhook_url.reveal(),
                forward.webhook_secret.reveal().encode() if forward.webhook_secret else None,
            )
            if forward.webhook_url is not None and forward.webhook_url.reveal()
            else None
        )
        if self.alertmanager is None and self.webhook is None:
            raise StreamprocError(
                "alerts forward: nothing to forward to; set forward.alertmanager_url or "
                "forward.webhook_url (STREAMPROC_FORWARD__ALERTMANAGER_URL, "
                "STREAMPROC_FORWARD__WEBHOOK_URL)"
            )
        self.labels = check_labels(forward.labels)
        self.link_template = forward.link_template
        try:
            alert_link(self.link_template, _LINK_PROBE)
        except (KeyError, IndexError, ValueError) as exc:
            raise StreamprocError(
                f"forward.link_template: {exc!r} is not a field it can use "
                f"(channel, alert_id, opened_at_ms, updated_at_ms)"
            ) from None
        self.policy = RetryPolicy(forward.retries, forward.backoff_s, forward.max_backoff_s)
        self.valid_for_ms = int(VALIDITY_INTERVALS * forward.resend_interval_s * 1000)
        self.open = OpenAlerts()
        self.metrics = metrics or ForwardMetrics()
        self.metrics.track_open_alerts(lambda: len(self.open))
        self._codec = codec
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()

    def handle(self, message: RawMessage) -> list[dict[str, Any]]:
        """Deliver ``message`` to every sink; the dead letters of those that failed.

        A message that cannot be read or rendered (a time outside the calendar, say) is
        dead-lettered, never raised: one bad message must not stop every page behind it."""
        try:
            record = self._decode(message)
            now_ms = self._now_ms()
            rendered = self._alertmanager_alert(record, now_ms)
            body = webhook_body(record, labels=self.labels, link=alert_link(self.link_template, record))
        except DecodeError as exc:
            self.metrics.deliveries.labels("all", "dead_lettered").inc()
            return [dead_letter_record(message, exc.reason, exc.detail)]
        except Exception as exc:  # noqa: BLE001 - any record the sinks cannot take is a dead letter
            self.metrics.deliveries.labels("all", "dead_lettered").inc()
            return [dead_letter_record(message, "processing-error", repr(exc))]
        previous = self.open.update(message.partition, record)
        dead_letters = []
        if self.alertmanager is not None:
            alerts = [rendered]
            if previous is not None and alert_labels(previous, self.labels) != rendered["labels"]:
                alerts.append(resolved_copy(self._alertmanager_alert(previous, now_ms), now_ms))
            sink = self.alertmanager
            outcome = self._deliver(sink.name, lambda: sink.send(alerts))
            if not outcome.delivered:
                dead_letters.append(self._dead_letter(message, sink.name, sink.url, outcome))
        if self.webhook is not None:
            key = record.get("record_id") or record_id(message.topic, message.partition, message.offset)
            hook = self.webhook
            outcome = self._deliver(hook.name, lambda: hook.send(body, idempotency_key=key, now_s=self._clock()))
            if not outcome.delivered:
                dead_letters.append(self._dead_letter(message, hook.name, hook.url, outcome))
        return dead_letters

    def learn(self, message: RawMessage) -> None:
        """Take in a message delivered before (read again after a restart) without delivering it."""
        try:
            record = self._decode(message)
            self._alertmanager_alert(record, self._now_ms())  # what cannot be rendered is not kept
        except Exception:  # noqa: BLE001 - it was dead-lettered when it was delivered
            return
        self.open.update(message.partition, record)

    def resend(self) -> bool:
        """Post every open alert to Alertmanager again, once (the next resend retries); whether
        the post went through. Nothing to do without an Alertmanager sink or open alerts."""
        records = self.open.records()
        if self.alertmanager is None or not records:
            return True
        now_ms = self._now_ms()
        alerts = [self._alertmanager_alert(record, now_ms) for record in records]
        sink = self.alertmanager
        outcome = deliver(lambda: sink.send(alerts), RetryPolicy(retries=0), sleep=self._sleep, rng=self._rng)
        self.metrics.resends.labels("delivered" if outcome.delivered else "failed").inc()
        return outcome.delivered

    def _decode(self, message: RawMessage) -> Mapping[str, Any]:
        if message.value is None:
            raise DecodeError("truncated", "message has no value")
        return self._codec.decode(message.value, expect="Alert").record

    def _alertmanager_alert(self, record: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
        return alertmanager_alert(
            record,
            labels=self.labels,
            link=alert_link(self.link_template, record),
            now_ms=now_ms,
            valid_for_ms=self.valid_for_ms,
        )

    def _deliver(self, sink: str, send: Callable[[], None]) -> Delivery:
        outcome = deliver(send, self.policy, sleep=self._sleep, rng=self._rng)
        if outcome.attempts > 1:
            self.metrics.deliveries.labels(sink, "retried").inc(outcome.attempts - 1)
        self.metrics.deliveries.labels(sink, "delivered" if outcome.delivered else "dead_lettered").inc()
        return outcome

    def _dead_letter(self, message: RawMessage, sink: str, url: str, outcome: Delivery) -> dict[str, Any]:
        # The URL's host names the receiver without its path or query (which may hold a token).
        host = httpx.URL(url).host
        detail = f"{outcome.attempts} attempt(s) to {sink} at {host}, the last: {outcome.reason}"
        return dead_letter_record(message, f"{sink}-delivery-failed", detail, part=sink)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


# A record with every field a link template may name, to check the template once at start.
_LINK_PROBE = {"channel": "c", "alert_id": "a", "opened_at": 0, "updated_at": 0}
