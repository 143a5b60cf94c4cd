"""Kafka plumbing: the embedded broker, topic creation, and which cluster to use.

``KAFKA_BOOTSTRAP`` (or an explicit address) selects an existing cluster; otherwise
:func:`open_cluster` starts an :class:`EmbeddedBroker` (tansu, memory-only) on loopback and
clients apply :data:`EMBEDDED_OVERRIDES` to work around its quirks.
"""

from ._broker import EmbeddedBroker
from ._cluster import (
    KafkaCluster,
    open_cluster,
    resolve_bootstrap,
    validate_bootstrap,
)
from ._errors import (
    BootstrapError,
    BrokerExitedError,
    BrokerStartError,
    KafkaSetupError,
    TopicCreationError,
)
from ._logging import CLIENT_LOG
from ._overrides import EMBEDDED_OVERRIDES, NO_OVERRIDES, ClientOverrides
from ._topics import create_topics

__all__ = [
    "CLIENT_LOG",
    "EMBEDDED_OVERRIDES",
    "NO_OVERRIDES",
    "BootstrapError",
    "BrokerExitedError",
    "BrokerStartError",
    "ClientOverrides",
    "EmbeddedBroker",
    "KafkaCluster",
    "KafkaSetupError",
    "TopicCreationError",
    "create_topics",
    "open_cluster",
    "resolve_bootstrap",
    "validate_bootstrap",
]
