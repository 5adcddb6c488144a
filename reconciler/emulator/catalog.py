"""Roles and databases of a branch, copied on write from the branch's parent.

On Neon a new branch starts with a copy of its parent's roles and databases; afterwards each
branch changes its own. The emulator stores that copy lazily: a branch with no row in
``branch_catalogs`` reads its parent's catalog (up to the project-level ``roles``/``databases``
rows of states written before per-branch catalogs existed). Before a branch's catalog changes,
its not-yet-copied children take a copy of the current content, so they keep what they were
created with, and then the branch takes its own copy. Reads stay a couple of indexed queries.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from reconciler.emulator import ids
from reconciler.emulator.web import HttpError


@dataclass(frozen=True)
class Role:
    """A role of a branch (``password`` is a secret: never log it)."""

    name: str
    password: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Database:
    """A database of a branch."""

    id: int
    name: str
    owner_name: str
    created_at: str
    updated_at: str


def _owner(conn: sqlite3.Connection, branch: sqlite3.Row) -> tuple[str, str]:
    """Where ``branch``'s catalog lives: ``("branch", id)`` or ``("project", id)`` (legacy rows)."""
    current: sqlite3.Row | None = branch
    while current is not None:
        copied = conn.execute(
            "SELECT 1 FROM branch_catalogs WHERE branch_id = ?", (current["id"],)
        ).fetchone()
        if copied is not None:
            return "branch", str(current["id"])
        if not current["parent_id"]:
            break
        current = conn.execute(
            "SELECT * FROM branches WHERE id = ?", (current["parent_id"],)
        ).fetchone()
    return "project", str(branch["project_id"])


_SELECT = {
    ("roles", "branch"): "SELECT name, password, created_at, updated_at FROM branch_roles "
    "WHERE branch_id = ? ORDER BY name",
    ("roles", "project"): "SELECT name, password, created_at, created_at AS updated_at "
    "FROM roles WHERE project_id = ? ORDER BY name",
    ("databases", "branch"): "SELECT id, name, owner_name, created_at, updated_at "
    "FROM branch_databases WHERE branch_id = ? ORDER BY id",
    ("databases", "project"): "SELECT id, name, owner_name, created_at, created_at AS updated_at "
    "FROM databases WHERE project_id = ? ORDER BY id",
}


def _select(conn: sqlite3.Connection, branch: sqlite3.Row, what: str) -> list[dict[str, Any]]:
    kind, owner = _owner(conn, branch)
    return [dict(row) for row in conn.execute(_SELECT[(what, kind)], (owner,))]


def roles(conn: sqlite3.Connection, branch: sqlite3.Row) -> list[Role]:
    """The roles of ``branch``, by name."""
    return [Role(**row) for row in _select(conn, branch, "roles")]


def databases(conn: sqlite3.Connection, branch: sqlite3.Row) -> list[Database]:
    """The databases of ``branch``, by id (creation order)."""
    return [Database(**row) for row in _select(conn, branch, "databases")]


def role(conn: sqlite3.Connection, branch: sqlite3.Row, name: str) -> Role:
    """The role ``name`` of ``branch``; 404 when it has none."""
    for found in roles(conn, branch):
        if found.name == name:
            return found
    raise HttpError(404, f"role {name!r} not found on branch {branch['id']}")


def database(conn: sqlite3.Connection, branch: sqlite3.Row, name: str) -> Database:
    """The database ``name`` of ``branch``; 404 when it has none."""
    for found in databases(conn, branch):
        if found.name == name:
            return found
    raise HttpError(404, f"database {name!r} not found on branch {branch['id']}")


def _copy(conn: sqlite3.Connection, target: sqlite3.Row, source: sqlite3.Row) -> None:
    """Give ``target`` its own copy of ``source``'s current catalog."""
    # Read first: once ``target`` is marked as copied, reads of it stop following its parent.
    source_roles, source_databases = roles(conn, source), databases(conn, source)
    conn.execute(
        "INSERT INTO branch_catalogs (branch_id, project_id) VALUES (?, ?)",
        (target["id"], target["project_id"]),
    )
    for found in source_roles:
        _put_role(conn, target, found)
    for db in source_databases:
        _put_database(conn, target, db.name, db.owner_name, db.created_at, db.updated_at)


def _put_role(conn: sqlite3.Connection, branch: sqlite3.Row, role: Role) -> None:
    conn.execute(
        "INSERT INTO branch_roles (project_id, branch_id, name, password, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (branch["project_id"], branch["id"], role.name, role.password, role.created_at,
         role.updated_at),
    )  # fmt: skip


def _put_database(
    conn: sqlite3.Connection, branch: sqlite3.Row, name: str, owner: str, created: str, updated: str
) -> None:
    conn.execute(
        "INSERT INTO branch_databases (project_id, branch_id, name, owner_name, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        (branch["project_id"], branch["id"], name, owner, created, updated),
    )


def _is_copied(conn: sqlite3.Connection, branch_id: str) -> bool:
    found = conn.execute("SELECT 1 FROM branch_catalogs WHERE branch_id = ?", (branch_id,))
    return found.fetchone() is not None


def _freeze_children(conn: sqlite3.Connection, branch: sqlite3.Row) -> None:
    """Give ``branch``'s children without a copy of their own a copy of its current catalog."""
    children = conn.execute("SELECT * FROM branches WHERE parent_id = ?", (branch["id"],))
    for child in children.fetchall():
        if not _is_copied(conn, child["id"]):
            _copy(conn, child, branch)


def prepare_write(conn: sqlite3.Connection, branch: sqlite3.Row) -> None:
    """Make ``branch``'s catalog its own before a change, children keeping today's content."""
    _freeze_children(conn, branch)
    if not _is_copied(conn, branch["id"]):
        _copy(conn, branch, branch)


