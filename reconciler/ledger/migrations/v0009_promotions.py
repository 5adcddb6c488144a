"""Promotions: one row per ``fleet promote`` operation on a tenant (bootstrap, run, refresh).

A row is written before Neon is changed (status ``running``) and names its branches; the
checkpoints it takes are found again through their ``promotion_id`` metadata, so a killed run
resumes instead of snapshotting twice. A finished ``run`` keeps the checkpoint to roll back to
(``rollback_checkpoint_id``) and the production branch ids before and after; ``rollback`` marks
it ``rolling_back`` then ``rolled_back``.
"""

_COLUMNS = """
        tenant TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('bootstrap', 'run', 'refresh')),
        project_id TEXT NOT NULL,
        source_branch TEXT NOT NULL,
        target_branch TEXT NOT NULL,
        source_rev TEXT NOT NULL,
        agent_run_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'rolling_back', 'rolled_back')),
        rollback_checkpoint_id BIGINT,
        source_checkpoint_id BIGINT,
        from_branch_id TEXT,
        new_branch_id TEXT,
"""

SQLITE = (
    f"""CREATE TABLE promotions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,{_COLUMNS}
        meta TEXT NOT NULL DEFAULT '{{}}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        rollback_started_at TEXT,
        rolled_back_at TEXT
    )""",
    "CREATE INDEX promotions_by_tenant ON promotions (tenant, id)",
)

POSTGRES = (
    f"""CREATE TABLE promotions (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,{_COLUMNS}
        meta JSONB NOT NULL DEFAULT '{{}}',
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        rollback_started_at TIMESTAMPTZ,
        rolled_back_at TIMESTAMPTZ
    )""",
    "CREATE INDEX promotions_by_tenant ON promotions (tenant, id)",
)
