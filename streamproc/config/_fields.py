"""Declaring settings: a default, a one-line help and the constraints the loader enforces."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any


def setting(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[str, ...] | None = None,
    pattern: str | None = None,
    nonempty: bool = False,
) -> Any:
    """A dataclass field carrying what the loader needs to coerce and check it.

    ``min``/``max`` bound numbers; ``choices`` limits strings (matched case-insensitively, stored
    as spelled here); ``pattern`` is a regular expression a string must match in full;
    ``nonempty`` rejects empty strings, lists and mappings.
    """
    metadata = {"help": help, "min": min, "max": max, "choices": choices, "pattern": pattern, "nonempty": nonempty}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)
