"""Numbered ledger migrations, one module each: ``v0001_initial.py``, ``v0002_….py`` …

A migration module defines ``SQLITE`` and ``POSTGRES``, tuples of SQL statements in each
backend's dialect (the two differ in identity columns, time and JSON types). ``discover`` finds
the modules by name, in number order, and refuses a gap or a duplicate number, so a migration
can never be skipped. ``SqlLedger`` applies the pending ones inside one transaction and records
each in ``schema_migrations``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.errors import LedgerMigrationError
from reconciler.ledger.cells import Cells
from reconciler.ledger.records import AppliedMigration

_MODULE_NAME = re.compile(r"^v(\d{4})_([a-z0-9_]+)$")

#: The table that records applied migrations; created before any numbered migration runs.
MIGRATIONS_TABLE = "schema_migrations"


@dataclass(frozen=True)
class Migration:
    """One numbered schema change, with its statements for each backend dialect."""

    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: str) -> tuple[str, ...]:
        """The SQL statements of this migration for ``dialect`` (``sqlite`` or ``postgres``)."""
        if dialect == "sqlite":
            return self.sqlite
        if dialect == "postgres":
            return self.postgres
        raise LedgerMigrationError(f"migration {self.version} has no {dialect} dialect")


def discover() -> tuple[Migration, ...]:
    """Every migration of this package in version order; the numbers must run 1, 2, 3 …"""
    found: list[Migration] = []
    for info in pkgutil.iter_modules(__path__):
        match = _MODULE_NAME.match(info.name)
        if match is None:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                sqlite=tuple(module.SQLITE),
                postgres=tuple(module.POSTGRES),
            )
        )
    found.sort(key=lambda migration: migration.version)
    check_numbering(found)
    return tuple(found)


def check_numbering(migrations: Sequence[Migration]) -> None:
    """Raise ``LedgerMigrationError`` unless the versions are exactly 1..n in order."""
    versions = [migration.version for migration in migrations]
    expected = list(range(1, len(versions) + 1))
    if versions != expected:
        raise LedgerMigrationError(
            f"ledger migrations are not numbered 1..{len(versions)} without gaps: {versions}"
        )


def applied_from_rows(
    rows: Sequence[Sequence[Any]],
    cells: Callable[[str, str], Cells],
    migrations: Sequence[Migration],
) -> list[AppliedMigration]:
    """The rows of ``schema_migrations``, checked: versions run 1..n, each named as we name it.

    ``LedgerCorruptedError`` for a bad cell, a gap, or a known version under another name:
    counting such a ledger's version from ``MAX(version)`` would skip or re-run migrations.
    """
    applied: list[AppliedMigration] = []
    for version, name, applied_at in rows:
        cell = cells(MIGRATIONS_TABLE, f"version {version}")
        applied.append(
            AppliedMigration(
                cell.integer("version", version, minimum=1),
                cell.text("name", name),
                cell.time("applied_at", applied_at),
            )
        )
    applied.sort(key=lambda migration: migration.version)
    known = {migration.version: migration.name for migration in migrations}
    for position, migration in enumerate(applied, start=1):
        cell = cells(MIGRATIONS_TABLE, f"version {migration.version}")
        if migration.version != position:
            raise cell.corrupted(
                "version", f"migration {position} is missing (versions must run 1, 2, 3 …)"
            )
        if known.get(migration.version, migration.name) != migration.name:
            raise cell.corrupted(
                "name", f"migration {migration.version} is {known[migration.version]!r}"
            )
    return applied
