"""Resolving settings from defaults, a TOML file, the environment and overrides."""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from ._errors import ConfigError
from ._secret import Secret

ENV_PREFIX = "STREAMPROC_"
CONFIG_ENV = "STREAMPROC_CONFIG"
BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# Extra client properties whose values must never be shown (sasl.oauthbearer.client.secret, ...).
_SECRET_KEY = re.compile(r"password|secret|token|jaas|credential", re.IGNORECASE)


class _Value(typing.NamedTuple):
    """A raw value and where it came from, so errors can say which layer to fix."""

    value: Any
    origin: str


def resolve(
    settings_cls: type,
    config_file: str | Path | None,
    env: Mapping[str, str] | None,
    overrides: Mapping[str, Any] | None,
) -> Any:
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    path = config_file or env.get(CONFIG_ENV)
    if path:
        _merge(raw, _tag(_read_toml(Path(path)), f"config file {path}"))
    _merge(raw, _from_env(settings_cls, env))
    _merge(raw, _tag(_nest(overrides or {}), "overrides"))
    return _build(settings_cls, raw, prefix="")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None


def _tag(tree: Mapping[str, Any], origin: str) -> dict[str, Any]:
    return {k: _tag(v, origin) if isinstance(v, Mapping) else _Value(v, origin) for k, v in tree.items()}


def _nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        if isinstance(value, Mapping):
            _merge(node.setdefault(leaf, {}), _nest(value))
        else:
            node[leaf] = value
    return nested


