"""Drift reports: every ``fleet drift`` report, and each drift item's first and last sighting.

``drift_items`` is keyed by the item's stable id (``tenant/kind/path[/resource]``) so a report
can say since when an item has drifted. An item missing from a later report is marked resolved;
when it comes back it starts a new "since". Reports keep their full JSON document (ids, names
and values only: the report never carries secrets).
"""

SQLITE = (
    """CREATE TABLE drift_reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        fleet TEXT NOT NULL,
        manifest_digest TEXT NOT NULL,
        item_count INTEGER NOT NULL,
        summary TEXT NOT NULL,
        document TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE drift_items (
        item_id TEXT PRIMARY KEY,
        tenant TEXT,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        last_report_id INTEGER NOT NULL REFERENCES drift_reports (id),
        resolved_at TEXT
    )""",
    "CREATE INDEX drift_items_open ON drift_items (item_id) WHERE resolved_at IS NULL",
)

POSTGRES = (
    """CREATE TABLE drift_reports (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        created_at TIMESTAMPTZ NOT NULL,
        fleet TEXT NOT NULL,
        manifest_digest TEXT NOT NULL,
        item_count INTEGER NOT NULL,
        summary JSONB NOT NULL,
        document JSONB NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE drift_items (
        item_id TEXT PRIMARY KEY,
        tenant TEXT,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        last_seen TIMESTAMPTZ NOT NULL,
        last_report_id BIGINT NOT NULL REFERENCES drift_reports (id),
        resolved_at TIMESTAMPTZ
    )""",
    "CREATE INDEX drift_items_open ON drift_items (item_id) WHERE resolved_at IS NULL",
)
