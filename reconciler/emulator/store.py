"""SQLite-backed state of the emulator: one connection, guarded by a lock, WAL on files.

Every API request runs inside one ``transaction()``: the request is atomic (a transfer moves all
projects or none) and requests are serialised, which keeps the emulator simple and still fast
because each request is a handful of indexed statements. Only secrets' hashes are stored for API
key tokens; role passwords are stored because Neon returns them in connection URIs.
"""

from __future__ import annotations

import json
import pathlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, plan TEXT NOT NULL, project_limit INTEGER,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memberships (
    user_id TEXT NOT NULL, org_id TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (user_id, org_id));
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    kind TEXT NOT NULL, user_id TEXT, org_id TEXT, project_id TEXT,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL, last_used_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS api_keys_by_org ON api_keys (org_id, kind);
CREATE INDEX IF NOT EXISTS api_keys_by_user ON api_keys (user_id, kind);
CREATE INDEX IF NOT EXISTS api_keys_by_project ON api_keys (project_id);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL, region_id TEXT NOT NULL,
    pg_version INTEGER NOT NULL, settings TEXT NOT NULL, default_endpoint_settings TEXT NOT NULL,
    history_retention_seconds INTEGER NOT NULL, integration TEXT, owner_id TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS projects_by_org ON projects (org_id, id);
CREATE INDEX IF NOT EXISTS projects_by_org_name ON projects (org_id, name);
CREATE TABLE IF NOT EXISTS branches (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL, parent_id TEXT,
    is_default INTEGER NOT NULL, protected INTEGER NOT NULL, expires_at TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, ready_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS branches_by_project ON branches (project_id, name);
CREATE TABLE IF NOT EXISTS endpoints (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, branch_id TEXT NOT NULL, type TEXT NOT NULL,
    min_cu REAL NOT NULL, max_cu REAL NOT NULL, suspend_timeout_seconds INTEGER NOT NULL,
    disabled INTEGER NOT NULL, name TEXT, settings TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, ready_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS endpoints_by_project ON endpoints (project_id, branch_id);
CREATE TABLE IF NOT EXISTS roles (
    project_id TEXT NOT NULL, name TEXT NOT NULL, password TEXT NOT NULL,
    created_at TEXT NOT NULL, PRIMARY KEY (project_id, name));
CREATE TABLE IF NOT EXISTS databases (
    id INTEGER PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL,
    owner_name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS databases_by_project ON databases (project_id);
CREATE TABLE IF NOT EXISTS operations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, project_id TEXT NOT NULL,
    branch_id TEXT, endpoint_id TEXT, action TEXT NOT NULL,
    started_at REAL NOT NULL, finish_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS operations_by_project ON operations (project_id, finish_at);
CREATE TABLE IF NOT EXISTS branch_catalogs (branch_id TEXT PRIMARY KEY, project_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS branch_catalogs_by_project ON branch_catalogs (project_id);
CREATE TABLE IF NOT EXISTS branch_roles (
    project_id TEXT NOT NULL, branch_id TEXT NOT NULL, name TEXT NOT NULL, password TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (branch_id, name));
CREATE TABLE IF NOT EXISTS branch_databases (
    id INTEGER PRIMARY KEY, project_id TEXT NOT NULL, branch_id TEXT NOT NULL, name TEXT NOT NULL,
    owner_name TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS branch_databases_by_branch ON branch_databases (branch_id, name);
CREATE TABLE IF NOT EXISTS project_permissions (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, email TEXT NOT NULL, granted_at TEXT NOT NULL,
    revoked_at TEXT);
CREATE INDEX IF NOT EXISTS project_permissions_by_project ON project_permissions (project_id);
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, name TEXT NOT NULL, source_branch_id TEXT,
    lsn TEXT, timestamp TEXT, created_at TEXT NOT NULL, expires_at TEXT, expires_epoch REAL,
    full_size INTEGER, manual INTEGER NOT NULL, ready_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS snapshots_by_project ON snapshots (project_id, created_at);
CREATE TABLE IF NOT EXISTS branch_restores (
    branch_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, snapshot_id TEXT NOT NULL,
    target_branch_id TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS branch_resets (
    branch_id TEXT PRIMARY KEY, last_reset_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS backup_schedules (
    branch_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, schedule TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS neon_auth (
    branch_id TEXT PRIMARY KEY, project_id TEXT NOT NULL, provider TEXT NOT NULL,
    provider_project_id TEXT NOT NULL, db_name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS neon_auth_users (
    id TEXT PRIMARY KEY, branch_id TEXT NOT NULL, email TEXT NOT NULL, name TEXT NOT NULL,
    UNIQUE (branch_id, email));
"""

#: Columns added after state files already existed: ``(table, column, declaration)``. Older state
#: files get them with ``ALTER TABLE ... ADD COLUMN`` when opened, so ``SELECT *`` sees them.
#: ``endpoints.active_from``/``active_until``: when a started compute is active (NULL: idle).
#: ``branches.logical_size``: bytes of data the emulator pretends a branch holds (NULL: 0), set
#: through the admin API so storage figures (``fleet preview gc``) can be tested.
_ADDED_COLUMNS = (
    ("endpoints", "active_from", "REAL"),
    ("endpoints", "active_until", "REAL"),
    ("endpoints", "suspended_at", "TEXT"),
    ("branches", "logical_size", "INTEGER"),
)


class Store:
    """The emulator's database. ``path=None`` keeps everything in memory."""

    def __init__(self, path: str | pathlib.Path | None) -> None:
        self.path = None if path is None else pathlib.Path(path)
        target = ":memory:" if self.path is None else str(self.path)
        # One connection shared by the server's threads; the lock serialises its use.
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            if self.path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            _add_missing_columns(self._conn)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run one atomic transaction; roll back on any exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (the state file stays)."""
        with self._lock:
            self._conn.close()


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    for table, column, declaration in _ADDED_COLUMNS:
        present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def get_meta(conn: sqlite3.Connection, key: str) -> Any:
    """Return the JSON value stored under ``key`` in the meta table, or None."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row["value"])


def set_meta(conn: sqlite3.Connection, key: str, value: Any) -> None:
    """Store ``value`` (JSON-encodable) under ``key`` in the meta table."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, json.dumps(value)),
    )
