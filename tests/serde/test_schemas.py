from __future__ import annotations

import json

import pytest

from streamproc.config import SEVERITIES
from streamproc.serde import SchemaError, SchemaSet, check_schemas, load_schemas, undocumented_fields

EXPECTED = {"SensorReading", "SensorReadingBatch", "AnomalyScore", "Alert", "Feedback", "DeadLetter"}
TIMESTAMP_FIELDS = {
    "SensorReading": ["timestamp"],
    "AnomalyScore": ["window_end"],
    "SensorReadingBatch": ["timestamps"],
    "Alert": ["opened_at", "updated_at", "resolved_at"],
    "Feedback": ["submitted_at"],
    "DeadLetter": ["failed_at"],
}


def fields_of(name):
    return {f["name"]: f for f in load_schemas()[name].definition["fields"]}


def test_the_contract_has_the_six_documented_schemas_in_one_namespace():
    schemas = load_schemas()
    assert set(schemas) == EXPECTED
    for schema in schemas.values():
        assert schema.full_name == f"io.streamproc.{schema.name}"
        assert schema.definition.get("doc")
        assert undocumented_fields(schema) == []


@pytest.mark.parametrize("name", sorted(TIMESTAMP_FIELDS))
def test_times_are_timestamp_millis_longs(name):
    for field_name in TIMESTAMP_FIELDS[name]:
        kind = fields_of(name)[field_name]["type"]
        kind = next(k for k in kind if k != "null") if isinstance(kind, list) else kind
        kind = kind["items"] if kind.get("type") == "array" else kind
        assert kind == {"type": "long", "logicalType": "timestamp-millis"}, field_name


def test_dead_letters_keep_the_original_bytes_and_a_nullable_source():
    fields = fields_of("DeadLetter")
    assert fields["payload"]["type"] == ["null", "bytes"]
    for name in ("topic", "partition", "offset"):
        assert fields[name]["type"][0] == "null" and fields[name]["default"] is None
    assert fields["reason"]["type"] == "string" and fields["detail"]["type"] == "string"


def test_alert_severities_are_the_configured_severity_bands():
    assert tuple(fields_of("Alert")["severity"]["type"]["symbols"]) == SEVERITIES


def write(folder, name, schema):
    (folder / name).write_text(json.dumps(schema))


RECORD = {
    "type": "record",
    "name": "R",
    "namespace": "t",
    "doc": "d",
    "fields": [{"name": "a", "type": "long", "doc": "d"}],
}


def test_duplicate_names_are_rejected(tmp_path):
    write(tmp_path, "one.avsc", RECORD)
    write(tmp_path, "two.avsc", {**RECORD, "doc": "a copy"})
    with pytest.raises(SchemaError, match="duplicate schema name"):
        SchemaSet.from_directory(tmp_path)


def test_unparseable_files_are_named(tmp_path):
    (tmp_path / "broken.avsc").write_text("{not json")
    with pytest.raises(SchemaError, match="broken.avsc: not valid JSON"):
        SchemaSet.from_directory(tmp_path)
    (tmp_path / "broken.avsc").write_text(json.dumps({**RECORD, "fields": [{"name": "a", "type": "nope"}]}))
    with pytest.raises(SchemaError, match="broken.avsc: invalid Avro schema"):
        SchemaSet.from_directory(tmp_path)


def test_check_passes_the_installed_contract_and_reports_each_schema():
    schemas = load_schemas()
    report = check_schemas(schemas, against=schemas)
    assert len(report) == len(EXPECTED) + len(schemas.previous())
    assert all("ok" in line and "backward compatible" in line for line in report[: len(EXPECTED)])


def test_check_rejects_undocumented_fields(tmp_path):
    write(tmp_path, "r.avsc", {**RECORD, "fields": [{"name": "a", "type": "long"}]})
    with pytest.raises(SchemaError, match="without a doc string: R.a"):
        check_schemas(SchemaSet.from_directory(tmp_path))


def test_check_against_a_previous_contract_rejects_breaking_changes(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    write(old, "r.avsc", RECORD)
    write(new, "r.avsc", {**RECORD, "fields": RECORD["fields"] + [{"name": "b", "type": "int", "doc": "d"}]})
    with pytest.raises(SchemaError, match="cannot read data written with the previous R"):
        check_schemas(SchemaSet.from_directory(new), against=SchemaSet.from_directory(old))
    write(
        new, "r.avsc", {**RECORD, "fields": RECORD["fields"] + [{"name": "b", "type": "int", "doc": "d", "default": 0}]}
    )
    assert check_schemas(SchemaSet.from_directory(new), against=SchemaSet.from_directory(old))
    write(old, "s.avsc", {**RECORD, "name": "S"})
    with pytest.raises(SchemaError, match="removed from the contract: S"):
        check_schemas(SchemaSet.from_directory(new), against=SchemaSet.from_directory(old))
