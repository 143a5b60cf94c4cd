"""Creating topics with explicit partition counts."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from streamproc.kafka import BootstrapError, TopicCreationError, create_topics


def _partitions(cluster, name):
    metadata = AdminClient(cluster.admin_config()).list_topics(name, timeout=5)
    return len(metadata.topics[name].partitions)


@pytest.mark.broker
def test_topics_get_their_partition_counts_and_a_second_call_changes_nothing(kafka_cluster, unique_topic_name):
    wanted = {unique_topic_name("three"): 3, unique_topic_name("one"): 1}
    created = create_topics(kafka_cluster.bootstrap, wanted, client_config=kafka_cluster.client_config)
    assert created == list(wanted)
    assert {name: _partitions(kafka_cluster, name) for name in wanted} == wanted
    again = create_topics(kafka_cluster.bootstrap, wanted, client_config=kafka_cluster.client_config)
    assert again == []
    assert {name: _partitions(kafka_cluster, name) for name in wanted} == wanted


@pytest.mark.parametrize("partitions", [0, -2, 1.5, "4", True])
def test_partition_count_must_be_a_positive_integer(partitions):
    # Rejected before any connection: the address does not exist.
    with pytest.raises(TopicCreationError, match=r"topic 'readings': partitions must be a positive"):
        create_topics("127.0.0.1:1", {"readings": partitions})


@pytest.mark.parametrize("name", ["", "has space", "..", "x" * 250, "ü"])
def test_invalid_topic_name_is_rejected(name):
    with pytest.raises(TopicCreationError, match="invalid topic name"):
        create_topics("127.0.0.1:1", {name: 1})


def test_replication_factor_must_be_positive():
    with pytest.raises(TopicCreationError, match="replication factor must be a positive integer, got 0"):
        create_topics("127.0.0.1:1", {"readings": 1}, replication=0)


def test_no_topics_needs_no_cluster():
    assert create_topics("127.0.0.1:1", {}) == []


def test_unreachable_cluster_is_a_bootstrap_error_naming_it():
    with socket_that_refuses() as address:
        with pytest.raises(BootstrapError, match=f"no Kafka broker at {address} answered within 0.5s"):
            create_topics(address, {"readings": 1}, timeout=0.5)


class socket_that_refuses:
    """A loopback address nothing listens on (bound, so no other process takes it meanwhile)."""

    def __enter__(self) -> str:
        import socket

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{self._socket.getsockname()[1]}"

    def __exit__(self, *exc_info: object) -> None:
        self._socket.close()
