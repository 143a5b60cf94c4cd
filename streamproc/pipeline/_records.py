"""The pipeline's messages: what a consumed Kafka message carries, and the records it publishes."""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from streamproc.fusion import DetectorVerdict
from streamproc.serde import record_id

# Kafka header carrying the producer timestamp (seconds, big-endian float64) of the reading that
# completed a window, on window, score and alert messages: reading-to-score and reading-to-alert
# latency can be measured after each hop, by the worker and by downstream consumers alike.
PRODUCED_AT_HEADER = "streamproc-produced-at"
# A dead letter keeps at most this much of the message it reports (and its size and SHA-256).
DEAD_LETTER_PAYLOAD_BYTES = 64 * 1024
DEAD_LETTER_DETAIL_CHARS = 4096
DEAD_LETTER_KEY_BYTES = 4096
_SECONDS = struct.Struct(">d")


@dataclass(frozen=True)
class RawMessage:
    """A consumed message, independent of the client library that read it."""

    key: bytes | None
    value: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp: float
    headers: Mapping[str, bytes] | None = None

    @classmethod
    def from_faust(cls, message: Any) -> RawMessage:
        headers = message.headers
        if headers is not None and not isinstance(headers, Mapping):
            headers = {k: v for k, v in headers}
        return cls(
            message.key, message.value, message.topic, message.partition, message.offset, message.timestamp, headers
        )

    @classmethod
    def from_confluent(cls, message: Any) -> RawMessage:
        return cls(
            message.key(),
            message.value(),
            message.topic(),
            message.partition(),
            message.offset(),
            message.timestamp()[1] / 1000.0,
            dict(message.headers() or []),
        )

    def produced_at(self) -> float:
        """When the originating reading was produced: the header when present, else this message's time."""
        raw = (self.headers or {}).get(PRODUCED_AT_HEADER)
        if raw is not None and len(raw) == _SECONDS.size:
            return cast(float, _SECONDS.unpack(raw)[0])
        return self.timestamp


def produced_at_header(seconds: float) -> dict[str, bytes]:
    return {PRODUCED_AT_HEADER: _SECONDS.pack(seconds)}


def dead_letter_record(message: RawMessage, reason: str, detail: str, *, part: str | int = "") -> dict[str, Any]:
    """The DeadLetter record of ``message``: the original bytes (at most the first
    :data:`DEAD_LETTER_PAYLOAD_BYTES` of them, with the size and hash of the whole), where they
    came from and why. Bounded, so that a dead letter always fits in a message however large the
    message it reports: a copy of a message near the cluster's size limit would itself exceed it.

    ``part`` names what of the message failed when one message can fail more than once (a
    sample of a SensorReadingBatch, a window it completed); with the source position and the
    reason it makes the record's id, so that each dead letter has its own and a repeat the same."""
    value = message.value
    truncated = value is not None and len(value) > DEAD_LETTER_PAYLOAD_BYTES
    key = message.key
    return {
        "payload": cast(bytes, value)[:DEAD_LETTER_PAYLOAD_BYTES] if truncated else value,  # truncated: not None
        "key": key[:DEAD_LETTER_KEY_BYTES] if key is not None else None,
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "reason": reason,
        "detail": detail[:DEAD_LETTER_DETAIL_CHARS],
        "failed_at": int(time.time() * 1000),
        "payload_size": None if value is None else len(value),
        "payload_sha256": None if value is None else hashlib.sha256(value).hexdigest(),
        "payload_truncated": truncated,
        "record_id": record_id(message.topic, message.partition, message.offset, reason, part),
    }


def score_record(
    channel: str,
    window_end: int,
    verdict: DetectorVerdict,
    feature_names: Sequence[str] | None,
    *,
    shadow: bool = False,
) -> dict[str, Any]:
    """The AnomalyScore record of one detector's verdict on one window (``shadow``: a shadow
    model's, published for comparison and never fused)."""
    return {
        "channel": channel,
        "window_end": window_end,
        "detector": verdict.detector,
        "model_version": verdict.model_version,
        "score": float(verdict.score),
        "threshold": float(verdict.threshold),
        "anomalous": bool(verdict.score > verdict.threshold),
        "contributions": [float(c) for c in verdict.contributions],
        "feature_names": list(feature_names) if feature_names is not None else None,
        # a shadow may be a recalibration of the live model, with the same model id: its own ids
        "record_id": record_id(
            channel, verdict.detector, verdict.model_version, window_end, *(["shadow"] if shadow else [])
        ),
        "shadow": shadow,
    }


def verdict_from_score(record: Mapping[str, Any]) -> DetectorVerdict:
    return DetectorVerdict(
        record["detector"],
        record["model_version"],
        record["score"],
        record["threshold"],
        tuple(record["contributions"]),
    )
