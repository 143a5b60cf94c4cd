"""Avro serialisation of the topic contract (``schemas/*.avsc``).

:class:`Codec` encodes records with a schema of the contract and decodes both wire formats:
Avro single-object encoding (no registry) and the Confluent wire format (with a registry).
:func:`load_schemas` gives the installed contract; :func:`check_compatibility` applies Avro's
schema-resolution rules to two schema versions;
:func:`record_id` gives each published record its deterministic id.
"""

from ._check import check_schemas, sample_record, undocumented_fields
from ._codec import Codec, Decoded
from ._compat import Compatibility, check_compatibility
from ._errors import DECODE_REASONS, DecodeError, EncodeError, RegistryError, SchemaError, SerdeError
from ._factory import codec_for
from ._identity import RECORD_ID_DIGITS, record_id
from ._schemas import AvroSchema, SchemaSet, load_schemas, parse_schema

__all__ = [
    "DECODE_REASONS",
    "RECORD_ID_DIGITS",
    "AvroSchema",
    "Codec",
    "Compatibility",
    "DecodeError",
    "Decoded",
    "EncodeError",
    "RegistryError",
    "SchemaError",
    "SchemaSet",
    "SerdeError",
    "check_compatibility",
    "check_schemas",
    "codec_for",
    "load_schemas",
    "parse_schema",
    "record_id",
    "sample_record",
    "undocumented_fields",
]
