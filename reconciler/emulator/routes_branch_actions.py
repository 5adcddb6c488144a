"""Branch actions: ``set_as_default``, ``restore`` (and neonctl's ``reset``) and snapshot schedules.

``neonctl branches reset --parent`` is ``POST …/branches/{id}/restore`` with
``{source_branch_id: <parent id>, preserve_under_name?}`` (neonctl 5.0.1, commands/branches.js);
``branches restore`` adds ``source_lsn`` or ``source_timestamp``. The restored branch keeps its
id, name and computes (each restarts); with ``preserve_under_name`` its previous state is kept
as a new branch of that name, which takes over the branch's children and becomes the restored
branch's parent ("The backup becomes the parent of your original branch", Neon docs
guides/branch-restore; neonctl too reads ``parent_id`` after such a restore as the backup).

UNCONFIRMED for Neon and chosen conservatively (documented in SEED.md): that the restored
branch's ``parent_id`` becomes the source branch when nothing is preserved, that a
``source_timestamp`` before the source branch's creation is 400, that restores of a
protected branch are allowed only with ``preserve_under_name``, the operation actions
(``create_timeline`` then a restart of each compute), that ``set_as_default`` schedules no
operation, that an unset snapshot schedule reads as ``{"schedule": []}``, and that schedules
are accepted only on root branches (as snapshots are).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from reconciler.emulator import catalog, ids, operations, provision, snapshots, views
from reconciler.emulator.web import HttpError, Request, Response, Route

_FREQUENCIES = ("hourly", "daily", "weekly", "monthly", "yearly")
#: BackupScheduleItem's integer fields and their documented bounds (None: no upper bound).
_SCHEDULE_BOUNDS: dict[str, tuple[int, int | None]] = {
    "hour": (0, 23),
    "day": (1, 31),
    "month": (1, 12),
    "retention_seconds": (3600, None),
}
Steps = list[tuple[str, str | None, str | None]]


def set_as_default(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/branches/{branch_id}/set_as_default → 200 BranchOperations."""
    project, branch = snapshots.project_and_branch(conn, req)
    operations.ensure_unlocked(conn, project["id"], req.now)
    if branch["expires_at"]:
        # Neon refuses an expiration on the default branch; UNCONFIRMED which answer it gives.
        raise HttpError(400, "a branch with an expiration cannot be the default branch")
    stamp = ids.timestamp(req.now)
    conn.execute(
        "UPDATE branches SET is_default = 0, updated_at = ? "
        "WHERE project_id = ? AND is_default = 1 AND id != ?",
        (stamp, project["id"], branch["id"]),
    )
    if not branch["is_default"]:
        conn.execute(
            "UPDATE branches SET is_default = 1, updated_at = ? WHERE id = ?", (stamp, branch["id"])
        )
    updated = snapshots.branch_row(conn, project["id"], branch["id"])
    return Response(200, {"branch": branch_json(conn, updated, req.now), "operations": []})


