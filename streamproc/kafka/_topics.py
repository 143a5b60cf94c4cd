"""Creating topics with explicit partition counts, on the embedded broker or any cluster."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from ._errors import BootstrapError, TopicCreationError
from ._logging import CLIENT_LOG

_LOG = logging.getLogger(__name__)
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


def create_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    *,
    replication: int = 1,
    client_config: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
) -> list[str]:
    """Create each topic with its partition count; return the names that did not exist yet.

    Topics that already exist are left as they are, so calling this twice is harmless.
    ``client_config`` holds confluent-kafka settings (security, client id) for the cluster.
    """
    _validate(topics, replication)
    if not topics:
        return []
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    # librdkafka's own log goes to Python logging, not stderr: failures surface as exceptions.
    # The ignore: confluent-kafka types AdminClient's config without its documented "logger" entry.
    admin = AdminClient({"logger": CLIENT_LOG, **(client_config or {}), "bootstrap.servers": bootstrap})  # type: ignore[dict-item]
    futures = admin.create_topics(
        [NewTopic(name, partitions, replication) for name, partitions in topics.items()],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        # exception() rather than result(): a raised exception's traceback would keep this
        # frame, and so the client and its open connection, alive until the next GC.
        failure = future.exception(timeout=timeout + 5)
        if failure is None:
            created.append(name)
            continue
        error = failure.args[0] if isinstance(failure, KafkaException) else None
        if error is not None and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            continue
        if error is not None and error.code() in (
            KafkaError._TIMED_OUT,
            KafkaError._TRANSPORT,
            KafkaError._ALL_BROKERS_DOWN,
        ):
            raise BootstrapError(
                f"no Kafka broker at {bootstrap} answered within {timeout:g}s "
                f"while creating topic {name!r}: {error.str()}"
            )
        reason = error.str() if error is not None else str(failure)
        raise TopicCreationError(f"cannot create topic {name!r} on {bootstrap}: {reason}")
    return created


def _validate(topics: Mapping[str, int], replication: int) -> None:
    for name, partitions in topics.items():
        if not isinstance(name, str) or not _TOPIC_NAME.fullmatch(name) or name in (".", ".."):
            raise TopicCreationError(f"invalid topic name {name!r}: use 1-249 letters, digits, '.', '_' or '-'")
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise TopicCreationError(f"topic {name!r}: partitions must be a positive integer, got {partitions!r}")
    if isinstance(replication, bool) or not isinstance(replication, int) or replication < 1:
        raise TopicCreationError(f"replication factor must be a positive integer, got {replication!r}")
