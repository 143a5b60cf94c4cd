"""Loading the ``*.avsc`` contract: from the installed ``streamproc_schemas`` package or a folder."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast, overload

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from ._errors import SchemaError

SCHEMA_PACKAGE = "streamproc_schemas"
# Earlier versions of contract schemas, kept so that records written before an upgrade (by a
# worker not yet upgraded, or still in a topic) are read as the current version.
PREVIOUS_FOLDER = "previous"

# Decoded records carry timestamps as epoch-millisecond ints, exactly as they are encoded:
# cheaper than datetime objects on the hot path, and encode(decode(x)) == x.
_INT_LOGICAL_TYPES = frozenset(
    {"timestamp-millis", "timestamp-micros", "local-timestamp-millis", "local-timestamp-micros"}
)
_T = TypeVar("_T")


@dataclass(frozen=True, eq=False)
class AvroSchema:
    """One record schema of the contract.

    ``name`` is the record's short name (``SensorReading``), the key every API uses;
    ``fingerprint`` the 8-byte little-endian CRC-64-AVRO fingerprint of its parsing canonical form.
    """

    name: str
    full_name: str
    source: str
    definition: Mapping[str, Any]
    canonical_form: str
    fingerprint: bytes
    writer: dict[str, Any] = field(repr=False)  # fastavro-parsed, for encoding (accepts ints or datetimes)
    reader: dict[str, Any] = field(repr=False)  # fastavro-parsed with timestamps left as ints, for decoding

    @property
    def json(self) -> str:
        """The schema as a JSON string, docs included (what a registry stores)."""
        return json.dumps(self.definition, separators=(",", ":"))

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f["name"] for f in self.definition["fields"])


def parse_schema(definition: Mapping[str, Any] | str, source: str = "<schema>") -> AvroSchema:
    """Parse one record schema (a dict or JSON text); SchemaError names ``source`` on failure."""
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(definition, Mapping) or definition.get("type") != "record":
        raise SchemaError(f"{source}: the top-level schema must be a record")
    try:
        # A record schema parses to a dict (fastavro's type also allows the other kinds of schema).
        writer = cast(dict[str, Any], fastavro.parse_schema(copy.deepcopy(dict(definition)), named_schemas={}))
        reader = cast(dict[str, Any], fastavro.parse_schema(_without_timestamp_types(definition), named_schemas={}))
        canonical = to_parsing_canonical_form(writer)
    except Exception as exc:  # fastavro raises several unrelated types for invalid schemas
        raise SchemaError(f"{source}: invalid Avro schema: {exc}") from None
    full_name = writer["name"]
    return AvroSchema(
        name=full_name.rpartition(".")[2],
        full_name=full_name,
        source=source,
        definition=definition,
        canonical_form=canonical,
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
        writer=writer,
        reader=reader,
    )


def _without_timestamp_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: _without_timestamp_types(v)
            for k, v in node.items()
            if not (k == "logicalType" and v in _INT_LOGICAL_TYPES)
        }
    if isinstance(node, list):
        return [_without_timestamp_types(v) for v in node]
    return node


class SchemaSet(Mapping[str, AvroSchema]):
    """The contract: record schemas by short name, each name and fingerprint unique."""

    def __init__(self, schemas: Iterable[AvroSchema], previous: Iterable[AvroSchema] = ()) -> None:
        self._by_name: dict[str, AvroSchema] = {}
        self._by_fingerprint: dict[bytes, AvroSchema] = {}
        self._by_full_name: dict[str, AvroSchema] = {}
        key: Any  # str for the two name indexes, bytes for the fingerprint one
        for schema in schemas:
            for index, key, what in (
                (self._by_name, schema.name, "name"),
                (self._by_full_name, schema.full_name, "full name"),
                (self._by_fingerprint, schema.fingerprint, "fingerprint"),
            ):
                if key in index:
                    raise SchemaError(
                        f"{schema.source}: duplicate schema {what} {schema.full_name} (also in {index[key].source})"
                    )
                index[key] = schema
        self._previous: dict[bytes, AvroSchema] = {}
        for schema in previous:
            if schema.full_name not in self._by_full_name:
                raise SchemaError(
                    f"{schema.source}: earlier version of {schema.full_name}, which the contract no longer has"
                )
            if schema.fingerprint not in self._by_fingerprint:
                self._previous[schema.fingerprint] = schema

    @classmethod
    def from_directory(cls, path: str | Path) -> SchemaSet:
        """Every ``*.avsc`` file directly inside ``path``, and the earlier versions in its
        ``previous/`` folder when there is one."""
        directory = Path(path)
        if not directory.is_dir():
            raise SchemaError(f"{directory}: not a directory of .avsc files")
        earlier = directory / PREVIOUS_FOLDER
        return cls(
            _parse_files(sorted(directory.glob("*.avsc"))),
            _parse_files(sorted(earlier.glob("*.avsc"))) if earlier.is_dir() else (),
        )

    @classmethod
    def from_package(cls, package: str = SCHEMA_PACKAGE) -> SchemaSet:
        """Every ``*.avsc`` resource of an installed package (importlib.resources), and the
        earlier versions in its ``previous/`` folder."""
        root = resources.files(package)
        earlier = root / PREVIOUS_FOLDER
        return cls(_parse_files(_avsc_files(root)), _parse_files(_avsc_files(earlier)) if earlier.is_dir() else ())

    def previous(self) -> list[AvroSchema]:
        """The earlier versions whose records readers still accept (writer schemas only)."""
        return list(self._previous.values())

    def previous_by_fingerprint(self, fp: bytes) -> AvroSchema | None:
        """An earlier version with fingerprint ``fp``; its records are read as the current one."""
        return self._previous.get(fp)

    def __getitem__(self, name: str) -> AvroSchema:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(f"unknown schema {name!r}; known: {', '.join(sorted(self._by_name))}") from None

    # Mapping's defaults rely on KeyError, which __getitem__ turns into a SchemaError.
    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @overload
    def get(self, name: str) -> AvroSchema | None: ...
    @overload
    def get(self, name: str, default: AvroSchema) -> AvroSchema: ...
    @overload
    def get(self, name: str, default: _T) -> AvroSchema | _T: ...
    def get(self, name: str, default: object = None) -> object:
        return self._by_name.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def by_fingerprint(self, fp: bytes) -> AvroSchema | None:
        return self._by_fingerprint.get(fp)

    def by_full_name(self, full_name: str) -> AvroSchema | None:
        return self._by_full_name.get(full_name)


def _avsc_files(folder: Any) -> list[Any]:
    return sorted((p for p in folder.iterdir() if p.name.endswith(".avsc")), key=lambda p: p.name)


def _parse_files(files: Iterable[Any]) -> Iterator[AvroSchema]:
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(f"{file.name}: cannot read: {exc}") from None
        yield parse_schema(text, source=file.name)


@functools.cache
def load_schemas() -> SchemaSet:
    """The installed contract (``streamproc_schemas``), parsed once per process."""
    return SchemaSet.from_package()
