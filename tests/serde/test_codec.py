from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from confluent_kafka.schema_registry import Schema

from streamproc.errors import StreamprocError
from streamproc.serde import (
    DECODE_REASONS,
    Codec,
    DecodeError,
    EncodeError,
    SchemaError,
    load_schemas,
    sample_record,
)


def samples():
    """(schema name, sample record) for every schema of the contract."""
    return [(name, sample_record(schema)) for name, schema in load_schemas().items()]


SCHEMA_NAMES = [name for name, _ in samples()]


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO exactly as the Avro specification writes it (independent of fastavro)."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


@pytest.mark.parametrize(("name", "record"), samples(), ids=SCHEMA_NAMES)
@pytest.mark.parametrize("codec_fixture", ["plain_codec", "registry_codec"])
def test_every_schema_round_trips_in_both_wire_formats(request, codec_fixture, name, record):
    codec = request.getfixturevalue(codec_fixture)
    data = codec.encode(name, record)
    assert codec.decode(data) == (name, record)
    assert codec.decode(data, expect=name).record == record


def test_single_object_header_is_marker_and_little_endian_crc64_fingerprint(plain_codec, reading):
    schema = load_schemas()["SensorReading"]
    data = plain_codec.encode("SensorReading", reading)
    assert data[:2] == b"\xc3\x01"
    expected = crc64_avro(schema.canonical_form.encode()).to_bytes(8, "little")
    assert data[2:10] == expected == schema.fingerprint
    assert plain_codec.wire_format == "single-object"


def test_confluent_header_is_magic_zero_and_registered_big_endian_id(registry, registry_codec, reading):
    registry.register_schema("unrelated", Schema('{"type": "string"}', "AVRO"))  # so the id is not 1
    data = registry_codec.encode("SensorReading", reading)
    registered = registry.get_latest_version("io.streamproc.SensorReading")
    assert data[0] == 0
    assert int.from_bytes(data[1:5], "big") == registered.schema_id != 1
    assert registry_codec.wire_format == "confluent"


def test_custom_subjects_are_used_for_registration(registry, reading):
    codec = Codec(registry=registry, subjects={"SensorReading": "sensors.readings-value"})
    codec.encode("SensorReading", reading)
    assert registry.get_subjects() == ["sensors.readings-value"]


def test_without_auto_register_an_unregistered_schema_is_a_registry_error(registry, reading):
    codec = Codec(registry=registry, auto_register=False)
    with pytest.raises(StreamprocError, match="look up SensorReading"):
        codec.encode("SensorReading", reading)
    Codec(registry=registry).encode("SensorReading", reading)  # registers it
    assert codec.decode(codec.encode("SensorReading", reading)).record == reading


def test_readers_accept_both_framings(registry, plain_codec, reading):
    # A consumer with a registry still reads single-object messages, and a plain one reads
    # Confluent-framed messages it has the schema for.
    registry_codec = Codec(registry=registry)
    assert registry_codec.decode(plain_codec.encode("SensorReading", reading)).record == reading
    framed = registry_codec.encode("SensorReading", reading)
    other = Codec(registry=registry)
    assert other.decode(framed).record == reading


def test_confluent_message_without_a_registry_is_unknown_schema_id(registry_codec, plain_codec, reading):
    framed = registry_codec.encode("SensorReading", reading)
    with pytest.raises(DecodeError) as caught:
        plain_codec.decode(framed)
    assert caught.value.reason == "unknown-schema-id"


def test_timestamps_accept_datetimes_and_decode_as_epoch_millis(plain_codec):
    when = dt.datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=dt.UTC)
    record = {"channel": "c", "timestamp": when, "values": [1.0]}
    decoded = plain_codec.decode(plain_codec.encode("SensorReading", record)).record
    assert decoded["timestamp"] == int(when.timestamp() * 1000)
    assert decoded["feature_names"] is None  # defaulted optional field


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (b"\x7b\x22json\x22", "unknown-magic"),
        (b"\xc3\x02" + bytes(12), "unknown-magic"),
        (b"\xc3\x01\x00\x01", "truncated"),
        (b"\xc3\x01" + bytes(8) + b"\x02", "unknown-fingerprint"),
        (b"\x00\x00\x00", "truncated"),
        (b"\x00\x00\x00\x30\x39\x00", "unknown-schema-id"),
    ],
)
def test_garbage_is_rejected_with_a_reason(registry_codec, data, reason):
    with pytest.raises(DecodeError) as caught:
        registry_codec.decode(data)
    assert caught.value.reason == reason
    assert isinstance(caught.value, StreamprocError)