def branch_json(conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> dict[str, Any]:
    """``views.branch_json`` plus ``last_reset_at`` for branches that were restored."""
    body = views.branch_json(row, now)
    reset = conn.execute(
        "SELECT last_reset_at FROM branch_resets WHERE branch_id = ?", (row["id"],)
    ).fetchone()
    if reset is not None:
        body["last_reset_at"] = reset["last_reset_at"]
    return body


def restore_branch(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/branches/{branch_id}/restore → 200 ``BranchOperations``."""
    project, branch = snapshots.project_and_branch(conn, req)
    body = req.body_object()
    source_id = body.get("source_branch_id")
    if not isinstance(source_id, str) or not source_id:
        raise HttpError(400, "source_branch_id is required")
    source = snapshots.branch_row(conn, project["id"], source_id)
    lsn, at, preserve = (
        body.get(k) for k in ("source_lsn", "source_timestamp", "preserve_under_name")
    )
    if lsn is not None and at is not None:
        raise HttpError(400, "source_lsn and source_timestamp cannot be used together")
    if lsn is not None and (not isinstance(lsn, str) or "/" not in lsn):
        raise HttpError(400, "source_lsn must be an LSN such as 0/1DE2850")
    if at is not None:
        _check_point_in_time(project, source, at, req.now)
    if preserve is not None and (not isinstance(preserve, str) or not 1 <= len(preserve) <= 256):
        raise HttpError(400, "preserve_under_name must be a string of 1 to 256 characters")
    has_children = conn.execute(
        "SELECT 1 FROM branches WHERE parent_id = ?", (branch["id"],)
    ).fetchone()
    if source["id"] == branch["id"]:
        if lsn is None and at is None:
            raise HttpError(
                400, "restoring a branch from itself needs source_lsn or source_timestamp"
            )
        if preserve is None:
            raise HttpError(400, "restoring a branch from itself needs preserve_under_name")
    if has_children and preserve is None:
        raise HttpError(400, "the branch has child branches: preserve_under_name is required")
    if branch["protected"] and preserve is None:
        raise HttpError(400, "a protected branch can be restored only with preserve_under_name")
    operations.ensure_unlocked(conn, project["id"], req.now)
    stamp = ids.timestamp(req.now)
    duration = req.limits.operation_duration_ms / 1000
    parent_id = source["id"]
    preserved_id = None
    if preserve is not None:
        snapshots.check_free_name(conn, project["id"], preserve)
        if branch["parent_id"] is None:  # the kept state is one more root branch
            snapshots.check_root_branch_limit(conn, project, req)
        parent_id = preserved_id = _preserve(conn, req, branch, preserve)
    catalog.after_restore(conn, branch, source, preserved_id)
    conn.execute(
        "UPDATE branches SET parent_id = ?, updated_at = ?, ready_at = ? WHERE id = ?",
        (parent_id, stamp, req.now + duration, branch["id"]),
    )
    conn.execute(
        "INSERT INTO branch_resets (branch_id, last_reset_at) VALUES (?, ?) "
        "ON CONFLICT (branch_id) DO UPDATE SET last_reset_at = excluded.last_reset_at",
        (branch["id"], stamp),
    )
    steps: Steps = [("create_timeline", branch["id"], None)]
    for row in conn.execute(
        "SELECT id FROM endpoints WHERE branch_id = ? ORDER BY id", (branch["id"],)
    ).fetchall():
        steps += [
            ("suspend_compute", branch["id"], row["id"]),
            ("start_compute", branch["id"], row["id"]),
        ]
    ops = operations.schedule(conn, project["id"], steps, req.now, req.limits.operation_duration_ms)
    updated = snapshots.branch_row(conn, project["id"], branch["id"])
    return Response(200, {"branch": branch_json(conn, updated, req.now), "operations": ops})


def _check_point_in_time(project: sqlite3.Row, source: sqlite3.Row, value: Any, now: float) -> None:
    try:
        at = ids.parse_timestamp(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None:
        raise HttpError(
            400, "source_timestamp must be an ISO 8601 timestamp such as 2024-02-26T12:00:00Z"
        )
    if not now - float(project["history_retention_seconds"]) <= at <= now:
        raise HttpError(400, "source_timestamp must lie within the project's restore window")
    if at < ids.parse_timestamp(source["created_at"]):
        # The source has no history before it was created (UNCONFIRMED which error Neon gives).
        raise HttpError(400, "source_timestamp is before the source branch was created")


def _preserve(conn: sqlite3.Connection, req: Request, branch: sqlite3.Row, name: str) -> str:
    """Keep the branch's previous state as branch ``name``; return that branch's id."""
    backup_id = provision.insert_branch(
        conn, branch["project_id"], name, branch["parent_id"], req.now, req.now
    )
    conn.execute(
        "UPDATE branches SET parent_id = ? WHERE parent_id = ? AND id != ?",
        (backup_id, branch["id"], backup_id),
    )
    return backup_id


def get_backup_schedule(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/branches/{branch_id}/backup_schedule → 200 ``BackupSchedule``."""
    _, branch = snapshots.project_and_branch(conn, req)
    row = conn.execute(
        "SELECT schedule FROM backup_schedules WHERE branch_id = ?", (branch["id"],)
    ).fetchone()
    return Response(200, {"schedule": [] if row is None else json.loads(row["schedule"])})


def set_backup_schedule(conn: sqlite3.Connection, req: Request) -> Response:
    """PUT /projects/{project_id}/branches/{branch_id}/backup_schedule {schedule} → 200 ``{}``."""
    project, branch = snapshots.project_and_branch(conn, req)
    if branch["parent_id"] is not None:
        raise HttpError(
            400,
            f"branch {branch['id']} is not a root branch; snapshot schedules need a root branch",
        )
    schedule = req.body_object().get("schedule")
    if not isinstance(schedule, list):
        raise HttpError(400, "schedule must be an array of schedule entries")
    items = [_schedule_item(index, item) for index, item in enumerate(schedule)]
    conn.execute(
        "INSERT INTO backup_schedules (branch_id, project_id, schedule) VALUES (?, ?, ?) "
        "ON CONFLICT (branch_id) DO UPDATE SET schedule = excluded.schedule",
        (branch["id"], project["id"], json.dumps(items)),
    )
    return Response(200, {})


def _schedule_item(index: int, item: Any) -> dict[str, Any]:
    where = f"schedule[{index}]"
    if not isinstance(item, dict):
        raise HttpError(400, f"{where} must be an object")
    unknown = sorted(set(item) - {"frequency", *_SCHEDULE_BOUNDS})
    if unknown:
        raise HttpError(400, f"{where}: unknown field {unknown[0]!r}")
    if item.get("frequency") not in _FREQUENCIES:
        raise HttpError(400, f"{where}.frequency must be one of {', '.join(_FREQUENCIES)}")
    checked: dict[str, Any] = {"frequency": item["frequency"]}
    for key, (low, high) in _SCHEDULE_BOUNDS.items():
        if key not in item:
            continue
        value = item[key]
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < low
            or (high is not None and value > high)
        ):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise HttpError(400, f"{where}.{key} must be an integer {bound}")
        checked[key] = value
    return checked


ROUTES = (
    Route("POST", "/projects/{project_id}/branches/{branch_id}/set_as_default", set_as_default),
    Route("POST", "/projects/{project_id}/branches/{branch_id}/restore", restore_branch),
    Route(
        "GET", "/projects/{project_id}/branches/{branch_id}/backup_schedule", get_backup_schedule
    ),
    Route(
        "PUT", "/projects/{project_id}/branches/{branch_id}/backup_schedule", set_backup_schedule
    ),
)
