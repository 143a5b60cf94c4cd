"""Sending an operator's verdict on an alert to the feedback topic (``streamproc alerts feedback``)."""

from __future__ import annotations

import time
from typing import Any

from streamproc.errors import StreamprocError
from streamproc.fusion import VERDICTS
from streamproc.kafka import CLIENT_LOG
from streamproc.serde import codec_for


def send_verdict(settings: Any, alert_id: str, verdict: str, *, author: str, note: str | None = None) -> dict[str, Any]:
    """Produce one Feedback record, keyed by ``alert_id``, and wait for its delivery; returns it.

    ``verdict`` is one of TRUE_POSITIVE, FALSE_POSITIVE, UNSURE (any case, ``-`` for ``_``).
    """
    from confluent_kafka import Producer

    name = verdict.strip().upper().replace("-", "_")
    if name not in VERDICTS:
        choices = ", ".join(v.lower().replace("_", "-") for v in VERDICTS)
        raise StreamprocError(f"--verdict: {verdict!r} is not one of {choices}")
    if not alert_id.strip():
        raise StreamprocError("alert id: must not be empty")
    if not settings.kafka.bootstrap:
        raise StreamprocError("alerts feedback: no cluster configured; set KAFKA_BOOTSTRAP")
    record: dict[str, Any] = {
        "alert_id": alert_id.strip(),
        "verdict": name,
        "author": author,
        "submitted_at": int(time.time() * 1000),
        "note": note,
    }
    value = codec_for(settings).encode("Feedback", record)
    errors: list[str] = []
    producer = Producer({**settings.kafka.confluent_config(), "logger": CLIENT_LOG})
    producer.produce(
        settings.topics.feedback,
        key=record["alert_id"].encode(),
        value=value,
        on_delivery=lambda error, _: errors.append(str(error)) if error else None,
    )
    if producer.flush(15) or errors:
        raise StreamprocError(
            f"the verdict could not be delivered to {settings.topics.feedback!r}: "
            f"{errors[0] if errors else 'timed out'}"
        )
    return record
