"""Lenient readers for JSON objects returned by the Neon API.

Real responses carry more fields than the OpenAPI document lists, and leave out some it marks
required (see the recorded cassettes), so the wire types read only what they need: a field the
client relies on must be present and of the right type, everything else is optional. A payload
that breaks that rule raises ``ApiError`` naming the object and field, never a ``KeyError``.

Decoded JSON holds exactly ``dict``, ``list``, ``str``, ``int`` and ``float``, so each reader
checks the exact type first and falls back to the general ``isinstance`` test (any
``Mapping``, ``int`` subclasses but not ``bool``) only when that fails: an ABC check per field
was a third of the time it takes to read a listed project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import ApiError

JsonObject = Mapping[str, Any]


def malformed(kind: str, key: str, value: object) -> ApiError:
    """Build the error raised for a response field that is missing or of the wrong type."""
    shown = type(value).__name__ if value is not None else "nothing"
    return ApiError(f"malformed {kind} in the API response: {key!r} is {shown}")


def as_object(value: object, kind: str) -> JsonObject:
    """Return ``value`` as a JSON object or raise ``ApiError``."""
    if type(value) is not dict and not isinstance(value, Mapping):
        raise malformed(kind, "<root>", value)
    return value


def required_str(data: JsonObject, key: str, kind: str) -> str:
    """Return the string at ``key``; it must be present."""
    value = data.get(key)
    if type(value) is not str and not isinstance(value, str):
        raise malformed(kind, key, value)
    return value


def optional_str(data: JsonObject, key: str, kind: str) -> str | None:
    """Return the string at ``key``, or ``None`` when it is absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise malformed(kind, key, value)
    return value


def required_int(data: JsonObject, key: str, kind: str) -> int:
    """Return the integer at ``key``; it must be present (booleans are refused)."""
    value = data.get(key)
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(kind, key, value)
    return value


def optional_int(data: JsonObject, key: str, kind: str) -> int | None:
    """Return the integer at ``key``, or ``None`` when it is absent or null."""
    if data.get(key) is None:
        return None
    return required_int(data, key, kind)


def optional_number(data: JsonObject, key: str, kind: str) -> float | None:
    """Return the number at ``key`` as a float, or ``None`` when absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if type(value) is float or type(value) is int:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise malformed(kind, key, value)
    return float(value)


def flag(data: JsonObject, key: str, kind: str, *, default: bool = False) -> bool:
    """Return the boolean at ``key``, or ``default`` when it is absent or null."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise malformed(kind, key, value)
    return value


def optional_object(data: JsonObject, key: str, kind: str) -> JsonObject | None:
    """Return the JSON object at ``key``, or ``None`` when it is absent or null."""
    value = data.get(key)
    if value is None:
        return None
    if type(value) is not dict and not isinstance(value, Mapping):
        raise malformed(kind, key, value)
    return value


def object_list(data: JsonObject, key: str, kind: str) -> list[JsonObject]:
    """Return the list of JSON objects at ``key`` (an absent key reads as an empty list)."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise malformed(kind, key, value)
    items: list[JsonObject] = []
    for item in value:
        if type(item) is not dict and not isinstance(item, Mapping):
            raise malformed(kind, f"{key}[]", item)
        items.append(item)
    return items


def string_list_map(data: JsonObject, key: str, kind: str) -> dict[str, tuple[str, ...]]:
    """Return a ``{id: [str, ...]}`` object (``integrations``) with tuples as values."""
    value = optional_object(data, key, kind) or {}
    result: dict[str, tuple[str, ...]] = {}
    for name, entries in value.items():
        if not isinstance(entries, Sequence) or isinstance(entries, str):
            raise malformed(kind, f"{key}.{name}", entries)
        result[str(name)] = tuple(str(entry) for entry in entries)
    return result
