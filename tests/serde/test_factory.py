from __future__ import annotations

from streamproc.config import Settings
from streamproc.serde import codec_for


def test_without_a_registry_url_the_codec_uses_single_object_encoding():
    assert codec_for(Settings.load(env={})).wire_format == "single-object"


def test_with_a_registry_url_subjects_follow_the_configured_topics():
    settings = Settings.load(
        env={"STREAMPROC_KAFKA__SCHEMA_REGISTRY_URL": "mock://factory", "STREAMPROC_TOPICS__READINGS": "plant.readings"}
    )
    codec = codec_for(settings)
    assert codec.wire_format == "confluent"
    assert codec.subject("SensorReading") == "plant.readings-value"
    assert codec.subject("DeadLetter") == "readings.dlq-value"
    # The second record of the readings topic cannot share its subject.
    assert codec.subject("SensorReadingBatch") == "plant.readings-io.streamproc.SensorReadingBatch"
    batch = codec.encode("SensorReadingBatch", {"channel": "c", "timestamps": [1, 2], "values": [[0.5], [1.5]]})
    assert codec.decode(batch).record["values"] == [[0.5], [1.5]]
    data = codec.encode(
        "Feedback", {"alert_id": "a", "verdict": "UNSURE", "author": "op", "submitted_at": 1, "note": None}
    )
    assert codec.decode(data, expect="Feedback").record["verdict"] == "UNSURE"
