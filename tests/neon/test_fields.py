"""The response field readers: exact JSON types take the fast path, the rules stay the same."""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import Any

import pytest

from reconciler.errors import ApiError
from reconciler.neon import fields as f


class Flag(enum.IntEnum):
    ON = 1


class Text(str):
    pass


def test_readers_accept_exact_json_types_and_their_general_forms() -> None:
    data: dict[str, Any] = {"i": 3, "n": 2.5, "s": "x", "o": {"a": 1}, "l": [{"b": 2}]}
    assert f.required_int(data, "i", "k") == 3 and f.optional_number(data, "i", "k") == 3.0
    assert f.optional_number(data, "n", "k") == 2.5 and f.required_str(data, "s", "k") == "x"
    assert f.optional_object(data, "o", "k") == {"a": 1}
    assert f.object_list(data, "l", "k") == [{"b": 2}]
    # Not what json.loads gives, but still a mapping / an int / a str: accepted as before.
    general = {"o": MappingProxyType({"a": 1}), "i": Flag.ON, "s": Text("y")}
    assert f.as_object(MappingProxyType(general), "k") is not None
    assert f.optional_object(general, "o", "k") == {"a": 1}
    assert f.required_int(general, "i", "k") == 1 and f.optional_number(general, "i", "k") == 1.0
    assert f.required_str(general, "s", "k") == "y"
    assert f.object_list({"l": [MappingProxyType({"b": 2})]}, "l", "k") == [{"b": 2}]


@pytest.mark.parametrize(
    ("reader", "value"),
    [
        (f.required_int, True),
        (f.required_int, 1.0),
        (f.required_int, "1"),
        (f.optional_number, False),
        (f.optional_number, "2.5"),
        (f.required_str, 5),
        (f.optional_object, [1]),
        (f.object_list, [1]),
    ],
)
def test_readers_still_refuse_the_wrong_type_naming_the_field(reader: Any, value: object) -> None:
    with pytest.raises(ApiError, match="malformed thing in the API response: 'field"):
        reader({"field": value}, "field", "thing")
