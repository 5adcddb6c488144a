"""Small helpers that keep problem messages consistent: hints and value descriptions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest option, or ``""`` when none is close."""
    matches = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def unknown(what: str, word: str, options: Iterable[str]) -> str:
    """``unknown <what> 'word'`` with a hint, or the allowed values when nothing is close."""
    choices = sorted(options)
    hint = did_you_mean(word, choices)
    if hint:
        return f"unknown {what} {word!r}{hint}"
    allowed = ", ".join(choices) if choices else "none are declared"
    return f"unknown {what} {word!r} (expected one of: {allowed})"


def describe(value: Any) -> str:
    """A short, YAML-flavoured description of a value for "got ..." phrases."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    return repr(value)
