"""The drift store: ``fleet drift`` reports and since when each drift item has been seen.

Tables come from migration ``v0004_drift``. ``DriftStore.record`` runs in one write
transaction: it adds the report, carries the ``first_seen`` of items still drifting, starts a
new one for items seen for the first time (or again after being resolved), and marks items of
earlier reports that are gone as resolved. The report document is built by the caller once the
"since" times are known (``document`` callback), so it is stored exactly as it was shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.errors import LedgerError
from reconciler.ledger.base import Ledger
from reconciler.ledger.guard import reject_secrets
from reconciler.ledger.sql import SqlLedger, Tx


@dataclass(frozen=True)
class Sighting:
    """One drift item as the store tracks it (its stable id and what to show in queries)."""

    item_id: str
    tenant: str | None
    kind: str
    path: str


@dataclass(frozen=True)
class StoredReport:
    """A recorded report: when, for which fleet, and its summary counts."""

    report_id: int
    created_at: datetime
    fleet: str
    item_count: int
    summary: Mapping[str, Any]


@dataclass(frozen=True)
class RecordedReport:
    """What ``record`` returns: the report id, each item's first sighting, the stored document."""

    report_id: int
    since: Mapping[str, datetime]
    document: Mapping[str, Any]


#: Builds the report document from the new report's id and every item's "since".
DocumentBuilder = Callable[[int, Mapping[str, datetime]], Mapping[str, Any]]


class DriftStore:
    """Drift reports and item sightings in a ledger (SQLite or PostgreSQL)."""

    def __init__(self, ledger: Ledger) -> None:
        if not isinstance(ledger, SqlLedger):
            raise LedgerError(f"the ledger {ledger.describe()} cannot store drift reports")
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
