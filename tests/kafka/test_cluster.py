"""Choosing the cluster and the client settings that go with it."""

from __future__ import annotations

import socket

import faust
import pytest
from confluent_kafka.admin import AdminClient

from streamproc.kafka import (
    EMBEDDED_OVERRIDES,
    NO_OVERRIDES,
    BootstrapError,
    KafkaCluster,
    open_cluster,
    resolve_bootstrap,
    validate_bootstrap,
)


def test_explicit_bootstrap_wins_over_environment():
    env = {"KAFKA_BOOTSTRAP": "from-env:9092"}
    assert resolve_bootstrap("given:9092", environ=env) == "given:9092"
    assert resolve_bootstrap(None, environ=env) == "from-env:9092"


@pytest.mark.parametrize("env", [{}, {"KAFKA_BOOTSTRAP": ""}, {"KAFKA_BOOTSTRAP": "  "}])
def test_no_bootstrap_means_the_embedded_broker(env):
    assert resolve_bootstrap(None, environ=env) is None


def test_bootstrap_lists_are_normalised():
    assert validate_bootstrap(" k1:9092, k2.example.com:9093,[::1]:9094 ") == "k1:9092,k2.example.com:9093,[::1]:9094"


@pytest.mark.parametrize("bad", ["kafka", "kafka:", "kafka:port", "kafka:70000", "k1:9092,,k2:9092", "kafka://k1:9092"])
def test_malformed_bootstrap_names_its_source(bad):
    with pytest.raises(BootstrapError, match="^KAFKA_BOOTSTRAP: .* is not a host:port address"):
        resolve_bootstrap(None, environ={"KAFKA_BOOTSTRAP": bad})


def test_configured_cluster_gets_its_client_config_and_no_workarounds():
    security = {"security.protocol": "SASL_SSL", "sasl.username": "u"}
    with open_cluster("k1:9092", client_config=security) as cluster:
        assert not cluster.embedded and cluster.overrides is NO_OVERRIDES
        assert cluster.producer_config({"linger.ms": 50}) == {
            **security,
            "bootstrap.servers": "k1:9092",
            "linger.ms": 50,
        }
        assert cluster.consumer_config("g") == {**security, "bootstrap.servers": "k1:9092", "group.id": "g"}


def test_embedded_workarounds_win_over_caller_settings():
    cluster = KafkaCluster("127.0.0.1:9", embedded=True)
    producer = cluster.producer_config({"linger.ms": 50, "acks": "all"})
    assert producer["linger.ms"] == 0 and producer["batch.num.messages"] == 1
    assert producer["acks"] == "all"
    consumer = cluster.consumer_config("g", {"session.timeout.ms": 45000})
    assert consumer["session.timeout.ms"] == 6000 and consumer["group.id"] == "g"


def test_overrides_cannot_be_changed_in_place():
    with pytest.raises(TypeError):
        EMBEDDED_OVERRIDES.producer["linger.ms"] = 10
    cluster = KafkaCluster("k:9092", embedded=False, client_config={"a": "1"})
    with pytest.raises(TypeError):
        cluster.client_config["a"] = "2"


def test_faust_accepts_the_embedded_settings():
    app = faust.App(
        "overrides-check", broker="kafka://127.0.0.1:9", **EMBEDDED_OVERRIDES.faust_settings({"producer_linger": 0.5})
    )
    assert app.conf.producer_linger == 0.0
    assert app.conf.producer_max_batch_size == 1
    assert app.conf.broker_session_timeout == 6.0
    assert app.conf.broker_heartbeat_interval == 1.0


@pytest.mark.broker
def test_without_bootstrap_an_embedded_broker_serves_the_block():
    with open_cluster() as cluster:
        assert cluster.embedded and cluster.overrides is EMBEDDED_OVERRIDES
        assert AdminClient(cluster.admin_config()).list_topics(timeout=5).brokers
    port = int(cluster.bootstrap.rpartition(":")[2])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