def _merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _from_env(settings_cls: type, env: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    if env.get(BOOTSTRAP_ENV):
        tree["kafka"] = {"bootstrap": _Value(env[BOOTSTRAP_ENV], BOOTSTRAP_ENV)}
    sections = {f.name for f in fields(settings_cls) if is_dataclass(f.default)}
    top_level = {f.name for f in fields(settings_cls)} - sections
    # Sorted so that a whole-mapping variable (..._CLIENT) comes before its per-key ones.
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if len(path) == 1:
            if path[0] in top_level:
                tree[path[0]] = _Value(env[name], name)
            elif any(path[0].startswith(f"{section}_") for section in sections):
                # STREAMPROC_WINDOW_SIZE: a likely typo for STREAMPROC_WINDOW__SIZE; say so.
                section, _, key = path[0].partition("_")
                raise ConfigError(f"{name}: not a setting; did you mean {ENV_PREFIX}{section.upper()}__{key.upper()}?")
            continue  # STREAMPROC_* variables of other tools are not ours to judge
        if path[0] == "kafka" and len(path) == 3 and path[1] == "client":
            path[2] = path[2].replace("_", ".")  # librdkafka property names use dots
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # a whole-mapping variable set this already
                raise ConfigError(f"{name}: conflicts with {child.origin}")
            node = child
        node[path[-1]] = _Value(env[name], name)
    return tree


def _build(cls: type, raw: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown setting{_origin_of(raw[key])}; known: {', '.join(known)}")
    values = {}
    for name, field in known.items():
        if name not in raw:
            continue
        key = f"{prefix}{name}"
        if is_dataclass(field.default):
            if not isinstance(raw[name], dict):
                raise ConfigError(f"{key}: expected a section (table){_origin_of(raw[name])}")
            values[name] = _build(type(field.default), raw[name], f"{key}.")
        else:
            values[name] = _coerce(key, hints[name], raw[name], field.metadata)
    return cls(**values)


def _origin_of(raw: Any) -> str:
    if isinstance(raw, _Value):
        return f" (from {raw.origin})"
    if isinstance(raw, dict):
        for value in raw.values():
            found = _origin_of(value)
            if found:
                return found
    return ""


def _coerce(key: str, hint: Any, raw: Any, meta: Mapping[str, Any]) -> Any:
    """Turn a raw value (typed from TOML or overrides, text from the environment) into ``hint``."""
    origin = _origin_of(raw)
    value = _unwrap(raw)
    optional = _is_optional(hint)
    if optional:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        if value is None or (isinstance(value, str) and not value.strip()):
            return None

    def fail(expected: str) -> typing.NoReturn:
        shown = "a secret" if hint is Secret else repr(value)
        raise ConfigError(f"{key}: expected {expected}, got {shown}{origin}")

    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        fail("true or false")
    if hint is int:
        number = _to_int(value)
        if number is None:
            fail(_describe_int(meta))
        if (meta.get("min") is not None and number < meta["min"]) or (
            meta.get("max") is not None and number > meta["max"]
        ):
            fail(_describe_int(meta))
        return number
    if hint is float:
        real = _to_float(value)
        if (
            real is None
            or (meta.get("min") is not None and real < meta["min"])
            or (meta.get("max") is not None and real > meta["max"])
        ):
            fail(_describe_float(meta))
        return real
    if hint is str:
        return _check_text(key, value, meta, fail)
    if hint is Secret:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            fail("a string")
        return Secret(value)
    origin_type = typing.get_origin(hint)
    if origin_type is list:
        items = _to_list(value)
        if items is None or not all(isinstance(i, str) and i for i in items):
            fail("a list of names (TOML array, JSON array or comma-separated text)")
        if meta.get("nonempty") and not items:
            fail("at least one name")
        return items
    if origin_type is dict:
        mapping = _to_mapping(value)
        if mapping is None:
            fail("a table (TOML table or JSON object)")
        value_hint = typing.get_args(hint)[1]
        return {name: _coerce_item(f"{key}.{name}", value_hint, item) for name, item in mapping.items()}
    raise TypeError(f"{key}: settings of type {hint} are not supported")  # a bug in a declaration


def _coerce_item(key: str, hint: Any, raw: Any) -> Any:
    value = _unwrap(raw)
    if hint is float:
        return _coerce(key, float, raw, {})
    if hint is str or hint == str | Secret:
        if isinstance(value, Secret):
            return value
        if not isinstance(value, (str, int, float, bool)):
            raise ConfigError(f"{key}: expected a text value, got {value!r}{_origin_of(raw)}")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        # Extra client properties may hold credentials: keep those out of every repr and log.
        return Secret(text) if _SECRET_KEY.search(key.rpartition(".")[2]) else text
    if typing.get_origin(hint) is dict:
        mapping = _to_mapping(value)
        if mapping is None:
            raise ConfigError(f"{key}: expected a table (TOML table or JSON object), got {value!r}{_origin_of(raw)}")
        return {name: _coerce_item(f"{key}.{name}", typing.get_args(hint)[1], item) for name, item in mapping.items()}
    # Free-form values (detector config): environment text is read as JSON when it parses as JSON.
    if isinstance(raw, _Value) and raw.origin.startswith(ENV_PREFIX) and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return _unwrap_deep(raw)


def _unwrap(raw: Any) -> Any:
    if isinstance(raw, _Value):
        return raw.value
    return raw


def _unwrap_deep(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _unwrap_deep(v) for k, v in raw.items()}
    return _unwrap(raw)


def _is_optional(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return None


def _to_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _to_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                return None
            return parsed if isinstance(parsed, list) else None
        return [item.strip() for item in value.split(",") if item.strip()]
    return None


def _to_mapping(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _check_text(key: str, value: Any, meta: Mapping[str, Any], fail: Callable[[str], typing.NoReturn]) -> str:
    if isinstance(value, os.PathLike):  # CLI flags typed as paths
        value = os.fspath(value)
    if not isinstance(value, str):
        fail("text")
    text = value.strip()
    choices = meta.get("choices")
    if choices:
        for choice in choices:
            if choice.lower() == text.lower():
                return typing.cast(str, choice)
        fail(f"one of {', '.join(choices)}")
    if meta.get("pattern") and not re.fullmatch(meta["pattern"], text):
        fail(f"text matching {meta['pattern']}")
    if meta.get("nonempty") and not text:
        fail("a non-empty value")
    return text


def _describe_int(meta: Mapping[str, Any]) -> str:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and high is not None:
        return f"an integer from {low} to {high}"
    if low == 1:
        return "a positive integer"
    if low == 0:
        return "a non-negative integer"
    if low is not None:
        return f"an integer of at least {low}"
    return "an integer"


def _describe_float(meta: Mapping[str, Any]) -> str:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and high is not None:
        return f"a number from {low} to {high}"
    if low is not None:
        return f"a number of at least {low}"
    return "a number"
