"""Snapshots (all Beta on Neon): create, list, update, delete, restore and finalize_restore.

Shapes follow the OpenAPI document: create takes its options in the query string (a JSON body
is accepted too, see ``snapshots.snapshot_options``) and answers 200 ``{snapshot,
operations}``; list answers ``{snapshots}`` without pagination; update (``name``,
``expires_at``) ``{snapshot}``; delete 202 ``{operations}``; restore 200 ``{branch,
endpoints, operations}``; finalize 200 ``{operations}``. Snapshots are taken only from root
branches (400 otherwise), and the seeded per-org ``snapshot_limit`` and ``root_branch_limit``
are enforced (422); an org without them has no cap. Expired snapshots (``expires_at`` passed)
disappear, as Neon deletes them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from reconciler.emulator import ids, operations, snapshots, views
from reconciler.emulator.web import HttpError, Request, Response, Route

#: LSNs look like Neon's ``0/1DE2850``; the emulator hands out increasing fake positions.
_LSN_BASE = 0x1DE2850


def create_snapshot(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/branches/{branch_id}/snapshot → 200."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    branch = snapshots.branch_row(conn, project["id"], req.params["branch_id"])
    if branch["parent_id"] is not None:
        raise HttpError(
            400, f"branch {branch['id']} is not a root branch; snapshots need a root branch"
        )
    operations.ensure_unlocked(conn, project["id"], req.now)
    options = snapshots.snapshot_options(req)
    name, lsn, at, expires = (options[k] for k in ("name", "lsn", "timestamp", "expires_at"))
    if lsn is not None and at is not None:
        raise HttpError(400, "lsn and timestamp cannot be used together")
    if name is not None and (not isinstance(name, str) or not name):
        raise HttpError(400, "name must be a non-empty string")
    taken_at = req.now if at is None else _timestamp(at, "timestamp")
    window = float(project["history_retention_seconds"])
    if not req.now - window <= taken_at <= req.now:
        raise HttpError(400, "timestamp must lie within the project's restore window")
    expires_epoch = None if expires is None else _timestamp(expires, "expires_at")
    if expires_epoch is not None and expires_epoch <= req.now:
        raise HttpError(400, "expires_at must be in the future")
    snapshots.purge_expired(conn, project["id"], req.now)
    snapshots.check_snapshot_limit(conn, project, req)
    snapshot_id = snapshots.new_snapshot_id(conn)
    count = conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
    conn.execute(
        "INSERT INTO snapshots (id, project_id, name, source_branch_id, lsn, timestamp, "
        "created_at, expires_at, expires_epoch, full_size, manual, ready_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1, ?)",
        (
            snapshot_id, project["id"], name or snapshot_id, branch["id"],
            lsn if lsn is not None else f"0/{_LSN_BASE + 4096 * count:X}",
            ids.timestamp(taken_at), ids.timestamp(req.now),
            None if expires_epoch is None else ids.timestamp(expires_epoch), expires_epoch,
            req.now + req.limits.operation_duration_ms / 1000,
        ),
    )  # fmt: skip
    ops = operations.schedule(
        conn, project["id"], [("create_timeline", branch["id"], None)],
        req.now, req.limits.operation_duration_ms,
    )  # fmt: skip
    row = _snapshot(conn, project["id"], snapshot_id)
    return Response(200, {"snapshot": snapshots.snapshot_json(row, req.now), "operations": ops})


def _timestamp(value: Any, name: str) -> float:
    try:
        if isinstance(value, str):
            return ids.parse_timestamp(value)
    except ValueError:
        pass
    raise HttpError(400, f"{name} must be an ISO 8601 timestamp such as 2025-08-05T22:00:00Z")


def _snapshot(conn: sqlite3.Connection, project_id: str, snapshot_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM snapshots WHERE id = ? AND project_id = ?", (snapshot_id, project_id)
    ).fetchone()
    if row is None:
        raise HttpError(404, f"snapshot {snapshot_id} not found")
    return row


def list_snapshots(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/snapshots (no pagination, as in Neon)."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    snapshots.purge_expired(conn, project["id"], req.now)
    rows = conn.execute(
        "SELECT * FROM snapshots WHERE project_id = ? ORDER BY created_at, id", (project["id"],)
    )
    return Response(200, {"snapshots": [snapshots.snapshot_json(r, req.now) for r in rows]})


def update_snapshot(conn: sqlite3.Connection, req: Request) -> Response:
    """PATCH /projects/{project_id}/snapshots/{snapshot_id}: ``{snapshot: {name?, expires_at?}}``.

    ``expires_at``: a timestamp sets it, ``null`` clears it, absent leaves it. The OpenAPI
    document lists only ``name``; neonctl 5.0.1 (``snapshots update --expires-at`` and
    ``--clear-expiration``) sends ``expires_at`` as well, so Neon takes it.
    """
    project = req.principal.visible_project(conn, req.params["project_id"])
    snapshots.purge_expired(conn, project["id"], req.now)
    row = _snapshot(conn, project["id"], req.params["snapshot_id"])
    spec = req.body_object("snapshot")
    name = spec.get("name", row["name"])
    if not isinstance(name, str) or not name:
        raise HttpError(400, "snapshot.name must be a non-empty string")
    expires_at, expires_epoch = row["expires_at"], row["expires_epoch"]
    if "expires_at" in spec:
        raw = spec["expires_at"]
        expires_epoch = None if raw is None else _timestamp(raw, "snapshot.expires_at")
        if expires_epoch is not None and expires_epoch <= req.now:
            raise HttpError(400, "snapshot.expires_at must be in the future")
        expires_at = None if expires_epoch is None else ids.timestamp(expires_epoch)
    conn.execute(
        "UPDATE snapshots SET name = ?, expires_at = ?, expires_epoch = ? WHERE id = ?",
        (name, expires_at, expires_epoch, row["id"]),
    )
    updated = _snapshot(conn, project["id"], row["id"])
    return Response(200, {"snapshot": snapshots.snapshot_json(updated, req.now)})


def delete_snapshot(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE /projects/{project_id}/snapshots/{snapshot_id} → 202 ``{operations}``."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    snapshots.purge_expired(conn, project["id"], req.now)
    row = _snapshot(conn, project["id"], req.params["snapshot_id"])
    operations.ensure_unlocked(conn, project["id"], req.now)
    conn.execute("DELETE FROM snapshots WHERE id = ?", (row["id"],))
    ops = operations.schedule(
        conn, project["id"], [("delete_timeline", None, None)],
        req.now, req.limits.operation_duration_ms,
    )  # fmt: skip
    return Response(202, {"operations": ops})


def restore_snapshot(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/snapshots/{snapshot_id}/restore → 200."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    snapshots.purge_expired(conn, project["id"], req.now)
    snapshot = _snapshot(conn, project["id"], req.params["snapshot_id"])
    body = req.body_object(required=False)
    name = body.get("name", req.arg("name"))  # the query parameter is deprecated
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 256):
        raise HttpError(400, "name must be a string of 1 to 256 characters")
    finalize = body.get("finalize_restore", False)
    if not isinstance(finalize, bool):
        raise HttpError(400, "finalize_restore must be a boolean")
    target_id = body.get("target_branch_id") or snapshot["source_branch_id"]
    if not isinstance(target_id, str):
        raise HttpError(400, "target_branch_id must be a branch id")
    target = snapshots.branch_row(conn, project["id"], target_id)
    operations.ensure_unlocked(conn, project["id"], req.now)
    done = snapshots.restore(conn, req, project, snapshot, target, name=name, finalize=finalize)
    endpoints = [
        views.endpoint_json(
            conn.execute("SELECT * FROM endpoints WHERE id = ?", (eid,)).fetchone(),
            project["region_id"],
            req.now,
        )
        for eid in done.endpoint_ids
    ]
    branch = snapshots.restored_branch_json(conn, done.branch_id, project["id"], req.now)
    return Response(200, {"branch": branch, "endpoints": endpoints, "operations": done.operations})


def finalize_restore(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/branches/{branch_id}/finalize_restore → 200."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    branch = snapshots.branch_row(conn, project["id"], req.params["branch_id"])
    body = req.body_object(required=False)
    operations.ensure_unlocked(conn, project["id"], req.now)
    ops = snapshots.finalize(conn, req, project, branch, body.get("name"))
    return Response(200, {"operations": ops})


ROUTES = (
    Route("POST", "/projects/{project_id}/branches/{branch_id}/snapshot", create_snapshot),
    Route("GET", "/projects/{project_id}/snapshots", list_snapshots),
    Route("PATCH", "/projects/{project_id}/snapshots/{snapshot_id}", update_snapshot),
    Route("DELETE", "/projects/{project_id}/snapshots/{snapshot_id}", delete_snapshot),
    Route("POST", "/projects/{project_id}/snapshots/{snapshot_id}/restore", restore_snapshot),
    Route("POST", "/projects/{project_id}/branches/{branch_id}/finalize_restore", finalize_restore),
)
