from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamproc.serde import Codec


@pytest.fixture
def registry():
    """An in-memory schema registry (confluent-kafka's mock:// client), fresh for each test."""
    return SchemaRegistryClient.new_client({"url": "mock://streamproc-tests"})


@pytest.fixture
def plain_codec():
    return Codec()


@pytest.fixture
def registry_codec(registry):
    return Codec(registry=registry)


@pytest.fixture
def reading():
    return {
        "channel": "P-1",
        "timestamp": 1_700_000_000_123,
        "values": [0.5, -1.25, float("inf")],
        "feature_names": ["a", "b", "c"],
        "missing": [],
    }
