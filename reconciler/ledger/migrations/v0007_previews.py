"""Runtime previews (``fleet preview``): one row per (tenant, agent run).

A row is written ``creating`` before the branch is requested and becomes ``ready`` once the
branch, its compute and the delivered connection secret exist. It names the branch and endpoint
so ``fleet preview gc`` can find them again, and keeps only a fingerprint of the secret that was
delivered (never the secret): the sink holds the secret itself.
"""

_COLUMNS = """
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        branch_name TEXT NOT NULL,
        branch_id TEXT,
        endpoint_id TEXT,
        parent_branch TEXT,
        checkpoint_id BIGINT,
        status TEXT NOT NULL CHECK (status IN ('creating', 'ready')),
        secret_fingerprint TEXT,
        expires_at {time},
        created_at {time} NOT NULL,
        updated_at {time} NOT NULL,
        PRIMARY KEY (tenant, run_id)
"""

SQLITE = (
    f"CREATE TABLE previews ({_COLUMNS.format(time='TEXT')})",
    "CREATE INDEX previews_by_expiry ON previews (expires_at)",
)

POSTGRES = (
    f"CREATE TABLE previews ({_COLUMNS.format(time='TIMESTAMPTZ')})",
    "CREATE INDEX previews_by_expiry ON previews (expires_at)",
)
