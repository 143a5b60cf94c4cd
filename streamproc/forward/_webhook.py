"""The generic webhook: a JSON body per alert message, signed so the receiver can trust it.

The receiver checks ``X-Streamproc-Signature`` (``sha256=`` + the hex HMAC-SHA256, under the
shared key, of the ``X-Streamproc-Timestamp`` value, a dot and the raw body), refuses
timestamps too far from its clock (a replayed request), and drops repeated
``Idempotency-Key`` values: a message is delivered at least once, so it may arrive twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx

from ._delivery import post

SIGNATURE_HEADER = "X-Streamproc-Signature"
TIMESTAMP_HEADER = "X-Streamproc-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    key: bytes, headers: Mapping[str, str], body: bytes, *, now_s: float, tolerance_s: float = 300.0
) -> bool:
    """What a receiver does: the signature matches and the timestamp is within ``tolerance_s``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    try:
        fresh = abs(now_s - int(timestamp)) <= tolerance_s
    except ValueError:
        return False
    # As bytes: compare_digest refuses str with characters outside ASCII (a forged header).
    return fresh and hmac.compare_digest(given.encode(), signature(key, timestamp, body).encode())


def webhook_body(record: Mapping[str, Any], *, labels: Mapping[str, str], link: str) -> bytes:
    """``{"alert": <the Alert record>, "labels": {...}, "link": "..."}`` as compact JSON."""
    # allow_nan=False: NaN and Infinity are not JSON and a strict receiver would refuse the body;
    # such a record is dead-lettered instead.
    return json.dumps(
        {"alert": dict(record), "labels": dict(labels), "link": link},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    ).encode()


class WebhookSink:
    """POSTs each alert message to one URL, signed when a key is configured."""

    name = "webhook"

    def __init__(self, client: httpx.Client, url: str, key: bytes | None) -> None:
        self._client = client
        self.url = url
        self._key = key

    def send(self, body: bytes, *, idempotency_key: str, now_s: float) -> None:
        headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: idempotency_key}
        if self._key is not None:
            timestamp = str(int(now_s))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(self._key, timestamp, body)
        post(self._client, self.url, content=body, headers=headers)
