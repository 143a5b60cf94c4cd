"""Schema evolution: can data written with one schema be read with another?"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import avro.errors
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from ._errors import SchemaError
from ._schemas import AvroSchema


@dataclass(frozen=True)
class Compatibility:
    """The verdict of :func:`check_compatibility`; ``problem`` says what breaks, and where."""

    compatible: bool
    problem: str = ""

    def __bool__(self) -> bool:
        return self.compatible


def check_compatibility(
    reader: AvroSchema | Mapping[str, Any] | str, writer: AvroSchema | Mapping[str, Any] | str
) -> Compatibility:
    """Whether every datum written with ``writer`` can be read with ``reader`` (Avro resolution).

    A new schema is *backward* compatible with an old one when ``check_compatibility(new, old)``
    holds: consumers on the new schema read old data. Swap the arguments for *forward*
    compatibility. Uses the reference Avro library's rules (the same ones schema registries apply).
    """
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]  # avro leaves __init__ unannotated
    result = checker.get_compatibility(_parse(reader), _parse(writer))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return Compatibility(True)
    # The checker merges nested results into unordered sets, so they are reported side by side.
    kinds = ", ".join(sorted({k.value for k in result.incompatibilities}))
    locations = ", ".join(sorted(result.locations))
    messages = "; ".join(sorted(result.messages))
    return Compatibility(False, f"{kinds} at {locations}: {messages}")


def _parse(schema: AvroSchema | Mapping[str, Any] | str) -> avro.schema.Schema:
    if isinstance(schema, AvroSchema):
        text = schema.json
    elif isinstance(schema, str):
        text = schema
    else:
        text = json.dumps(schema)
    try:
        return avro.schema.parse(text)
    except (avro.errors.AvroException, json.JSONDecodeError) as exc:
        raise SchemaError(f"invalid Avro schema: {exc}") from None
