"""Checks that keep the contract sound: documented fields, round trips, backward compatibility."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast

from ._codec import Codec
from ._compat import check_compatibility
from ._errors import SchemaError, SerdeError
from ._schemas import AvroSchema, SchemaSet

_SAMPLE_PRIMITIVES: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "int": 7,
    "long": 1_700_000_000_000,
    "float": 0.5,
    "double": 0.25,
    "bytes": b"\x00\xff",
    "string": "example",
}


def sample_record(schema: AvroSchema) -> dict[str, Any]:
    """A valid record of ``schema`` with every optional (union) field set to a non-null value."""
    return cast(dict[str, Any], _sample(schema.definition, {}, namespace=""))  # a record samples as a dict


def _sample(node: Any, named: dict[str, Any], namespace: str) -> Any:
    if isinstance(node, str):
        if node in _SAMPLE_PRIMITIVES:
            return _SAMPLE_PRIMITIVES[node]
        return _sample(named.get(node) or named[f"{namespace}.{node}"], named, namespace)
    if isinstance(node, list):
        branches = [b for b in node if b != "null"] or node
        return _sample(branches[0], named, namespace)
    kind = node["type"]
    if kind in ("record", "enum", "fixed"):
        namespace = node.get("namespace", namespace)
        full = node["name"] if "." in node["name"] else f"{namespace}.{node['name']}".lstrip(".")
        named[full] = node
    if kind == "record":
        return {f["name"]: _sample(f["type"], named, namespace) for f in node["fields"]}
    if kind == "enum":
        return node["symbols"][0]
    if kind == "fixed":
        return bytes(node["size"])
    if kind == "array":
        return [_sample(node["items"], named, namespace)]
    if kind == "map":
        return {"key": _sample(node["values"], named, namespace)}
    return _sample(kind, named, namespace)


def undocumented_fields(schema: AvroSchema) -> list[str]:
    """Fields (as ``Record.field``) whose ``doc`` is missing or empty."""
    return list(_undocumented(schema.definition))


def _undocumented(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for branch in node:
            yield from _undocumented(branch)
    elif isinstance(node, Mapping):
        if node.get("type") == "record":
            for field in node["fields"]:
                if not str(field.get("doc", "")).strip():
                    yield f"{node['name']}.{field['name']}"
                yield from _undocumented(field["type"])
        else:
            for key in ("items", "values"):
                if key in node:
                    yield from _undocumented(node[key])


def check_schemas(schemas: SchemaSet, against: SchemaSet | None = None) -> list[str]:
    """Check the contract; raise SchemaError (one line, naming the schema) at the first problem.

    Every field must be documented, a sample record of every schema must survive an encode/decode
    round trip, and with ``against`` (the previous contract) every schema it has must still exist
    and read data written with it (backward compatibility); so must each schema the records of its
    earlier versions (``previous/``), which decoders accept. Returns one summary line per schema
    and per earlier version.
    """
    codec = Codec(schemas)
    report = []
    for name, schema in schemas.items():
        missing = undocumented_fields(schema)
        if missing:
            raise SchemaError(f"{schema.source}: fields without a doc string: {', '.join(missing)}")
        sample = sample_record(schema)
        try:
            decoded = codec.decode(codec.encode(name, sample), expect=name)
        except SerdeError as exc:
            raise SchemaError(f"{schema.source}: sample record does not round-trip: {exc}") from None
        if decoded.record != sample:
            raise SchemaError(f"{schema.source}: sample record changed in a round trip")
        line = f"{name}: ok ({schema.source}, fingerprint {schema.fingerprint.hex()})"
        if against is not None and name in against:
            verdict = check_compatibility(schema, against[name])
            if not verdict:
                raise SchemaError(
                    f"{schema.source}: cannot read data written with the previous {name}: {verdict.problem}"
                )
            line += ", backward compatible"
        report.append(line)
    for earlier in schemas.previous():
        current = schemas.by_full_name(earlier.full_name)
        assert current is not None  # SchemaSet keeps only earlier versions of schemas it has
        verdict = check_compatibility(current, earlier)
        if not verdict:
            raise SchemaError(
                f"{current.source}: cannot read records written with its earlier version "
                f"{earlier.source}: {verdict.problem}"
            )
        report.append(
            f"{current.name}: reads its earlier version {earlier.source} (fingerprint {earlier.fingerprint.hex()})"
        )
    if against is not None:
        removed = sorted(set(against) - set(schemas))
        if removed:
            raise SchemaError(f"schemas removed from the contract: {', '.join(removed)}")
    return report
