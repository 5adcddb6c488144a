"""The SQL drift store behind ``Ledger.drift`` (tables of migration ``v0004_drift``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reconciler.errors import LedgerError
from reconciler.ledger.drift import (
    DocumentBuilder,
    DriftStore,
    RecordedReport,
    Sighting,
    StoredReport,
)
from reconciler.ledger.guard import reject_secrets
from reconciler.ledger.sql_access import SqlAccess, Tx


class SqlDriftStore(DriftStore):
    """Drift reports and item sightings in a SQL ledger (SQLite or PostgreSQL)."""

    def __init__(self, ledger: SqlAccess) -> None:
        self._ledger = ledger

    def record(
        self,
        sightings: Sequence[Sighting],
        *,
        fleet: str,
        manifest_digest: str,
        summary: Mapping[str, Any],
        document: DocumentBuilder,
        at: datetime | None = None,
    ) -> RecordedReport:
        """Store a report of ``sightings`` (taken ``at``, default: the ledger's clock)."""
        ledger = self._ledger
        moment = at or ledger.now()
        reject_secrets(dict(summary), "drift summary")
        with ledger.transaction(write=True) as tx:
            row = tx.one(
                "INSERT INTO drift_reports (created_at, fleet, manifest_digest, item_count,"
                " summary) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (
                    ledger.time_in(moment),
                    fleet,
                    manifest_digest,
                    len(sightings),
                    ledger.json_in(dict(summary)),
                ),
            )
            assert row is not None  # RETURNING always yields the new row
            report_id = int(row[0])
            since = self._track(tx, report_id, sightings, moment)
            built = document(report_id, since)
            reject_secrets(built, "drift report")
            tx.execute(
                "UPDATE drift_reports SET document = ? WHERE id = ?",
                (ledger.json_in(dict(built)), report_id),
            )
        return RecordedReport(report_id, since, built)

    def _track(
        self, tx: Tx, report_id: int, sightings: Sequence[Sighting], moment: datetime
    ) -> dict[str, datetime]:
        ledger = self._ledger
        stamp = ledger.time_in(moment)
        open_rows = tx.all("SELECT item_id, first_seen FROM drift_items WHERE resolved_at IS NULL")
        open_since = self._first_seen(open_rows)
        current = {s.item_id: s for s in sightings}
        since: dict[str, datetime] = {}
        for item_id, sighting in sorted(current.items()):
            first = open_since.get(item_id, moment)
            since[item_id] = first
            tx.execute(
                "INSERT INTO drift_items (item_id, tenant, kind, path, first_seen, last_seen,"
                " last_report_id, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)"
                " ON CONFLICT (item_id) DO UPDATE SET tenant = excluded.tenant,"
                " kind = excluded.kind, path = excluded.path, first_seen = excluded.first_seen,"
                " last_seen = excluded.last_seen, last_report_id = excluded.last_report_id,"
                " resolved_at = NULL",
                (
                    item_id,
                    sighting.tenant,
                    sighting.kind,
                    sighting.path,
                    ledger.time_in(first),
                    stamp,
                    report_id,
                ),
            )
        tx.many(
            "UPDATE drift_items SET resolved_at = ? WHERE item_id = ?",
            [(stamp, item_id) for item_id in sorted(open_since) if item_id not in current],
        )
        return since

    def open_items(self) -> dict[str, datetime]:
        """Items of the latest reports that are still drifting, with their first sighting."""
        ledger = self._ledger
        with ledger.transaction() as tx:
            found = tx.all(
                "SELECT item_id, first_seen FROM drift_items WHERE resolved_at IS NULL"
                " ORDER BY item_id"
            )
        return self._first_seen(found)

    def _first_seen(self, rows: Sequence[Sequence[Any]]) -> dict[str, datetime]:
        return {
            str(item_id): self._ledger.cells("drift_items", f"{item_id!r}").time("first_seen", at)
            for item_id, at in rows
        }

    def reports(self, limit: int = 20) -> list[StoredReport]:
        """The latest reports, newest first."""
        if limit < 1:
            raise LedgerError(f"a report limit must be at least 1, not {limit}")
        ledger = self._ledger
        with ledger.transaction() as tx:
            found = tx.all(
                "SELECT id, created_at, fleet, item_count, summary FROM drift_reports"
                " ORDER BY id DESC LIMIT ?",
                (int(limit),),
            )
        reports: list[StoredReport] = []
        for rid, at, fleet, count, summary in found:
            cell = ledger.cells("drift_reports", f"id {rid}")
            reports.append(
                StoredReport(
                    cell.integer("id", rid),
                    cell.time("created_at", at),
                    cell.text("fleet", fleet),
                    cell.integer("item_count", count, minimum=0),
                    cell.json_object("summary", summary),
                )
            )
        return reports

    def document(self, report_id: int) -> Mapping[str, Any]:
        """The stored JSON document of one report; ``LedgerError`` when there is none."""
        ledger = self._ledger
        with ledger.transaction() as tx:
            found = tx.one("SELECT document FROM drift_reports WHERE id = ?", (report_id,))
        if found is None:
            raise LedgerError(f"the ledger has no drift report #{report_id}")
        return ledger.cells("drift_reports", f"id {report_id}").json_object("document", found[0])
