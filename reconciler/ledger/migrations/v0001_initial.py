"""The initial ledger schema: owned tenants, intents, runs with steps, tombstones, meta.

Branches and keys get their own tables (rather than a JSON column) so that "who owns branch
X" stays a query. PostgreSQL uses native ``timestamptz``, ``jsonb`` and ``boolean``; SQLite stores
ISO-8601 UTC text, JSON text and 0/1. ``apply_lock`` exists only on PostgreSQL: it names the
holder of the advisory lock, which SQLite keeps in its lock file instead.
"""

SQLITE = (
    """CREATE TABLE tenants (
        tenant TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL DEFAULT '',
        manifest_digest TEXT NOT NULL DEFAULT '',
        prevent_destroy INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE tenant_branches (
        tenant TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
        branch_name TEXT NOT NULL,
        branch_id TEXT NOT NULL,
        PRIMARY KEY (tenant, branch_name)
    )""",
    """CREATE TABLE tenant_keys (
        tenant TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
        key_name TEXT NOT NULL,
        key_id INTEGER NOT NULL,
        org_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        PRIMARY KEY (tenant, key_name)
    )""",
    """CREATE TABLE deleted_tenants (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        project_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        deleted_at TEXT NOT NULL,
        recoverable_until TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        last_state TEXT NOT NULL
    )""",
    """CREATE TABLE intents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        created_at TEXT NOT NULL,
        resolved_at TEXT,
        outcome TEXT
    )""",
    "CREATE INDEX intents_pending ON intents (id) WHERE resolved_at IS NULL",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        who TEXT NOT NULL,
        started_at TEXT NOT NULL,
        plan_digest TEXT NOT NULL,
        manifest_digest TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        mode TEXT NOT NULL,
        finished_at TEXT,
        result TEXT,
        summary TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE run_steps (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs (id),
        step_id TEXT NOT NULL,
        tenant TEXT,
        action TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'skipped')),
        message TEXT NOT NULL DEFAULT '',
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        resource_ids TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX run_steps_by_run ON run_steps (run_id, id)",
    "CREATE INDEX run_steps_by_tenant ON run_steps (tenant)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

POSTGRES = (
    """CREATE TABLE tenants (
        tenant TEXT PRIMARY KEY,
        project_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL DEFAULT '',
        manifest_digest TEXT NOT NULL DEFAULT '',
        prevent_destroy BOOLEAN NOT NULL DEFAULT FALSE,
        updated_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE tenant_branches (
        tenant TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
        branch_name TEXT NOT NULL,
        branch_id TEXT NOT NULL,
        PRIMARY KEY (tenant, branch_name)
    )""",
    """CREATE TABLE tenant_keys (
        tenant TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
        key_name TEXT NOT NULL,
        key_id BIGINT NOT NULL,
        org_id TEXT NOT NULL,
        project_id TEXT NOT NULL,
        PRIMARY KEY (tenant, key_name)
    )""",
    """CREATE TABLE deleted_tenants (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        project_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        deleted_at TIMESTAMPTZ NOT NULL,
        recoverable_until TIMESTAMPTZ NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        last_state JSONB NOT NULL
    )""",
    """CREATE TABLE intents (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        action TEXT NOT NULL,
        detail JSONB NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        resolved_at TIMESTAMPTZ,
        outcome TEXT
    )""",
    "CREATE INDEX intents_pending ON intents (id) WHERE resolved_at IS NULL",
    """CREATE TABLE runs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        who TEXT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        plan_digest TEXT NOT NULL,
        manifest_digest TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        mode TEXT NOT NULL,
        finished_at TIMESTAMPTZ,
        result TEXT,
        summary JSONB NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE run_steps (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id BIGINT NOT NULL REFERENCES runs (id),
        step_id TEXT NOT NULL,
        tenant TEXT,
        action TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'skipped')),
        message TEXT NOT NULL DEFAULT '',
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ NOT NULL,
        resource_ids JSONB NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX run_steps_by_run ON run_steps (run_id, id)",
    "CREATE INDEX run_steps_by_tenant ON run_steps (tenant)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE apply_lock (
        lock_name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        since TIMESTAMPTZ NOT NULL,
        client_pid INTEGER NOT NULL,
        backend_pid INTEGER NOT NULL
    )""",
)
