"""Usage samples from Neon's consumption history, and how far each org's sync got.

``usage_samples`` holds one value per (project, metric, granularity, timeframe start): that key
is what makes a re-sync of an overlapping window an upsert rather than a second count.
``tenant`` and ``org_id`` are who the project belonged to when it was synced, so a report can
still attribute usage of a project deleted since. ``usage_sync`` remembers, per org and
granularity, the end of the last timeframe known to be final, where the next sync resumes.
"""

SQLITE = (
    """CREATE TABLE usage_samples (
        project_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        granularity TEXT NOT NULL,
        timeframe_start TEXT NOT NULL,
        timeframe_end TEXT NOT NULL,
        value INTEGER NOT NULL,
        org_id TEXT NOT NULL,
        tenant TEXT,
        synced_at TEXT NOT NULL,
        PRIMARY KEY (project_id, metric, granularity, timeframe_start)
    )""",
    "CREATE INDEX usage_samples_by_time ON usage_samples (granularity, timeframe_start)",
    """CREATE TABLE usage_sync (
        org_id TEXT NOT NULL,
        granularity TEXT NOT NULL,
        synced_until TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (org_id, granularity)
    )""",
)

POSTGRES = (
    """CREATE TABLE usage_samples (
        project_id TEXT NOT NULL,
        metric TEXT NOT NULL,
        granularity TEXT NOT NULL,
        timeframe_start TIMESTAMPTZ NOT NULL,
        timeframe_end TIMESTAMPTZ NOT NULL,
        value BIGINT NOT NULL,
        org_id TEXT NOT NULL,
        tenant TEXT,
        synced_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (project_id, metric, granularity, timeframe_start)
    )""",
    "CREATE INDEX usage_samples_by_time ON usage_samples (granularity, timeframe_start)",
    """CREATE TABLE usage_sync (
        org_id TEXT NOT NULL,
        granularity TEXT NOT NULL,
        synced_until TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (org_id, granularity)
    )""",
)
