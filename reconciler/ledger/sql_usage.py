"""The SQL usage store behind ``Ledger.usage`` (tables of migration ``v0003_usage``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from reconciler.ledger.sql_access import SqlAccess
from reconciler.ledger.usage import UsageSample, UsageStore

_COLUMNS = "project_id, metric, granularity, timeframe_start, timeframe_end, value, org_id, tenant"


class SqlUsageStore(UsageStore):
    """Usage samples and sync marks in a SQL ledger (SQLite or PostgreSQL)."""

    def __init__(self, ledger: SqlAccess) -> None:
        self._ledger = ledger

    def upsert(self, samples: Sequence[UsageSample]) -> int:
        """Store ``samples`` in one transaction (replacing same-key ones); return how many."""
        if not samples:
            return 0
        ledger = self._ledger
        stamp = ledger.time_in(ledger.now())
        rows = [
            (
                s.project_id,
                s.metric,
                s.granularity,
                ledger.time_in(s.timeframe_start),
                ledger.time_in(s.timeframe_end),
                int(s.value),
                s.org_id,
                s.tenant,
                stamp,
            )
            for s in samples
        ]
        with ledger.transaction(write=True) as tx:
            tx.many(
                f"INSERT INTO usage_samples ({_COLUMNS}, synced_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (project_id, metric, granularity, timeframe_start) DO UPDATE SET"
                " timeframe_end = excluded.timeframe_end, value = excluded.value,"
                " org_id = excluded.org_id, tenant = excluded.tenant,"
                " synced_at = excluded.synced_at",
                rows,
            )
        return len(rows)

    def samples(
        self,
        granularity: str,
        start: datetime,
        end: datetime,
        *,
        org_ids: Iterable[str] | None = None,
    ) -> list[UsageSample]:
        """Samples of ``granularity`` whose timeframe starts in ``[start, end)``, oldest first."""
        ledger = self._ledger
        sql = (
            f"SELECT {_COLUMNS} FROM usage_samples WHERE granularity = ?"
            " AND timeframe_start >= ? AND timeframe_start < ?"
        )
        params: list[object] = [granularity, ledger.time_in(start), ledger.time_in(end)]
        if org_ids is not None:
            wanted = sorted(set(org_ids))
            if not wanted:
                return []
            sql += f" AND org_id IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        with ledger.transaction() as tx:
            found = tx.all(sql + " ORDER BY timeframe_start, project_id, metric", params)
        return [self._sample(row) for row in found]

    def _sample(self, row: Sequence[object]) -> UsageSample:
        project_id, metric, granularity, start, end, value, org_id, tenant = row
        cell = self._ledger.cells("usage_samples", f"{project_id!r} {metric!r} at {start!r}")
        return UsageSample(
            project_id=cell.text("project_id", project_id),
            metric=cell.text("metric", metric),
            granularity=cell.text("granularity", granularity),
            timeframe_start=cell.time("timeframe_start", start),
            timeframe_end=cell.time("timeframe_end", end),
            value=cell.integer("value", value),
            org_id=cell.text("org_id", org_id),
            tenant=cell.optional_text("tenant", tenant),
        )

    def known_tenants(self, org_id: str) -> dict[str, str]:
        """Project id → tenant as recorded by earlier syncs of ``org_id``."""
        with self._ledger.transaction() as tx:
            found = tx.all(
                "SELECT DISTINCT project_id, tenant FROM usage_samples"
                " WHERE org_id = ? AND tenant IS NOT NULL",
                (org_id,),
            )
        return {str(project): str(tenant) for project, tenant in found}

    def count(self) -> int:
        """How many samples the store holds (all granularities)."""
        with self._ledger.transaction() as tx:
            row = tx.one("SELECT COUNT(*) FROM usage_samples")
        return int(row[0]) if row else 0

    def synced_until(self, org_id: str, granularity: str) -> datetime | None:
        """Where the next sync of ``org_id`` at ``granularity`` resumes (None: never synced)."""
        ledger = self._ledger
        with ledger.transaction() as tx:
            row = tx.one(
                "SELECT synced_until FROM usage_sync WHERE org_id = ? AND granularity = ?",
                (org_id, granularity),
            )
        return None if row is None else self._mark(org_id, granularity, row[0])

    def _mark(self, org_id: str, granularity: str, value: object) -> datetime:
        cell = self._ledger.cells("usage_sync", f"{org_id!r} {granularity!r}")
        return cell.time("synced_until", value)

    def mark_synced(self, org_id: str, granularity: str, until: datetime) -> datetime:
        """Record that everything before ``until`` is final; never moves a mark back.

        Returns the mark in force afterwards.
        """
        ledger = self._ledger
        with ledger.transaction(write=True) as tx:
            row = tx.one(
                "SELECT synced_until FROM usage_sync WHERE org_id = ? AND granularity = ?",
                (org_id, granularity),
            )
            current = None if row is None else self._mark(org_id, granularity, row[0])
            if current is not None and current >= until:
                return current
            tx.execute(
                "INSERT INTO usage_sync (org_id, granularity, synced_until, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (org_id, granularity) DO UPDATE SET"
                " synced_until = excluded.synced_until, updated_at = excluded.updated_at",
                (org_id, granularity, ledger.time_in(until), ledger.time_in(ledger.now())),
            )
        return until
