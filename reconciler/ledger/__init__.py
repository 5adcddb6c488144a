"""The ledger: neon-fleet's own durable record of the tenants it owns and of every apply run.

Open one with ``open_ledger(url)``; the scheme picks the backend (SQLite by default, or
PostgreSQL). Readers (``LedgerReader``) feed the planner and ``fleet history``; the applier
writes through ``Ledger``. See ``base.py`` for the guarantees every backend keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from reconciler.errors import LedgerError
from reconciler.ledger.base import Ledger, LedgerReader
from reconciler.ledger.migrations import Migration
from reconciler.ledger.records import (
    AppliedMigration,
    DeletedTenant,
    Intent,
    IntentOutcome,
    RunInfo,
    RunRecord,
    StepOutcomeRecord,
    StepStatus,
    current_actor,
    utc_now,
)
from reconciler.ledger.url import (
    DEFAULT_LEDGER_URL,
    LEDGER_ENV,
    SqliteTarget,
    parse_ledger_url,
    redact_url,
)

__all__ = [
    "DEFAULT_LEDGER_URL",
    "LEDGER_ENV",
    "AppliedMigration",
    "DeletedTenant",
    "Intent",
    "IntentOutcome",
    "Ledger",
    "LedgerReader",
    "RunInfo",
    "RunRecord",
    "StepOutcomeRecord",
    "StepStatus",
    "current_actor",
    "open_ledger",
    "postgres_ledger_exists",
    "redact_url",
    "utc_now",
]


def open_ledger(
    url: str,
    *,
    base_dir: Path | None = None,
    clock: Callable[[], datetime] | None = None,
    migrations: Sequence[Migration] | None = None,
) -> Ledger:
    """Open (creating and migrating as needed) the ledger at ``url``.

    ``base_dir`` anchors relative SQLite paths (default: the working directory). ``clock`` and
    ``migrations`` exist for tests. Raises ``UsageError`` for a bad URL, ``LedgerError`` when
    the ledger cannot be opened and ``LedgerMigrationError`` when it is newer than this tool.
    """
    # Backends are imported here so that a SQLite user never imports psycopg.
    target = parse_ledger_url(url, base_dir=base_dir)
    if isinstance(target, SqliteTarget):
        from reconciler.ledger.sqlite import SqliteLedger

        return SqliteLedger(target.path, clock=clock, migrations=migrations)
    try:
        from reconciler.ledger.postgres import PostgresLedger
    except ImportError as exc:
        raise _without_postgres(target.display, exc) from exc

    return PostgresLedger(
        target.conninfo,
        schema=target.schema,
        display=target.display,
        clock=clock,
        migrations=migrations,
    )


def postgres_ledger_exists(url: str) -> bool:
    """Whether the PostgreSQL ledger at ``url`` has been created (its migrations table is in
    its schema), found without creating anything: readers such as ``fleet history`` must not
    leave a new schema and empty tables behind."""
    target = parse_ledger_url(url)
    if isinstance(target, SqliteTarget):
        raise TypeError(f"not a PostgreSQL ledger URL: {redact_url(url)}")
    try:
        from reconciler.ledger.postgres import ledger_exists
    except ImportError as exc:
        raise _without_postgres(target.display, exc) from exc
    return ledger_exists(target.conninfo, target.schema, target.display)


def _without_postgres(display: str, exc: ImportError) -> LedgerError:
    """The error for a PostgreSQL ledger when psycopg (the extra ``neon-fleet[postgres]``) is
    missing; any other failed import is raised again as it is."""
    if not (exc.name or "psycopg").startswith("psycopg"):
        raise exc
    return LedgerError(
        f"the ledger {display} is PostgreSQL, and PostgreSQL support is not "
        "installed: pip install 'neon-fleet[postgres]'"
    )
