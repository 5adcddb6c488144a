"""The SQL side of history retention, behind ``Ledger.prune_history``.

See ``reconciler.ledger.retention`` for what is pruned and what never is. Each table is pruned
by one indexed ``DELETE``, all in one write transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.ledger.records import PRUNED_BEFORE_KEY, PruneReport
from reconciler.ledger.sql_access import SqlAccess, Tx

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


def prune_history(sql: SqlAccess, cutoff: datetime, *, dry_run: bool = False) -> PruneReport:
    """Remove (or with ``dry_run`` only count) the history older than ``cutoff``."""
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
