"""Rates as people write them: ``700/min``, ``40/s``, or a bare number in a default unit."""

from __future__ import annotations

import re

from reconciler.errors import UsageError

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*$")
_SECONDS_PER_UNIT = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}


def parse_rate(text: str, *, default_unit: str) -> float:
    """Requests per second from ``"700/min"``, ``"40/s"`` or a bare number in ``default_unit``.

    Raises ``UsageError`` for anything else, or a rate that is not positive.
    """
    found = _RATE.match(text)
    if found is None:
        raise UsageError(f"bad rate limit {text!r}: write it like 700/min or 40/s")
    value = float(found.group(1))
    if value <= 0:
        raise UsageError(f"bad rate limit {text!r}: it must be positive")
    return value / _SECONDS_PER_UNIT[found.group(2) or default_unit]
