"""History retention: prune the ledger's audit history older than ``policy.history_retention``.

What is pruned, each by one indexed ``DELETE`` in one write transaction:

* the **step rows** of apply runs that finished before the cutoff. The run row itself (who,
  when, plan digest, result, summary counts) is kept forever: it is one small row per apply and
  it is the audit trail's spine. Runs that never finished (running, or interrupted by a crash)
  keep their steps whatever their age: they are what an operator investigates;
* **intents** resolved before the cutoff. Open intents are never touched: recovery needs them;
* **drift items** resolved before the cutoff (an item still drifting keeps its "since"), and
  **drift reports** created before the cutoff that no remaining item points at.

Never pruned: owned tenants, tombstones, checkpoints (they have their own retention), usage
samples, meta. The cutoff of the latest real prune is kept in ``meta`` (``PRUNED_BEFORE_KEY``)
so ``fleet history`` can say a run's steps were pruned rather than show it empty. SQLite reuses
the freed pages for new rows; the file does not shrink without ``VACUUM``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconciler.errors import LedgerCorruptedError, LedgerError
from reconciler.ledger.base import LedgerReader
from reconciler.ledger.sql import SqlLedger, Tx

#: Meta key holding the cutoff (ISO 8601 UTC) of the latest prune that removed rows.
PRUNED_BEFORE_KEY = "history.pruned_before"

_OLD_RUNS = "SELECT id FROM runs WHERE finished_at IS NOT NULL AND finished_at < ?"
#: (name, table, WHERE clause), in deletion order: items before the reports they point at.
_TARGETS = (
    ("run_steps", "run_steps", f"run_id IN ({_OLD_RUNS})"),
    ("intents", "intents", "resolved_at IS NOT NULL AND resolved_at < ?"),
    ("drift_items", "drift_items", "resolved_at IS NOT NULL AND resolved_at < ?"),
    (
        "drift_reports",
        "drift_reports",
        # Items that survive this prune: a dry run must not count a report as kept because
        # an item the same prune removes still points at it.
        "created_at < ? AND id NOT IN (SELECT last_report_id FROM drift_items"
        " WHERE resolved_at IS NULL OR resolved_at >= ?)",
    ),
)


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed (or, with ``dry_run``, would remove), row counts per table."""

    cutoff: datetime
    dry_run: bool
    run_steps: int
    #: Runs whose step rows were (or would be) removed.
    runs: int
    intents: int
    drift_items: int
    drift_reports: int

    @property
    def total(self) -> int:
        """Rows removed in all tables."""
        return self.run_steps + self.intents + self.drift_items + self.drift_reports


def retention_cutoff(ledger: LedgerReader, retention_seconds: int) -> datetime:
    """The moment before which history is pruned: the ledger's clock minus the retention."""
    if retention_seconds < 1:
        raise LedgerError(f"a history retention must be positive, not {retention_seconds}s")
    return _sql(ledger).now() - timedelta(seconds=retention_seconds)


def prune_history(ledger: LedgerReader, cutoff: datetime, *, dry_run: bool = False) -> PruneReport:
    """Remove (or with ``dry_run`` only count) the history older than ``cutoff``."""
    sql = _sql(ledger)
    stamp = sql.time_in(cutoff)
    counts: dict[str, int] = {}
    with sql.transaction(write=not dry_run) as tx:
        found = tx.one(
            f"SELECT COUNT(DISTINCT run_id) FROM run_steps WHERE run_id IN ({_OLD_RUNS})",
            (stamp,),
        )
        runs = int(found[0]) if found else 0
        for name, table, where in _TARGETS:
            params = (stamp,) * where.count("?")
            if dry_run:
                row = tx.one(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)
                counts[name] = int(row[0]) if row else 0
            else:
                counts[name] = tx.execute(f"DELETE FROM {table} WHERE {where}", params)
        if not dry_run and any(counts.values()):
            _remember_cutoff(tx, cutoff)
    return PruneReport(cutoff=cutoff, dry_run=dry_run, runs=runs, **counts)


def prune_by_policy(ledger: LedgerReader, retention_seconds: int | None) -> PruneReport | None:
    """Prune what ``policy.history_retention`` no longer keeps; None when it is ``never``."""
    if retention_seconds is None:
        return None
    return prune_history(ledger, retention_cutoff(ledger, retention_seconds))


def pruned_before(ledger: LedgerReader) -> datetime | None:
    """The latest cutoff before which a prune removed rows, or None if none ever did."""
    text = ledger.get_meta(PRUNED_BEFORE_KEY)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LedgerCorruptedError(
            ledger.describe(), "meta", f"key {PRUNED_BEFORE_KEY!r}", "value", "not an ISO 8601 time"
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _remember_cutoff(tx: Tx, cutoff: datetime) -> None:
    """Keep the latest cutoff: a later prune with a longer retention must not move it back."""
    text = cutoff.astimezone(UTC).isoformat(timespec="microseconds")
    found = tx.one("SELECT value FROM meta WHERE key = ?", (PRUNED_BEFORE_KEY,))
    if found is not None and _later_or_same(str(found[0]), cutoff):
        return
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (PRUNED_BEFORE_KEY, text),
    )


def _later_or_same(text: str, cutoff: datetime) -> bool:
    try:
        return datetime.fromisoformat(text) >= cutoff
    except (ValueError, TypeError):
        return False  # an unreadable value is replaced by a good one


def _sql(ledger: LedgerReader) -> SqlLedger:
    if not isinstance(ledger, SqlLedger):
        raise LedgerError(f"the ledger {ledger.describe()} cannot prune its history")
    return ledger
