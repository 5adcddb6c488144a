"""Compound checkpoints: one row binds a Neon snapshot to what the platform must roll back with.

Besides the snapshot, project and branch, a row keeps the source revision, the secrets/env
version, the deploy or preview URL, the agent run id and free metadata (never secrets: the
ledger guard checks them), and the lifecycle: ``creating`` → ``ready`` → ``restoring`` →
``restored`` | ``failed`` (``previewed`` for a restore that was not finalized), with the
timestamps of each step and the branch ids a finalized restore produced.
"""

_COLUMNS = """
        tenant TEXT NOT NULL,
        project_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        branch_name TEXT NOT NULL,
        branch_id TEXT NOT NULL,
        snapshot_id TEXT,
        snapshot_name TEXT NOT NULL,
        source_rev TEXT NOT NULL,
        secrets_version TEXT,
        deploy_url TEXT,
        agent_run_id TEXT,
        origin TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('creating', 'ready', 'restoring', 'restored',
            'previewed', 'failed')),
        error TEXT NOT NULL DEFAULT '',
        full_size BIGINT,
        old_branch_id TEXT,
        restored_branch_id TEXT,
        old_branch_deleted {bool},
"""

SQLITE = (
    f"""CREATE TABLE checkpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,{_COLUMNS.format(bool="INTEGER")}
        meta TEXT NOT NULL DEFAULT '{{}}',
        created_at TEXT NOT NULL,
        expires_at TEXT,
        updated_at TEXT NOT NULL,
        restore_started_at TEXT,
        restored_at TEXT
    )""",
    "CREATE INDEX checkpoints_by_tenant ON checkpoints (tenant, created_at)",
)

POSTGRES = (
    f"""CREATE TABLE checkpoints (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,{_COLUMNS.format(bool="BOOLEAN")}
        meta JSONB NOT NULL DEFAULT '{{}}',
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ,
        updated_at TIMESTAMPTZ NOT NULL,
        restore_started_at TIMESTAMPTZ,
        restored_at TIMESTAMPTZ
    )""",
    "CREATE INDEX checkpoints_by_tenant ON checkpoints (tenant, created_at)",
)
