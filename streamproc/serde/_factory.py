"""The codec a configured deployment uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._codec import Codec

if TYPE_CHECKING:
    from streamproc.config import Settings


def codec_for(settings: Settings, *, validate: bool = True) -> Codec:
    """Confluent framing when ``kafka.schema_registry_url`` is set, single-object encoding otherwise.

    Registry subjects follow the topic-name strategy (``<topic>-value``, topics from the settings),
    which is what Confluent tooling and most consumers expect by default. A second schema on the
    same topic (SensorReadingBatch beside SensorReading) takes the topic-record-name strategy
    (``<topic>-io.streamproc.SensorReadingBatch``): one subject cannot hold both.
    """
    registry_config = settings.kafka.schema_registry_config()
    if registry_config is None:
        return Codec(validate=validate)
    from confluent_kafka.schema_registry import SchemaRegistryClient

    subjects: dict[str, str] = {}
    for name, topic in settings.topics.by_schema().items():
        taken = f"{topic}-value" in subjects.values()
        subjects[name] = f"{topic}-io.streamproc.{name}" if taken else f"{topic}-value"
    return Codec(registry=SchemaRegistryClient.new_client(registry_config), subjects=subjects, validate=validate)
