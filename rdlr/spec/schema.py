"""Parsed YAML -> frozen dataclasses, checked against the type hints (no domain knowledge here).

:func:`build` turns a mapping into an instance of a dataclass whose fields are typed with ``str``, ``int``,
``float``, ``bool``, ``Any``, ``X | None``, ``tuple[X, ...]``, ``dict[str, X]`` or another such dataclass. Unknown
keys, missing required keys, values of the wrong type and non-finite numbers (``.inf``, ``.nan``, also inside
``Any`` values) raise :class:`SchemaError` naming the dotted key (``search.space.gamma``, ``seeds[1]``), the
expected type and the value given. :func:`plain` is the way back: the YAML/JSON-able form of ``dataclasses.asdict``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, Union

_SCALAR_NAMES: dict[Any, str] = {str: "a string", int: "an integer", float: "a number", bool: "true/false"}


class SchemaError(ValueError):
    """A value does not fit the declared type; the message names the dotted key, the type and the value."""


class SpecError(SchemaError):
    """A sweep spec is invalid; the message names the key, the bad value and the valid choices."""


def join_key(where: str, key: str | int) -> str:
    """The dotted key of ``key`` under ``where`` (``data`` + ``store`` -> ``data.store``; ints as ``[i]``)."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def type_name(hint: Any) -> str:
    """A type hint in words, for error messages (``tuple[int, ...]`` -> ``a list of an integer``)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return "any value"
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in typing.get_args(hint))
    if origin is tuple:
        return f"a list of {type_name(typing.get_args(hint)[0])}"
    if origin is dict:
        return f"a mapping of {type_name(typing.get_args(hint)[1])}"
    if dataclasses.is_dataclass(hint):
        return f"a mapping ({hint.__name__})"
    if hint is type(None):
        return "null"
    return _SCALAR_NAMES.get(hint, str(hint))


SPEC_KEY = "spec_key"  # field metadata: False for a dataclass field that no spec file may set


def build(cls: type, raw: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping (``None`` = empty): unknown keys, missing keys and wrong
    types raise. A :class:`SchemaError` raised by ``cls`` itself (its own checks) is prefixed with ``where``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SchemaError(f"{where or 'the spec'} must be a mapping, got {type(raw).__name__} {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get(SPEC_KEY, True)}
    unknown = [key for key in raw if key not in fields]
    if unknown:
        raise SchemaError(
            f"unknown key {join_key(where, str(unknown[0]))!r}; valid keys{' of ' + where if where else ''}: "
            f"{', '.join(fields)}"
        )
    missing = [
        name
        for name, f in fields.items()
        if name not in raw and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise SchemaError(f"missing required key {join_key(where, missing[0])!r} ({type_name(hints[missing[0]])})")
    values = {name: coerce(value, hints[name], join_key(where, name)) for name, value in raw.items()}
    try:
        return cls(**values)
    except SchemaError as error:
        if where and not str(error).startswith(where):
            raise SchemaError(f"{where}: {error}") from None
        raise


def coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against ``hint`` (containers converted: lists -> tuples, keys -> strings)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return _finite(value, where)
    if origin in (Union, types.UnionType):
        return _coerce_union(value, hint, where)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin is tuple:
        if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
            raise SchemaError(f"{where} must be {type_name(hint)}, got {value!r}")
        item = typing.get_args(hint)[0]
        return tuple(coerce(v, item, join_key(where, i)) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SchemaError(f"{where} must be {type_name(hint)}, got {value!r}")
        _, item = typing.get_args(hint)
        return {str(k): coerce(v, item, join_key(where, str(k))) for k, v in value.items()}
    return _coerce_scalar(value, hint, where)


def _coerce_union(value: Any, hint: Any, where: str) -> Any:
    """The first member type ``value`` fits; ``None`` where the union allows it."""
    args = typing.get_args(hint)
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return coerce(value, arg, where)
        except SchemaError as error:
            errors.append(str(error))
    raise SchemaError(errors[0] if len(errors) == 1 else f"{where} must be {type_name(hint)}, got {value!r}")


def _coerce_scalar(value: Any, hint: Any, where: str) -> Any:
    """``bool``, ``int`` (not a bool), ``float`` (an int is accepted), non-empty ``str``."""
    if hint is bool:
        if not isinstance(value, bool):
            raise SchemaError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(f"{where} must be a number, got {value!r}")
        return _finite(value, where)
    if hint is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise SchemaError(
                f"{where} must be a non-empty string, got the number {value!r} (quote text that YAML "
                "reads as a number, e.g. '007')"
            )
        if not isinstance(value, str) or not value.strip():
            raise SchemaError(f"{where} must be a non-empty string, got {value!r}")
        return value
    raise SchemaError(f"{where}: unsupported type {hint!r}")


def _finite(value: Any, where: str) -> Any:
    """``value`` unless it is, or holds, an infinite or NaN number (YAML's ``.inf``, ``.nan``)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(f"{where} must be a finite number, got {value!r}")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _finite(item, join_key(where, str(key)))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _finite(item, join_key(where, i))
    return value


def plain(value: Any) -> Any:
    """Mappings, lists and tuples as plain dicts (string keys) and lists, for YAML/JSON."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