def test_truncated_body_and_trailing_bytes(plain_codec, reading):
    data = plain_codec.encode("SensorReading", reading)
    with pytest.raises(DecodeError) as caught:
        plain_codec.decode(data[:-3])
    assert caught.value.reason == "truncated"
    with pytest.raises(DecodeError) as caught:
        plain_codec.decode(data + b"\x00")
    assert caught.value.reason == "malformed"


def test_expecting_another_schema_is_a_schema_mismatch(plain_codec, reading):
    with pytest.raises(DecodeError) as caught:
        plain_codec.decode(plain_codec.encode("SensorReading", reading), expect="Alert")
    assert caught.value.reason == "schema-mismatch"


def test_registry_schema_outside_the_contract_is_a_schema_mismatch(registry, registry_codec):
    foreign = {"type": "record", "name": "Other", "namespace": "elsewhere", "fields": [{"name": "x", "type": "long"}]}
    schema_id = registry.register_schema("other", Schema(json.dumps(foreign), "AVRO"))
    with pytest.raises(DecodeError) as caught:
        registry_codec.decode(b"\x00" + schema_id.to_bytes(4, "big") + b"\x02")
    assert caught.value.reason == "schema-mismatch"


def test_older_writer_schema_from_the_registry_is_resolved_to_the_current_one(registry, registry_codec):
    # A producer still on a SensorReading without feature_names: the reader fills in the default.
    old = json.loads(load_schemas()["SensorReading"].json)
    old["fields"] = [f for f in old["fields"] if f["name"] not in ("feature_names", "missing")]
    schema_id = registry.register_schema("old-readings", Schema(json.dumps(old), "AVRO"))
    # encode the old layout by hand: channel "c", timestamp 5, values [] (zig-zag varints)
    body = b"\x02c" + b"\x0a" + b"\x00"
    decoded = registry_codec.decode(b"\x00" + schema_id.to_bytes(4, "big") + body)
    assert decoded == (
        "SensorReading",
        {"channel": "c", "timestamp": 5, "values": [], "feature_names": None, "missing": []},
    )


def test_mutated_messages_never_escape_as_untyped_errors(plain_codec):
    rng = random.Random(7)
    encoded = [plain_codec.encode(name, record) for name, record in samples()]
    for _ in range(2000):
        data = bytearray(rng.choice(encoded))
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(data))
            data[position] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(len(data) + 1)]
        try:
            plain_codec.decode(bytes(data))
        except DecodeError as exc:
            assert exc.reason in DECODE_REASONS


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"channel": "c", "timestamp": "yesterday", "values": []}, "timestamp", "expected timestamp-millis long"),
        ({"channel": "c", "values": []}, "timestamp", "missing"),
        ({"channel": "c", "timestamp": 1, "values": ["x"]}, "values", "expected double"),
        ({"channel": "c", "timestamp": 1, "values": [], "colour": "red"}, "colour", "not a field"),
        ({"channel": 5, "timestamp": 1, "values": []}, "channel", "expected string"),
    ],
)
def test_bad_records_raise_encode_errors_naming_the_field(validate, record, field, message):
    codec = Codec(validate=validate)
    with pytest.raises(EncodeError, match=message) as caught:
        codec.encode("SensorReading", record)
    assert caught.value.field == field
    assert f"{field}:" in str(caught.value)


def test_validation_catches_what_the_writer_would_silently_coerce():
    record = {"channel": "c", "timestamp": 1.7, "values": []}
    with pytest.raises(EncodeError) as caught:
        Codec(validate=True).encode("SensorReading", record)
    assert caught.value.field == "timestamp"


def test_nested_field_errors_name_the_record_type(plain_codec):
    alert = sample_record(load_schemas()["Alert"])
    alert["detector_scores"][0]["score"] = "high"
    with pytest.raises(EncodeError) as caught:
        plain_codec.encode("Alert", alert)
    assert caught.value.field == "DetectorScore.score"
    alert = sample_record(load_schemas()["Alert"])
    alert["state"] = "CLOSED"
    with pytest.raises(EncodeError, match="one of OPEN|UPDATE|RESOLVED"):
        plain_codec.encode("Alert", alert)


def test_unknown_schema_name_is_a_schema_error(plain_codec, registry_codec):
    for codec in (plain_codec, registry_codec):
        with pytest.raises(SchemaError, match="unknown schema 'Reading'"):
            codec.encode("Reading", {})
    with pytest.raises(SchemaError):
        Codec(subjects={"Reading": "x"})
