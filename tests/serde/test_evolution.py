from __future__ import annotations

import io
import json

import fastavro
import pytest

from streamproc.serde import SchemaError, check_compatibility, load_schemas

V1 = {"type": "record", "name": "Reading", "namespace": "io.streamproc.test", "doc": "d",
      "fields": [{"name": "channel", "type": "string", "doc": "d"},
                 {"name": "value", "type": "double", "doc": "d"},
                 {"name": "unit", "type": ["null", "string"], "default": None, "doc": "d"}]}


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
    assert check_compatibility(reader=V1, writer=promoted_writer)   # float -> double promotes


def test_every_contract_schema_is_compatible_with_itself_in_every_form():
    for schema in load_schemas().values():
        assert check_compatibility(schema, schema)
        assert check_compatibility(schema.json, dict(schema.definition))


def test_invalid_schema_is_a_schema_error():
    with pytest.raises(SchemaError, match="invalid Avro schema"):
        check_compatibility({"type": "record", "name": "X"}, V1)
