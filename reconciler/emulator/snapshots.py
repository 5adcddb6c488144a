"""Snapshot rows, plan caps and the restore mechanics behind ``routes_snapshots``.

A finalized restore follows Neon's documented sequence (neon-api-notes.md §6): a new root branch
with a new id is created from the snapshot; it takes over the target's name, default flag,
protection and compute endpoints (which restart); the target is renamed ``<name> (old)`` (or
the name the caller chose) and keeps no compute. A preview restore (``finalize_restore`` false)
creates a root branch with its own ``read_write`` compute, finalized later through
``POST …/branches/{id}/finalize_restore``.

UNCONFIRMED for Neon, chosen here and documented in SEED.md: the operation actions
(``create_timeline`` for a snapshot, ``delete_timeline`` for its deletion), the status and code
of the limit errors (422 ``SNAPSHOTS_LIMIT_EXCEEDED`` / ``ROOT_BRANCHES_LIMIT_EXCEEDED``), that
the restore ``name`` renames the *replaced* branch when the restore is finalized at once, that a
second ``(old)`` branch of the same name gets a number (``main (old 2)``), and that a preview
branch's own compute is removed when it is finalized.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.emulator import ids, operations, provision, views
from reconciler.emulator.web import HttpError, Request

Steps = list[tuple[str, str | None, str | None]]


def new_snapshot_id(conn: sqlite3.Connection) -> str:
    """A fresh snapshot id in Neon's id alphabet (``snap-…``)."""
    while True:
        candidate = "snap-" + ids.branch_id().removeprefix("br-")
        if conn.execute("SELECT 1 FROM snapshots WHERE id = ?", (candidate,)).fetchone() is None:
            return candidate


def snapshot_json(row: sqlite3.Row, now: float) -> dict[str, Any]:
    """A ``Snapshot``; ``full_size`` appears once the snapshot is ready (sizes are calculated
    after creation) and is the branch's logical size, 0 in an emulator that holds no data."""
    body: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "created_at": row["created_at"],
        "manual": bool(row["manual"]),
    }
    for key in ("source_branch_id", "lsn", "timestamp", "expires_at"):
        if row[key] is not None:
            body[key] = row[key]
    if now >= float(row["ready_at"]) and row["full_size"] is not None:
        body["full_size"] = row["full_size"]
    return body


def purge_expired(conn: sqlite3.Connection, project_id: str, now: float) -> None:
    """Delete the project's snapshots whose ``expires_at`` has passed (Neon deletes them)."""
    conn.execute(
        "DELETE FROM snapshots WHERE project_id = ? AND expires_epoch IS NOT NULL "
        "AND expires_epoch <= ?",
        (project_id, now),
    )


def check_snapshot_limit(conn: sqlite3.Connection, project: sqlite3.Row, req: Request) -> None:
    """422 when the project already holds as many snapshots as its org's seeded cap."""
    limit = req.limits.snapshot_limits.get(project["org_id"])
    if limit is None:
        return
    count = conn.execute(
        "SELECT COUNT(*) FROM snapshots WHERE project_id = ?", (project["id"],)
    ).fetchone()[0]
    if count >= limit:
        raise HttpError(
            422,
            f"project {project['id']} reached its limit of {limit} snapshots "
            f"(it holds {count}); delete a snapshot first",
            code="SNAPSHOTS_LIMIT_EXCEEDED",
        )


def check_root_branch_limit(conn: sqlite3.Connection, project: sqlite3.Row, req: Request) -> None:
    """422 when one more root branch would exceed the org's seeded root-branch cap."""
    limit = req.limits.root_branch_limits.get(project["org_id"])
    if limit is None:
        return
    roots = conn.execute(
        "SELECT COUNT(*) FROM branches WHERE project_id = ? AND parent_id IS NULL",
        (project["id"],),
    ).fetchone()[0]
    if roots + 1 > limit:
        raise HttpError(
            422,
            f"project {project['id']} reached its limit of {limit} root branches; delete "
            "unused root branches such as '<name> (old)' ones left by restores",
            code="ROOT_BRANCHES_LIMIT_EXCEEDED",
        )


