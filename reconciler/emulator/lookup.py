"""Finding a request's project, branch and endpoint rows, with Neon's 403/404 answers."""

from __future__ import annotations

import sqlite3

from reconciler.emulator import snapshots
from reconciler.emulator.web import HttpError, Request


def project(conn: sqlite3.Connection, req: Request) -> sqlite3.Row:
    """The ``{project_id}`` of the path, if the key may act on it (403/404 otherwise)."""
    return req.principal.visible_project(conn, req.params["project_id"])


#: Branch ``branch_id`` of the project; 404 when the project has no such branch.
branch = snapshots.branch_row


def default_branch(conn: sqlite3.Connection, project_id: str) -> sqlite3.Row:
    """The project's default branch."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM branches WHERE project_id = ? AND is_default = 1", (project_id,)
    ).fetchone()
    if row is None:  # a project always has one; a broken state file must still answer
        raise HttpError(404, f"project {project_id} has no default branch")
    return row


def endpoint(conn: sqlite3.Connection, project_id: str, endpoint_id: str) -> sqlite3.Row | None:
    """Endpoint ``endpoint_id`` of the project, or None."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM endpoints WHERE id = ? AND project_id = ?", (endpoint_id, project_id)
    ).fetchone()
    return row


def branch_endpoints(conn: sqlite3.Connection, branch_id: str) -> list[sqlite3.Row]:
    """The endpoints of a branch, oldest first (the read-write one first when tied)."""
    return conn.execute(
        "SELECT * FROM endpoints WHERE branch_id = ? ORDER BY type = 'read_only', created_at, id",
        (branch_id,),
    ).fetchall()