def start_catalog(conn: sqlite3.Connection, branch_id: str) -> None:
    """Give a new project's default branch its own catalog: the owner role and database."""
    branch = conn.execute("SELECT * FROM branches WHERE id = ?", (branch_id,)).fetchone()
    _copy(conn, branch, branch)  # not copied yet, so it reads the project's rows


def add_role(
    conn: sqlite3.Connection, branch: sqlite3.Row, name: str, now: float, *, login: bool = True
) -> Role:
    """Create role ``name`` (409 when the branch has it); a login role gets an ``npg_`` password."""
    if any(found.name == name for found in roles(conn, branch)):
        raise HttpError(409, f"role {name!r} already exists on branch {branch['id']}")
    prepare_write(conn, branch)
    stamp = ids.timestamp(now)
    _put_role(conn, branch, Role(name, ids.password() if login else None, stamp, stamp))
    return role(conn, branch, name)


def set_password(conn: sqlite3.Connection, branch: sqlite3.Row, name: str, now: float) -> Role:
    """Give role ``name`` a new password."""
    role(conn, branch, name)
    prepare_write(conn, branch)
    conn.execute(
        "UPDATE branch_roles SET password = ?, updated_at = ? WHERE branch_id = ? AND name = ?",
        (ids.password(), ids.timestamp(now), branch["id"], name),
    )
    return role(conn, branch, name)


def drop_role(conn: sqlite3.Connection, branch: sqlite3.Row, name: str) -> Role:
    """Delete role ``name``; 409 while it still owns a database (Postgres refuses that too).

    UNCONFIRMED: Neon's status and message for dropping an owner role.
    """
    found = role(conn, branch, name)
    owned = [db.name for db in databases(conn, branch) if db.owner_name == name]
    if owned:
        raise HttpError(409, f"role {name!r} owns databases {owned}; drop or reassign them first")
    prepare_write(conn, branch)
    conn.execute("DELETE FROM branch_roles WHERE branch_id = ? AND name = ?", (branch["id"], name))
    return found


def add_database(
    conn: sqlite3.Connection, branch: sqlite3.Row, name: str, owner: str, now: float
) -> Database:
    """Create database ``name`` owned by ``owner`` (404 unknown owner, 409 name taken)."""
    role(conn, branch, owner)
    if any(db.name == name for db in databases(conn, branch)):
        raise HttpError(409, f"database {name!r} already exists on branch {branch['id']}")
    prepare_write(conn, branch)
    stamp = ids.timestamp(now)
    _put_database(conn, branch, name, owner, stamp, stamp)
    return database(conn, branch, name)


def change_database(
    conn: sqlite3.Connection, branch: sqlite3.Row, name: str, new_name: str, owner: str, now: float
) -> Database:
    """Rename database ``name`` and/or give it another owner."""
    database(conn, branch, name)
    role(conn, branch, owner)
    if new_name != name and any(db.name == new_name for db in databases(conn, branch)):
        raise HttpError(409, f"database {new_name!r} already exists on branch {branch['id']}")
    prepare_write(conn, branch)
    conn.execute(
        "UPDATE branch_databases SET name = ?, owner_name = ?, updated_at = ? "
        "WHERE branch_id = ? AND name = ?",
        (new_name, owner, ids.timestamp(now), branch["id"], name),
    )
    return database(conn, branch, new_name)


def drop_database(conn: sqlite3.Connection, branch: sqlite3.Row, name: str) -> Database:
    """Delete database ``name``."""
    found = database(conn, branch, name)
    prepare_write(conn, branch)
    conn.execute(
        "DELETE FROM branch_databases WHERE branch_id = ? AND name = ?", (branch["id"], name)
    )
    return found


def reset_to_parent(conn: sqlite3.Connection, branch: sqlite3.Row) -> None:
    """Make ``branch`` read its parent's catalog again (a reset from the parent, as on Neon).

    Its children that have no copy of their own take one first: they keep what they had.
    """
    _freeze_children(conn, branch)
    forget_branch(conn, branch["id"])


def after_restore(
    conn: sqlite3.Connection, branch: sqlite3.Row, source: sqlite3.Row, preserved_id: str | None
) -> None:
    """Catalogs after ``branch`` is restored from ``source``, called before its parent changes.

    A branch kept under ``preserve_under_name`` takes the catalog ``branch`` has now. The
    restored branch takes ``source``'s catalog; restored from itself (a point in time) it keeps
    today's: the emulator keeps no catalog history (UNCONFIRMED: Neon rolls roles and databases
    back with the data).
    """
    if preserved_id is not None:
        preserved = conn.execute("SELECT * FROM branches WHERE id = ?", (preserved_id,)).fetchone()
        _copy(conn, preserved, branch)
    if source["id"] == branch["id"]:
        return
    _freeze_children(conn, branch)
    forget_branch(conn, branch["id"])
    _copy(conn, branch, source)


def forget_branch(conn: sqlite3.Connection, branch_id: str) -> None:
    """Remove a branch's own catalog (when it is deleted, or reset to its parent's)."""
    for table in ("branch_catalogs", "branch_roles", "branch_databases"):
        conn.execute(f"DELETE FROM {table} WHERE branch_id = ?", (branch_id,))


def forget_project(conn: sqlite3.Connection, project_id: str) -> None:
    """Remove every branch catalog of a deleted project."""
    for table in ("branch_catalogs", "branch_roles", "branch_databases", "project_permissions"):
        conn.execute(f"DELETE FROM {table} WHERE project_id = ?", (project_id,))
