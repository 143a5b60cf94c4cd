"""Encoding records to bytes and back: Avro single-object encoding or the Confluent wire format."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple, cast

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError, validate

from ._errors import DecodeError, EncodeError, RegistryError, SchemaError
from ._schemas import AvroSchema, SchemaSet, load_schemas, parse_schema

SINGLE_OBJECT_MARKER = b"\xc3\x01"
SINGLE_OBJECT_HEADER_SIZE = 10  # marker + 8-byte fingerprint
CONFLUENT_MAGIC = b"\x00"
CONFLUENT_HEADER_SIZE = 5  # magic + 4-byte big-endian schema id

# Writer schemas learnt from the registry, by id. Ids the registry does not know are remembered
# too (up to this many) so a flood of bad messages does not become a flood of registry requests.
_MAX_UNKNOWN_IDS = 1024


class Decoded(NamedTuple):
    """A decoded message: the short name of its schema and the record."""

    schema: str
    record: dict[str, Any]


class _WriterSchema(NamedTuple):
    local: AvroSchema  # the contract schema the record is read as
    writer: dict[str, Any]  # the schema the bytes were written with (fastavro-parsed)
    resolve: bool  # whether writer and local differ, so Avro resolution is needed


class Codec:
    """Encodes and decodes the records of the contract.

    Without a registry, messages use Avro single-object encoding (``C3 01`` + CRC-64-AVRO
    fingerprint + body). With ``registry`` (a confluent-kafka ``SchemaRegistryClient``, for
    example ``SchemaRegistryClient.new_client({"url": "mock://test"})`` in tests), they use the
    Confluent wire format (``00`` + 4-byte schema id + body). Either way, :meth:`decode` reads
    both framings and raises :class:`DecodeError` for anything else.

    ``subjects`` maps schema short names to registry subjects; by default a schema's subject is its
    full record name (the registry's RecordNameStrategy). With ``auto_register`` false, schemas
    must already be registered under their subjects. With ``validate`` true (the default), every
    record is fully checked against its schema before it is written; false keeps only the checks the
    writer makes anyway (unwritable types, missing or unknown fields), about twice as fast.

    Timestamps (``timestamp-millis`` fields) decode as epoch-millisecond ints; encoding accepts
    ints or timezone-aware datetimes. Instances are safe to share between threads.
    """

    def __init__(
        self,
        schemas: SchemaSet | None = None,
        *,
        registry: Any | None = None,
        subjects: Mapping[str, str] | None = None,
        auto_register: bool = True,
        validate: bool = True,
    ) -> None:
        self.schemas = schemas if schemas is not None else load_schemas()
        self._registry = registry
        self._subjects = dict(subjects or {})
        for name in self._subjects:
            self.schemas[name]  # noqa: B018 -- raises SchemaError naming an unknown schema
        self._auto_register = auto_register
        self._validate = validate
        # With a registry, a schema's header (its id) is known once it is registered, on first use.
        self._headers: dict[str, bytes] = (
            {}
            if registry is not None
            else {name: SINGLE_OBJECT_MARKER + schema.fingerprint for name, schema in self.schemas.items()}
        )
        self._by_id: dict[int, _WriterSchema] = {}
        self._unknown_ids: dict[int, DecodeError] = {}
        self._lock = threading.Lock()

    @property
    def wire_format(self) -> str:
        """``"confluent"`` when a registry is configured, otherwise ``"single-object"``."""
        return "single-object" if self._registry is None else "confluent"

    def subject(self, name: str) -> str:
        """The registry subject of schema ``name``."""
        return self._subjects.get(name) or self.schemas[name].full_name

    # -- encoding -----------------------------------------------------------------------------

    def encode(self, name: str, record: Mapping[str, Any]) -> bytes:
        """Encode ``record`` with schema ``name``; EncodeError names the offending field."""
        header = self._headers.get(name)
        if header is None:
            header = self._register(name)
        schema = self.schemas[name]
        if self._validate:
            _check(schema, record)
        buffer = io.BytesIO()
        buffer.write(header)
        try:
            fastavro.schemaless_writer(buffer, schema.writer, record, strict_allow_default=True)
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            if not self._validate:
                _check(schema, record)  # a precise, field-naming message when validation can give one
            unknown = sorted(set(record) - set(schema.field_names))
            if unknown:
                raise EncodeError(name, unknown[0], f"not a field of {name}") from None
            raise EncodeError(name, None, str(exc)) from None
        return buffer.getvalue()

    def _register(self, name: str) -> bytes:
        schema = self.schemas[name]  # SchemaError for unknown names, before any registry call
        from confluent_kafka.schema_registry import Schema

        subject = self.subject(name)
        # Without a registry every known schema has a header, so only unknown names (SchemaError above) get here.
        assert self._registry is not None
        try:
            if self._auto_register:
                schema_id: int = self._registry.register_schema(subject, Schema(schema.json, "AVRO"))
            else:
                schema_id = self._registry.lookup_schema(subject, Schema(schema.json, "AVRO")).schema_id
        except Exception as exc:
            action = "register" if self._auto_register else "look up"
            raise RegistryError(f"cannot {action} {name} under subject {subject!r}: {exc}") from exc
        header = CONFLUENT_MAGIC + schema_id.to_bytes(4, "big")
        with self._lock:
            self._headers[name] = header
            self._by_id[schema_id] = _WriterSchema(schema, schema.reader, resolve=False)
        return header

    # -- decoding -----------------------------------------------------------------------------

    def decode(self, data: bytes, expect: str | None = None) -> Decoded:
        """Decode one message in either framing.

        With ``expect``, a message of any other schema is a ``schema-mismatch``. Raises
        DecodeError (with ``reason``) for bytes that are not such a message, and RegistryError
        when the registry cannot be asked about an unseen schema id.
        """
        marker = data[:2]
        if marker == SINGLE_OBJECT_MARKER:
            if len(data) < SINGLE_OBJECT_HEADER_SIZE:
                raise DecodeError(
                    "truncated", f"single-object header needs {SINGLE_OBJECT_HEADER_SIZE} bytes, got {len(data)}"
                )
            fingerprint = data[2:SINGLE_OBJECT_HEADER_SIZE]
            local = self.schemas.by_fingerprint(fingerprint)
            if local is not None:
                writer = _WriterSchema(local, local.reader, resolve=False)
            else:
                earlier = self.schemas.previous_by_fingerprint(fingerprint)
                if earlier is None:
                    raise DecodeError("unknown-fingerprint", f"no known schema has fingerprint {fingerprint.hex()}")
                current = self.schemas.by_full_name(earlier.full_name)
                assert current is not None  # SchemaSet keeps only earlier versions of schemas it has
                writer = _WriterSchema(current, earlier.reader, resolve=True)
            offset = SINGLE_OBJECT_HEADER_SIZE
        elif marker[:1] == CONFLUENT_MAGIC:
            if len(data) < CONFLUENT_HEADER_SIZE:
                raise DecodeError("truncated", f"Confluent header needs {CONFLUENT_HEADER_SIZE} bytes, got {len(data)}")
            schema_id = int.from_bytes(data[1:CONFLUENT_HEADER_SIZE], "big")
            writer = self._by_id.get(schema_id) or self._fetch(schema_id)
            offset = CONFLUENT_HEADER_SIZE
        elif not data:
            raise DecodeError("truncated", "empty message")
        else:
            raise DecodeError(
                "unknown-magic",
                f"message starts with {bytes(data[:2]).hex()}, neither single-object (c301) nor Confluent (00) framing",
            )
        local = writer.local
        if expect is not None and local.name != expect:
            raise DecodeError("schema-mismatch", f"expected {expect}, got {local.name}")
        buffer = io.BytesIO(data)
        buffer.seek(offset)
        try:
            if writer.resolve:
                record = fastavro.schemaless_reader(buffer, writer.writer, local.reader)
            else:
                record = fastavro.schemaless_reader(buffer, writer.writer, None)
        except EOFError as exc:
            raise DecodeError("truncated", f"{local.name} body ends early: {exc}") from None
        except SchemaResolutionError as exc:
            raise DecodeError("schema-mismatch", f"cannot read as {local.name}: {exc}") from None
        except (ValueError, IndexError, TypeError, KeyError, UnicodeDecodeError, OverflowError) as exc:
            raise DecodeError("malformed", f"not a valid {local.name} body: {exc}") from None
        trailing = len(data) - buffer.tell()
        if trailing:
            raise DecodeError("malformed", f"{trailing} bytes left after the {local.name} record")
        return Decoded(local.name, cast("dict[str, Any]", record))  # a record schema reads as a dict

    def _fetch(self, schema_id: int) -> _WriterSchema:
        known_bad = self._unknown_ids.get(schema_id)
        if known_bad is not None:
            raise known_bad
        if self._registry is None:
            raise DecodeError(
                "unknown-schema-id",
                f"Confluent-framed message (schema id {schema_id}) but no schema registry is configured",
            )
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            registered = self._registry.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise RegistryError(f"cannot fetch schema id {schema_id}: {exc}") from exc
            raise self._remember_unknown(
                schema_id, DecodeError("unknown-schema-id", f"the schema registry has no schema with id {schema_id}")
            ) from None
        except Exception as exc:
            raise RegistryError(f"cannot fetch schema id {schema_id}: {exc}") from exc
        writer = self._match(schema_id, registered)
        with self._lock:
            self._by_id[schema_id] = writer
        return writer

    def _match(self, schema_id: int, registered: Any) -> _WriterSchema:
        if (registered.schema_type or "AVRO") != "AVRO":
            raise self._remember_unknown(
                schema_id,
                DecodeError("schema-mismatch", f"schema id {schema_id} is {registered.schema_type}, not Avro"),
            )
        try:
            writer = parse_schema(json.loads(registered.schema_str), source=f"registry schema id {schema_id}")
        except (SchemaError, json.JSONDecodeError) as exc:
            raise self._remember_unknown(schema_id, DecodeError("schema-mismatch", str(exc))) from None
        local = self.schemas.by_full_name(writer.full_name)
        if local is None:
            raise self._remember_unknown(
                schema_id,
                DecodeError(
                    "schema-mismatch", f"schema id {schema_id} is {writer.full_name}, not a schema of the contract"
                ),
            )
        return _WriterSchema(local, writer.reader, resolve=writer.fingerprint != local.fingerprint)

    def _remember_unknown(self, schema_id: int, error: DecodeError) -> DecodeError:
        with self._lock:
            if len(self._unknown_ids) >= _MAX_UNKNOWN_IDS:
                self._unknown_ids.clear()
            self._unknown_ids[schema_id] = error
        return error


def _check(schema: AvroSchema, record: Any) -> None:
    if not isinstance(record, Mapping):
        raise EncodeError(schema.name, None, f"expected a mapping, got {type(record).__name__}")
    try:
        validate(record, schema.writer, raise_errors=True)
    except ValidationError as exc:
        problem = exc.errors[0]
        field = _field_path(schema, problem.field)
        if problem.datum is None and field in schema.field_names and field not in record:
            raise EncodeError(schema.name, field, f"missing (expected {_type_name(problem.schema)})") from None
        raise EncodeError(
            schema.name, field, f"expected {_type_name(problem.schema)}, got {_show(problem.datum)}"
        ) from None


def _field_path(schema: AvroSchema, qualified: str | None) -> str | None:
    """``io.streamproc.Alert.state`` -> ``state``; a nested record's ``...DetectorScore.score`` stays
    ``DetectorScore.score`` (fastavro reports the record type, not the path, of nested fields)."""
    if not qualified:
        return None
    record, _, field = qualified.rpartition(".")
    if record == schema.full_name:
        return field
    return f"{record.rpartition('.')[2]}.{field}"


def _type_name(avro_type: Any) -> str:
    if isinstance(avro_type, str):
        return avro_type
    if isinstance(avro_type, list):
        return " or ".join(_type_name(t) for t in avro_type)
    if isinstance(avro_type, dict):
        if "logicalType" in avro_type:
            return f"{avro_type['logicalType']} {avro_type['type']}"
        if avro_type.get("type") == "enum":
            return "one of " + "|".join(avro_type["symbols"])
        return avro_type.get("name") or str(avro_type.get("type"))
    return str(avro_type)


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