def branch_row(conn: sqlite3.Connection, project_id: str, branch_id: str) -> sqlite3.Row:
    """The branch row, or 404."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM branches WHERE id = ? AND project_id = ?", (branch_id, project_id)
    ).fetchone()
    if row is None:
        raise HttpError(404, f"branch {branch_id} not found")
    return row


def project_and_branch(conn: sqlite3.Connection, req: Request) -> tuple[sqlite3.Row, sqlite3.Row]:
    """The visible project and the branch named by the route's ``{project_id}/{branch_id}``."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    return project, branch_row(conn, project["id"], req.params["branch_id"])


def restored_branch_json(
    conn: sqlite3.Connection, branch_id: str, project_id: str, now: float
) -> dict[str, Any]:
    """A ``Branch`` with the restore fields (``restored_from``, ``restored_as``, status)."""
    body = views.branch_json(branch_row(conn, project_id, branch_id), now)
    restore = conn.execute(
        "SELECT * FROM branch_restores WHERE branch_id = ?", (branch_id,)
    ).fetchone()
    if restore is not None:
        body.update(
            restored_from=restore["snapshot_id"],
            restored_as=restore["target_branch_id"],
            restore_status=restore["status"],
        )
    return body


@dataclass(frozen=True)
class Restored:
    """What a restore did: the new branch, the endpoints it carries now, its operations."""

    branch_id: str
    endpoint_ids: tuple[str, ...]
    operations: list[dict[str, Any]]


def restore(
    conn: sqlite3.Connection,
    req: Request,
    project: sqlite3.Row,
    snapshot: sqlite3.Row,
    target: sqlite3.Row,
    *,
    name: str | None,
    finalize: bool,
) -> Restored:
    """Create the branch of a snapshot restore, finalizing it at once when asked."""
    check_root_branch_limit(conn, project, req)
    duration = req.limits.operation_duration_ms / 1000
    if finalize:
        old_name = _old_name(conn, project["id"], target["name"], name)
        new_name: str | None = None  # takes the target's name once the target is renamed
    else:
        old_name = None
        new_name = name
        if name is not None:
            check_free_name(conn, project["id"], name)
    # Without a name the branch is named after its id (as Neon names unnamed branches).
    branch_id = provision.insert_branch(
        conn, project["id"], new_name, None, req.now, req.now + duration
    )
    conn.execute(
        "INSERT INTO branch_restores (branch_id, project_id, snapshot_id, target_branch_id, "
        "status) VALUES (?, ?, ?, ?, 'restored')",
        (branch_id, project["id"], snapshot["id"], target["id"]),
    )
    steps: Steps = [("create_branch", branch_id, None)]
    if finalize:
        assert old_name is not None
        moved, more = _take_over(conn, req, project["id"], branch_id, target, old_name, 1)
        steps += more
        endpoint_ids = moved
    else:
        defaults = json.loads(project["default_endpoint_settings"])
        endpoint_id = provision.insert_endpoint(
            conn, project["id"], branch_id, "read_write", defaults, req.now,
            req.now + 2 * duration,
        )  # fmt: skip
        steps.append(("start_compute", branch_id, endpoint_id))
        endpoint_ids = (endpoint_id,)
    ops = operations.schedule(conn, project["id"], steps, req.now, req.limits.operation_duration_ms)
    return Restored(branch_id, endpoint_ids, ops)


