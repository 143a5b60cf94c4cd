"""Which Kafka cluster to use: the one configured (``KAFKA_BOOTSTRAP``), else the embedded broker."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from streamproc.config import BOOTSTRAP_ENV

from ._broker import EmbeddedBroker
from ._errors import BootstrapError
from ._overrides import EMBEDDED_OVERRIDES, NO_OVERRIDES, ClientOverrides

_ADDRESS = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})")


def resolve_bootstrap(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The configured bootstrap address, or ``None`` when the embedded broker should be used.

    An explicit value wins over ``KAFKA_BOOTSTRAP``; an empty or blank value counts as unset.
    """
    environ = os.environ if environ is None else environ
    for source, value in (("bootstrap", explicit), (BOOTSTRAP_ENV, environ.get(BOOTSTRAP_ENV))):
        if value is not None and value.strip():
            return validate_bootstrap(value, source=source)
    return None


def validate_bootstrap(value: str, *, source: str = "bootstrap") -> str:
    """``value`` with blanks removed, if it is a comma-separated list of ``host:port``."""
    addresses = [part.strip() for part in value.split(",")]
    for address in addresses:
        match = _ADDRESS.fullmatch(address)
        if match is None or not 1 <= int(match.group(2)) <= 65535:
            raise BootstrapError(
                f"{source}: {address!r} is not a host:port address (got {value!r}; "
                "expected e.g. 'kafka-1:9092,kafka-2:9092')"
            )
    return ",".join(addresses)


@dataclass(frozen=True)
class KafkaCluster:
    """A reachable cluster and the client settings that go with it."""

    bootstrap: str
    embedded: bool
    client_config: Mapping[str, Any] = field(default_factory=dict)
    """confluent-kafka settings every client needs here (security, client id), without
    ``bootstrap.servers``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "client_config", MappingProxyType(dict(self.client_config)))

    @property
    def overrides(self) -> ClientOverrides:
        """Settings this kind of broker needs on top of any client's own."""
        return EMBEDDED_OVERRIDES if self.embedded else NO_OVERRIDES

    def admin_config(self) -> dict[str, Any]:
        """confluent-kafka configuration for an AdminClient."""
        return {**self.client_config, "bootstrap.servers": self.bootstrap}

    def producer_config(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """confluent-kafka producer configuration; the broker's overrides win over ``extra``
        because they keep the embedded broker's offsets correct."""
        return self.overrides.producer_config({**self.admin_config(), **(extra or {})})

    def consumer_config(self, group_id: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """confluent-kafka consumer configuration for ``group_id``."""
        base = {**self.admin_config(), "group.id": group_id, **(extra or {})}
        return self.overrides.consumer_config(base)


@contextmanager
def open_cluster(
    bootstrap: str | None = None, *, client_config: Mapping[str, Any] | None = None
) -> Iterator[KafkaCluster]:
    """Yield the cluster at ``bootstrap``, or start an embedded broker when it is ``None``.

    ``client_config`` applies to a configured cluster only: the embedded broker is plain-text
    on loopback, so security settings meant for a real cluster would only break its clients.
    The embedded broker is stopped when the block exits, however it exits.
    """
    if bootstrap is not None:
        yield KafkaCluster(validate_bootstrap(bootstrap), embedded=False, client_config=client_config or {})
        return
    with EmbeddedBroker() as broker:
        yield KafkaCluster(broker.bootstrap, embedded=True)
