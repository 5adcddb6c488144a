"""Checked decoding of stored values: a corrupted cell is one clear error, never a traceback.

Everything a ledger returns passes through ``Cells`` on its way from a row to a record. Each
method checks one cell against what neon-fleet writes there (text, an integer, a UTC time, a
JSON object …) and raises ``LedgerCorruptedError`` naming the ledger, table, row and column
otherwise. The checks are ``isinstance`` tests and the conversions the backends do anyway, so
they cost nothing that matters next to the query.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from reconciler.errors import LedgerCorruptedError

E = TypeVar("E", bound=enum.Enum)

#: What a decoding conversion may raise on a value that is not what it expects. ``RecursionError``
#: comes from absurdly nested JSON, ``OverflowError`` from out-of-range times.
DECODE_ERRORS = (ValueError, TypeError, KeyError, OverflowError, RecursionError)


def _kind(value: Any) -> str:
    """A value's kind for messages; the value itself is never shown (it may be anything)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a real number"
    if isinstance(value, str):
        return "text" if value else "empty text"
    if isinstance(value, bytes | bytearray | memoryview):
        return "a blob"
    return f"a {type(value).__name__}"


class Cells:
    """Decoders for the cells of one row of one table.

    ``time_out``/``json_out`` are the backend's conversions; ``ledger`` names the ledger.
    """

    def __init__(
        self,
        ledger: str,
        table: str,
        row: str,
        time_out: Callable[[Any], datetime],
        json_out: Callable[[Any], Any],
    ) -> None:
        # A label made of corrupted values could be anything: keep messages one short line.
        self._ledger, self._table, self._row = (
            ledger,
            table,
            row if len(row) <= 100 else row[:97] + "...",
        )
        self._time_out, self._json_out = time_out, json_out

    def corrupted(self, column: str, problem: str) -> LedgerCorruptedError:
        """The error for a bad cell of this row (for checks the methods below do not cover)."""
        return LedgerCorruptedError(self._ledger, self._table, self._row, column, problem)

    def text(self, column: str, value: Any, *, empty: bool = True) -> str:
        """Text (an id, a name, a message); ``empty=False`` refuses ``''`` as well."""
        if not isinstance(value, str) or (not empty and not value):
            wanted = "text" if empty else "non-empty text"
            raise self.corrupted(column, f"expected {wanted}, found {_kind(value)}")
        return value

    def optional_text(self, column: str, value: Any) -> str | None:
        """Text or NULL."""
        return None if value is None else self.text(column, value)

    def integer(self, column: str, value: Any, *, minimum: int | None = None) -> int:
        """An integer (booleans and reals are not), at least ``minimum`` when given."""
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.corrupted(column, f"expected an integer, found {_kind(value)}")
        if minimum is not None and value < minimum:
            raise self.corrupted(column, f"expected an integer of at least {minimum}")
        return value

    def optional_integer(self, column: str, value: Any) -> int | None:
        """An integer or NULL."""
        return None if value is None else self.integer(column, value)

    def flag(self, column: str, value: Any) -> bool:
        """A boolean as stored: ``true``/``false`` or 0/1."""
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self.corrupted(column, f"expected a boolean (0 or 1), found {_kind(value)}")

    def optional_flag(self, column: str, value: Any) -> bool | None:
        """A boolean or NULL."""
        return None if value is None else self.flag(column, value)

    def time(self, column: str, value: Any) -> datetime:
        """A UTC time as the backend stores it."""
        if value is None:
            raise self.corrupted(column, "expected a time, found NULL")
        try:
            moment = self._time_out(value)
        except DECODE_ERRORS as exc:
            raise self.corrupted(
                column, f"expected an ISO 8601 time, found {_kind(value)}"
            ) from exc
        if moment.tzinfo is None:
            raise self.corrupted(column, "expected a time with a UTC offset")
        return moment

    def optional_time(self, column: str, value: Any) -> datetime | None:
        """A UTC time or NULL."""
        return None if value is None else self.time(column, value)

    def json_object(self, column: str, value: Any) -> dict[str, Any]:
        """A JSON object (``{…}``) as the backend stores it."""
        if value is None:
            raise self.corrupted(column, "expected a JSON object, found NULL")
        try:
            decoded = self._json_out(value)
        except DECODE_ERRORS as exc:
            raise self.corrupted(column, f"expected a JSON object, found {_kind(value)}") from exc
        if not isinstance(decoded, Mapping):
            raise self.corrupted(column, f"expected a JSON object, found JSON {_kind(decoded)}")
        return dict(decoded)

    def counts(self, column: str, value: Any) -> dict[str, int]:
        """A JSON object of integer counts (a run summary)."""
        found = self.json_object(column, value)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in found.values()):
            raise self.corrupted(column, "expected a JSON object of integer counts")
        return found

    def strings(self, column: str, value: Any) -> dict[str, str]:
        """A JSON object of text values (checkpoint metadata)."""
        found = self.json_object(column, value)
        if not all(isinstance(v, str) for v in found.values()):
            raise self.corrupted(column, "expected a JSON object of text values")
        return found

    def choice(self, column: str, value: Any, kind: type[E]) -> E:
        """One of an enumeration's values."""
        try:
            return kind(value)
        except (ValueError, TypeError):
            allowed = ", ".join(str(member.value) for member in kind)
            raise self.corrupted(column, f"expected one of {allowed}") from None