def finalize(
    conn: sqlite3.Connection, req: Request, project: sqlite3.Row, branch: sqlite3.Row, name: Any
) -> list[dict[str, Any]]:
    """Finalize a preview restore: the restored branch replaces the branch it was made for."""
    restore_row = conn.execute(
        "SELECT * FROM branch_restores WHERE branch_id = ?", (branch["id"],)
    ).fetchone()
    if restore_row is None or restore_row["status"] != "restored":
        raise HttpError(
            400,
            f"branch {branch['id']} is not an unfinalized branch restored from a snapshot",
        )
    if name is not None and (not isinstance(name, str) or not name):
        raise HttpError(400, "name must be a non-empty string")
    target = branch_row(conn, project["id"], restore_row["target_branch_id"])
    old_name = _old_name(conn, project["id"], target["name"], name)
    steps: Steps = []
    # The preview compute gives way to the target's computes (one read_write per branch).
    for row in conn.execute("SELECT id FROM endpoints WHERE branch_id = ?", (branch["id"],)):
        steps.append(("suspend_compute", branch["id"], row["id"]))
    conn.execute("DELETE FROM endpoints WHERE branch_id = ?", (branch["id"],))
    _, more = _take_over(conn, req, project["id"], branch["id"], target, old_name, 0)
    steps += more
    return operations.schedule(
        conn, project["id"], steps, req.now, req.limits.operation_duration_ms
    )


def _take_over(
    conn: sqlite3.Connection,
    req: Request,
    project_id: str,
    new_id: str,
    target: sqlite3.Row,
    old_name: str,
    offset: int,
) -> tuple[tuple[str, ...], Steps]:
    """Move name, flags and computes from ``target`` to ``new_id``; rename the target."""
    stamp = ids.timestamp(req.now)
    conn.execute(
        "UPDATE branches SET name = ?, is_default = 0, protected = 0, updated_at = ? WHERE id = ?",
        (old_name, stamp, target["id"]),
    )
    conn.execute(
        "UPDATE branches SET name = ?, is_default = ?, protected = ?, updated_at = ? WHERE id = ?",
        (target["name"], target["is_default"], target["protected"], stamp, new_id),
    )
    conn.execute("UPDATE branch_restores SET status = 'finalized' WHERE branch_id = ?", (new_id,))
    duration = req.limits.operation_duration_ms / 1000
    moved = tuple(
        row["id"]
        for row in conn.execute(
            "SELECT id FROM endpoints WHERE branch_id = ? ORDER BY id", (target["id"],)
        )
    )
    steps: Steps = []
    for index, endpoint_id in enumerate(moved):
        # Each moved compute restarts: suspended on the old branch, started on the new one.
        ready = req.now + (offset + 2 * index + 2) * duration
        conn.execute(
            "UPDATE endpoints SET branch_id = ?, ready_at = ?, updated_at = ? WHERE id = ?",
            (new_id, ready, stamp, endpoint_id),
        )
        steps += [
            ("suspend_compute", target["id"], endpoint_id),
            ("start_compute", new_id, endpoint_id),
        ]
    return moved, steps


def _old_name(conn: sqlite3.Connection, project_id: str, current: str, chosen: Any) -> str:
    """The name for the replaced branch: the caller's, or ``<name> (old)`` made unique."""
    if chosen is not None:
        if not isinstance(chosen, str) or not 1 <= len(chosen) <= 256:
            raise HttpError(400, "name must be a string of 1 to 256 characters")
        check_free_name(conn, project_id, chosen)
        return chosen
    candidate, number = f"{current} (old)", 1
    while _name_taken(conn, project_id, candidate):
        number += 1
        candidate = f"{current} (old {number})"
    return candidate


def _name_taken(conn: sqlite3.Connection, project_id: str, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM branches WHERE project_id = ? AND name = ?", (project_id, name)
    ).fetchone()
    return found is not None


def check_free_name(conn: sqlite3.Connection, project_id: str, name: str) -> None:
    """409 when the project already has a branch named ``name``."""
    if _name_taken(conn, project_id, name):
        raise HttpError(409, f"a branch named {name!r} already exists in this project")


def snapshot_options(req: Request) -> Mapping[str, Any]:
    """Create options from the query string (the spec), else from a JSON body (Neon's docs).

    The Backup & restore page's curl sends them as a body; the spec and SDK use the query
    (neon-api-notes.md §6 CONFLICT), so both are accepted, the query winning.
    """
    body: dict[str, Any] = req.body if isinstance(req.body, dict) else {}
    nested = body.get("snapshot")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else body
    options: dict[str, Any] = {}
    for key in ("name", "lsn", "timestamp", "expires_at"):
        value = req.arg(key)
        options[key] = value if value is not None else inner.get(key)
    return options
