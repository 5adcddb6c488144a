"""Indexes for history retention (``reconciler.ledger.retention``).

Pruning deletes by age: steps of runs finished before the cutoff, resolved intents and drift
items resolved before it, and drift reports created before it that no item still points at.
Each of those is one ``DELETE`` whose ``WHERE`` these indexes serve, so a prune after every
apply stays cheap however long the ledger's history is. The statements are the same in both
dialects (partial indexes exist in SQLite and PostgreSQL alike).
"""

_STATEMENTS = (
    "CREATE INDEX runs_finished ON runs (finished_at) WHERE finished_at IS NOT NULL",
    "CREATE INDEX intents_resolved ON intents (resolved_at) WHERE resolved_at IS NOT NULL",
    "CREATE INDEX drift_reports_by_time ON drift_reports (created_at)",
    "CREATE INDEX drift_items_resolved ON drift_items (resolved_at) WHERE resolved_at IS NOT NULL",
    "CREATE INDEX drift_items_by_report ON drift_items (last_report_id)",
)

SQLITE = _STATEMENTS
POSTGRES = _STATEMENTS
