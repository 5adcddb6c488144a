"""Compact, key-sorted JSON text made by one reusable encoder (seals, digests, comparisons).

``compact_sorted(allow_nan=...)`` returns a function equal to ``json.dumps(value,
sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=allow_nan)`` for
JSON-shaped values. ``json.dumps`` (and ``JSONEncoder.encode``) builds a new C encoder and a
dict of markers for its circular-reference check on every call, which costs more than encoding
a plan step; seals, fingerprints and plan comparisons encode one value per step or tenant, so
the C encoder is made once here. Without the check a circular value raises ``RecursionError``
instead of ``ValueError``; values read from JSON or built by the planner are never circular.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any


def compact_sorted(*, allow_nan: bool) -> Callable[[Any], str]:
    """The ``json.dumps`` above as a function, its encoder made once."""
    return sorted_encoder(separators=(",", ":"), allow_nan=allow_nan)


def sorted_encoder(*, separators: tuple[str, str], allow_nan: bool) -> Callable[[Any], str]:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False, ...)`` with one encoder."""
    item_separator, key_separator = separators
    encoder = json.JSONEncoder(
        sort_keys=True, separators=separators, ensure_ascii=False, allow_nan=allow_nan
    )
    if c_make_encoder is None:  # a Python without the C accelerator: still one encoder
        return encoder.encode
    chunks = c_make_encoder(
        None,
        encoder.default,
        encode_basestring,
        None,
        key_separator,
        item_separator,
        True,
        False,
        allow_nan,
    )

    def encode(value: Any) -> str:
        kind = type(value)
        if kind is str:  # encode() special-cases a bare string the same way
            return encode_basestring(value)
        if kind is int:  # what the C encoder writes for an int, without calling it
            return int.__repr__(value)
        if value is None:
            return "null"
        return "".join(chunks(value, 0))

    return encode
