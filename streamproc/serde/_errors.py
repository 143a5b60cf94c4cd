"""Typed errors of the Avro layer; all are user-actionable StreamprocErrors."""

from __future__ import annotations

from streamproc.errors import StreamprocError


class SerdeError(StreamprocError):
    """Base class of every error raised by :mod:`streamproc.serde`."""


class SchemaError(SerdeError):
    """A schema file is unreadable, invalid, duplicated or unknown; the message names it."""


class EncodeError(SerdeError):
    """A record does not match its schema.

    ``schema`` is the schema's short name; ``field`` the offending field as
    ``Record.field`` (the record type that holds it), or None when the whole record is wrong.
    """

    def __init__(self, schema: str, field: str | None, message: str) -> None:
        super().__init__(
            f"cannot encode {schema}: {field}: {message}" if field else f"cannot encode {schema}: {message}"
        )
        self.schema = schema
        self.field = field


class DecodeError(SerdeError):
    """Bytes that are not a message this codec can read.

    ``reason`` is a stable, machine-readable code (one of :data:`DECODE_REASONS`) that
    dead-letter records carry; ``detail`` is the human-readable explanation.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


DECODE_REASONS = (
    "unknown-magic",  # neither single-object (C3 01) nor Confluent (00) framing
    "unknown-fingerprint",  # single-object framing, but no known schema has that fingerprint
    "unknown-schema-id",  # Confluent framing, but the registry (if any) does not know the id
    "truncated",  # the bytes end before the header or the record does
    "malformed",  # the body is not a valid encoding of the schema, or has trailing bytes
    "schema-mismatch",  # the writer's schema is not one of ours, cannot be resolved, or not the expected one
)


class RegistryError(SerdeError):
    """The schema registry could not be reached or refused a request (not the message's fault)."""
