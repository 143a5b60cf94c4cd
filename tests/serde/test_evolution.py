from __future__ import annotations

import io
import json

import fastavro
import pytest

from streamproc.serde import SchemaError, check_compatibility, load_schemas, parse_schema

V1 = {
    "type": "record",
    "name": "Reading",
    "namespace": "io.streamproc.test",
    "doc": "d",
    "fields": [
        {"name": "channel", "type": "string", "doc": "d"},
        {"name": "value", "type": "double", "doc": "d"},
        {"name": "unit", "type": ["null", "string"], "default": None, "doc": "d"},
    ],
}


def evolve(*, add=(), drop=(), change=None):
    schema = json.loads(json.dumps(V1))
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in drop] + list(add)
    for field in schema["fields"]:
        if change and field["name"] in change:
            field["type"] = change[field["name"]]
    return schema


def test_adding_a_field_with_a_default_is_backward_compatible():
    v2 = evolve(add=[{"name": "quality", "type": "int", "default": 100, "doc": "d"}])
    assert check_compatibility(reader=v2, writer=V1)
    # ...and Avro resolution really fills it in when old data is read with the new schema.
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(V1), {"channel": "c", "value": 1.5})
    buffer.seek(0)
    read = fastavro.schemaless_reader(buffer, fastavro.parse_schema(V1), fastavro.parse_schema(v2))
    assert read == {"channel": "c", "value": 1.5, "unit": None, "quality": 100}


def test_adding_a_field_without_a_default_is_not_backward_compatible():
    v2 = evolve(add=[{"name": "quality", "type": "int", "doc": "d"}])
    verdict = check_compatibility(reader=v2, writer=V1)
    assert not verdict
    assert "reader_field_missing_default_value" in verdict.problem
    assert "quality" in verdict.problem


def test_removing_a_field_is_backward_but_not_forward_compatible_without_a_default():
    v2 = evolve(drop=["value"])
    assert check_compatibility(reader=v2, writer=V1)
    assert not check_compatibility(reader=V1, writer=v2)


def test_changing_a_field_type_incompatibly_is_detected_and_promotions_are_allowed():
    assert not check_compatibility(reader=evolve(change={"value": "string"}), writer=V1)
    promoted_writer = evolve(change={"value": "float"})
    assert check_compatibility(reader=V1, writer=promoted_writer)  # float -> double promotes


def test_every_contract_schema_is_compatible_with_itself_in_every_form():
    for schema in load_schemas().values():
        assert check_compatibility(schema, schema)
        assert check_compatibility(schema.json, dict(schema.definition))


def test_invalid_schema_is_a_schema_error():
    with pytest.raises(SchemaError, match="invalid Avro schema"):
        check_compatibility({"type": "record", "name": "X"}, V1)


def test_records_of_an_earlier_version_are_read_as_the_current_one(tmp_path):
    from streamproc.serde import Codec, SchemaSet, check_schemas

    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / "thing-1.avsc").write_text(json.dumps(V1))
    (tmp_path / "thing.avsc").write_text(
        json.dumps(evolve(add=[{"name": "site", "type": "string", "default": "m", "doc": "Site."}]))
    )
    current = SchemaSet.from_directory(tmp_path)
    assert [s.source for s in current.previous()] == ["thing-1.avsc"]
    old_writer = Codec(SchemaSet([parse_schema(json.dumps(V1), source="v1")]))
    written = old_writer.encode("Reading", {"channel": "x", "value": 1.5, "unit": None})
    record = Codec(current).decode(written, expect="Reading").record
    assert record == {"channel": "x", "value": 1.5, "unit": None, "site": "m"}
    assert any("reads its earlier version thing-1.avsc" in line for line in check_schemas(current))


def test_an_earlier_version_the_current_schema_cannot_read_is_refused(tmp_path):
    from streamproc.serde import SchemaSet, check_schemas

    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / "thing-1.avsc").write_text(json.dumps(V1))
    (tmp_path / "thing.avsc").write_text(json.dumps(evolve(add=[{"name": "site", "type": "string", "doc": "Site."}])))
    with pytest.raises(SchemaError, match="cannot read records written with its earlier version thing-1.avsc"):
        check_schemas(SchemaSet.from_directory(tmp_path))


def test_an_earlier_version_of_a_schema_no_longer_in_the_contract_is_refused(tmp_path):
    from streamproc.serde import SchemaSet

    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / "thing-1.avsc").write_text(json.dumps(V1))
    with pytest.raises(SchemaError, match="no longer has"):
        SchemaSet.from_directory(tmp_path)


def test_the_installed_contract_reads_every_earlier_version_it_ships():
    from streamproc.serde import Codec, SchemaSet, check_schemas, sample_record

    schemas = load_schemas()
    assert {s.full_name for s in schemas.previous()} >= {"io.streamproc.AnomalyScore", "io.streamproc.Alert"}
    assert sum("reads its earlier version" in line for line in check_schemas(schemas)) == len(schemas.previous())
    current = Codec(schemas)
    for earlier in schemas.previous():
        record = sample_record(earlier)
        decoded = current.decode(Codec(SchemaSet([earlier])).encode(earlier.name, record), expect=earlier.name)
        assert {k: v for k, v in decoded.record.items() if k in record} == record
        assert set(decoded.record) == set(schemas[earlier.name].field_names)


@pytest.mark.parametrize(
    "schema_name, field, added, default",
    [
        ("Alert", "state", "ACKNOWLEDGED", "UPDATE"),
        ("Alert", "severity", "EMERGENCY", "HIGH"),
        ("Feedback", "verdict", "DUPLICATE", "UNSURE"),
    ],
)
def test_a_symbol_added_to_an_enum_is_read_as_the_enums_default(schema_name, field, added, default):
    """Forward compatibility: today's readers read records of a writer that added an enum symbol."""
    from streamproc.serde import Codec, SchemaSet, sample_record

    current = load_schemas()[schema_name]
    future = json.loads(current.json)
    enum = next(f for f in future["fields"] if f["name"] == field)["type"]
    enum["symbols"].append(added)
    future_schema = parse_schema(json.dumps(future), source="future")
    assert check_compatibility(reader=current, writer=future_schema)
    record = {**sample_record(current), field: added}
    written = Codec(SchemaSet([future_schema])).encode(schema_name, record)
    # A writer's schema the reader has never seen: resolution as a registry-backed reader does it.
    decoded = fastavro.schemaless_reader(io.BytesIO(written[10:]), future_schema.reader, current.reader)
    assert decoded[field] == default
