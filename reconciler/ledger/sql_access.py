"""What the SQL feature stores see of a SQL ledger: one transaction at a time, its clock and
its value conversions.

``SqlLedger`` satisfies ``SqlAccess``; the stores behind the ``Ledger`` interface
(``sql_checkpoints``, ``sql_usage``, ``sql_drift``, ``sql_retention``) are written against this
protocol rather than against ``SqlLedger`` itself, so that ``SqlLedger`` can build them without
an import cycle, and no store depends on more of the ledger than it uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from reconciler.ledger.cells import Cells

Row = tuple[Any, ...]


class Tx(Protocol):
    """One open transaction: the only way ``SqlLedger`` talks to its database."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query and return its first row, if any."""

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return all its rows."""


class SqlAccess(Protocol):
    """The part of ``SqlLedger`` the feature stores use."""

    def transaction(
        self, *, write: bool = False, exclusive: bool = False
    ) -> AbstractContextManager[Tx]:
        """One transaction (``exclusive``: one at a time across processes)."""

    def now(self) -> datetime:
        """The ledger's clock."""

    def time_in(self, value: datetime) -> Any:
        """A time as this backend stores it."""

    def json_in(self, value: Any) -> Any:
        """A JSON value as this backend stores it."""

    def bool_in(self, value: bool) -> Any:
        """A boolean as this backend stores it."""

    def cells(self, table: str, row: str) -> Cells:
        """Checked readers of one row's stored values (``LedgerCorruptedError`` when bad)."""
