"""Client settings that work around the embedded broker's known quirks.

tansu (the embedded broker) reports a partition's end offset as the base offset of the last
batch plus one, so a batch of several records makes the end offset too small and Faust's table
recovery stops early. Producers that send one record per batch avoid it. Its consumer-group
joins also take about half the session timeout, so short sessions keep start-up fast.

These values are for the embedded broker only: on a real cluster they would cost throughput and
make group membership fragile, so a standard cluster gets :data:`NO_OVERRIDES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _frozen(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class ClientOverrides:
    """Settings layered over a client's own configuration for one kind of broker.

    ``producer`` and ``consumer`` use confluent-kafka (librdkafka) keys; ``faust`` holds
    ``faust.App`` settings (which configure its aiokafka clients).
    """

    producer: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    consumer: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    faust: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))

    def __post_init__(self) -> None:
        for name in ("producer", "consumer", "faust"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def producer_config(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """A confluent-kafka producer configuration: ``base`` with these overrides on top."""
        return {**base, **self.producer}

    def consumer_config(self, base: Mapping[str, Any]) -> dict[str, Any]:
        """A confluent-kafka consumer configuration: ``base`` with these overrides on top."""
        return {**base, **self.consumer}

    def faust_settings(self, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``faust.App`` keyword settings: ``base`` with these overrides on top."""
        return {**(base or {}), **self.faust}


NO_OVERRIDES = ClientOverrides()

_SESSION_TIMEOUT_S = 6.0
_HEARTBEAT_INTERVAL_S = 1.0

EMBEDDED_OVERRIDES = ClientOverrides(
    producer={"linger.ms": 0, "batch.num.messages": 1},
    consumer={
        "session.timeout.ms": int(_SESSION_TIMEOUT_S * 1000),
        "heartbeat.interval.ms": int(_HEARTBEAT_INTERVAL_S * 1000),
    },
    faust={
        "producer_linger": 0.0,
        # aiokafka always accepts the first record of a batch, so a 1-byte limit closes every
        # batch after exactly one record.
        "producer_max_batch_size": 1,
        "broker_session_timeout": _SESSION_TIMEOUT_S,
        "broker_heartbeat_interval": _HEARTBEAT_INTERVAL_S,
    },
)
