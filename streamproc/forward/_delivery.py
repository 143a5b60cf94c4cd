"""Delivering one thing over HTTP with retries: which failures are worth another attempt, and
how long to wait before it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

# Worth another attempt: the receiver is overloaded, restarting or timed out; anything else in
# 4xx says the request itself is wrong, and sending it again would fail the same way.
_RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_BODY_CHARS = 200


class DeliveryFailure(Exception):
    """One attempt failed: ``reason`` says how, ``retryable`` whether another may succeed, and
    ``retry_after`` (seconds) what the receiver asked for, if it did."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` attempts after the first, waiting ``backoff_s`` doubled each time (at most
    ``max_backoff_s``) with jitter: a random half of each wait, so that forwarders restarted
    together do not retry in step."""

    retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first)."""
        ceiling: float = min(self.max_backoff_s, self.backoff_s * 2 ** (retry - 1))
        return ceiling / 2 + rng.random() * ceiling / 2


@dataclass(frozen=True)
class Delivery:
    """How a delivery ended: ``delivered``, after how many ``attempts``, and the last ``reason``
    when it was not."""

    delivered: bool
    attempts: int
    reason: str = ""


def deliver(
    send: Callable[[], None],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Delivery:
    """Call ``send`` until it returns, a failure is not retryable, or the retries are spent."""
    rng = rng or random.Random()
    attempt = 0
    while True:
        attempt += 1
        try:
            send()
            return Delivery(True, attempt)
        except DeliveryFailure as failure:
            if not failure.retryable or attempt > policy.retries:
                return Delivery(False, attempt, failure.reason)
            wait = policy.delay(attempt, rng)
            if failure.retry_after is not None:
                wait = max(wait, min(failure.retry_after, policy.max_backoff_s))
            sleep(wait)


def post(client: httpx.Client, url: str, *, content: bytes, headers: Mapping[str, str]) -> None:
    """POST ``content``; a non-2xx answer or a transport error raises :class:`DeliveryFailure`."""
    try:
        response = client.post(url, content=content, headers=dict(headers))
    except httpx.TimeoutException as exc:
        raise DeliveryFailure(f"timed out ({type(exc).__name__})", retryable=True) from None
    except httpx.TransportError as exc:
        raise DeliveryFailure(f"connection failed: {exc or type(exc).__name__}", retryable=True) from None
    if response.is_success:
        return
    body = " ".join(response.text.split())[:_BODY_CHARS]
    raise DeliveryFailure(
        f"HTTP {response.status_code}" + (f": {body}" if body else ""),
        retryable=response.status_code in _RETRYABLE_STATUS,
        retry_after=_retry_after(response.headers),
    )


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    """``Retry-After`` in seconds, when given as a number (its HTTP-date form is not honoured)."""
    try:
        return max(0.0, float(headers.get("retry-after", "")))
    except ValueError:
        return None
