"""Showing resolved settings as TOML (secrets masked), the format the config file uses."""

from __future__ import annotations

import json
from typing import Any


def to_toml(tree: dict[str, Any]) -> str:
    """Render ``Settings.to_dict()`` output; unset (None) values become comments."""
    lines = []
    for key, value in tree.items():
        if not isinstance(value, dict):
            lines.append(_assignment(key, value))
    for section, table in tree.items():
        if isinstance(table, dict):
            lines.append("")
            lines.append(f"[{section}]")
            lines.extend(_assignment(key, value) for key, value in table.items())
    return "\n".join(lines).lstrip("\n") + "\n"


def _assignment(key: str, value: Any) -> str:
    if value is None:
        return f"# {key} is unset"
    return f"{_key(key)} = {_value(value)}"


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot render {type(value).__name__} as TOML")
