"""Branches (the ``pagination.next`` dialect) and endpoints of a project.

Branch pages: ``limit`` is optional (absent → every branch, no ``pagination``); with a limit the
answer carries ``pagination {sort_by, sort_order}`` plus ``next`` while more branches remain.
Branch names are unique inside a project (409 otherwise; UNCONFIRMED for real Neon).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from typing import Any

from reconciler.emulator import catalog, ids, operations, provision, views
from reconciler.emulator.web import HttpError, Request, Response, Route

_SORT_COLUMNS = {"name": "name", "created_at": "created_at", "updated_at": "updated_at"}
_MAX_EXPIRY_SECONDS = 30 * 86400


def list_branches(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/branches."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    sort_by = req.arg("sort_by") or "updated_at"
    sort_order = req.arg("sort_order") or "desc"
    if sort_by not in _SORT_COLUMNS or sort_order not in ("asc", "desc"):
        raise HttpError(400, "sort_by must be name|created_at|updated_at, sort_order asc|desc")
    limit = req.int_arg("limit", 1, 10000)
    column, direction = _SORT_COLUMNS[sort_by], sort_order.upper()
    clauses, args = ["project_id = ?"], [project["id"]]
    search = req.arg("search")
    if search:
        clauses.append("(instr(name, ?) > 0 OR instr(id, ?) > 0)")
        args += [search, search]
    cursor = req.arg("cursor")
    if cursor:
        value, last_id = _decode_cursor(cursor)
        clauses.append(f"({column}, id) {'>' if direction == 'ASC' else '<'} (?, ?)")
        args += [value, last_id]
    sql = (
        f"SELECT * FROM branches WHERE {' AND '.join(clauses)} "
        f"ORDER BY {column} {direction}, id {direction}"
    )
    rows = (
        conn.execute(sql + " LIMIT ?", (*args, limit + 1)).fetchall()
        if limit
        else (conn.execute(sql, args).fetchall())
    )
    body: dict[str, Any] = {"annotations": {}}
    if limit:
        more = len(rows) > limit
        rows = rows[:limit]
        pagination: dict[str, Any] = {"sort_by": sort_by, "sort_order": sort_order}
        if more:
            pagination["next"] = _encode_cursor(rows[-1][column], rows[-1]["id"])
        body["pagination"] = pagination
    body["branches"] = [views.branch_json(row, req.now) for row in rows]
    return Response(200, body)


def _encode_cursor(value: Any, last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, last_id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        value, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise HttpError(400, "cursor is not valid") from None
    return value, str(last_id)


def create_branch(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/branches → 201."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    operations.ensure_unlocked(conn, project["id"], req.now)
    body = req.body_object(required=False)
    spec = body.get("branch") or {}
    endpoints = body.get("endpoints") or []
    if not isinstance(spec, dict) or not isinstance(endpoints, list):
        raise HttpError(400, "branch must be an object and endpoints an array")
    parent = _parent(conn, project["id"], spec.get("parent_id"))
    name = spec.get("name")
    if name is not None:
        _check_name(conn, project["id"], name)
    protected = bool(spec.get("protected", False))
    expires_at = _expiry(spec.get("expires_at"), req.now, protected)
    read_write = sum(1 for e in endpoints if isinstance(e, dict) and e.get("type") == "read_write")
    if read_write > 1:
        raise HttpError(400, "a branch can have at most one read_write endpoint")
    duration = req.limits.operation_duration_ms / 1000
    branch_ready = req.now + duration
    branch_id = provision.insert_branch(
        conn, project["id"], name, parent["id"], req.now, branch_ready,
        protected=protected, expires_at=expires_at,
    )  # fmt: skip
    defaults = json.loads(project["default_endpoint_settings"])
    steps: list[tuple[str, str | None, str | None]] = [("create_branch", branch_id, None)]
    endpoint_ids = []
    for index, option in enumerate(endpoints):
        if not isinstance(option, dict) or option.get("type") not in ("read_write", "read_only"):
            raise HttpError(400, f"endpoints[{index}].type must be read_write or read_only")
        merged = {**defaults, **option}
        provision.check_compute(
            merged["autoscaling_limit_min_cu"],
            merged["autoscaling_limit_max_cu"],
            merged["suspend_timeout_seconds"],
        )
        ready = req.now + (2 + index) * duration
        endpoint_id = provision.insert_endpoint(
            conn, project["id"], branch_id, option["type"], merged, req.now, ready
        )
        endpoint_ids.append(endpoint_id)
        steps.append(("start_compute", branch_id, endpoint_id))
    ops = operations.schedule(conn, project["id"], steps, req.now, req.limits.operation_duration_ms)
    branch = _branch(conn, project["id"], branch_id)
    endpoint_rows = [
        conn.execute("SELECT * FROM endpoints WHERE id = ?", (eid,)).fetchone()
        for eid in endpoint_ids
    ]
    # A new branch starts with its parent's roles and databases as they are now.
    roles, databases = catalog.roles(conn, parent), catalog.databases(conn, parent)
    answer: dict[str, Any] = {
        "branch": views.branch_json(branch, req.now),
        "endpoints": [views.endpoint_json(e, project["region_id"], req.now) for e in endpoint_rows],
        "operations": ops,
        "roles": [views.role_json(r, branch_id, with_password=False) for r in roles],
        "databases": [views.database_json(d, branch_id) for d in databases],
    }
    # Neon omits connection_uris when the parent has several roles or databases.
    if endpoint_rows and len(roles) == 1 and len(databases) == 1:
        answer["connection_uris"] = [
            views.connection_uri(
                roles[0], databases[0].name, endpoint_rows[0]["id"], project["region_id"]
            )
        ]
    return Response(201, answer)


def _parent(conn: sqlite3.Connection, project_id: str, parent_id: Any) -> sqlite3.Row:
    if parent_id:
        row = conn.execute(
            "SELECT * FROM branches WHERE id = ? AND project_id = ?", (parent_id, project_id)
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT * FROM branches WHERE project_id = ? AND is_default = 1", (project_id,)
        ).fetchone()
    if row is None:
        raise HttpError(404, f"parent branch {parent_id} not found")
    result: sqlite3.Row = row
    return result


def _check_name(conn: sqlite3.Connection, project_id: str, name: Any) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise HttpError(400, "branch.name must be a string of 1 to 256 characters")
    taken = conn.execute(
        "SELECT 1 FROM branches WHERE project_id = ? AND name = ?", (project_id, name)
    ).fetchone()
    if taken is not None:
        raise HttpError(409, f"a branch named {name!r} already exists in this project")


def _expiry(value: Any, now: float, protected: bool) -> str | None:
    if value is None:
        return None
    try:
        at = ids.parse_timestamp(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None:
        raise HttpError(400, "expires_at must be an RFC 3339 timestamp")
    if not now < at <= now + _MAX_EXPIRY_SECONDS:
        raise HttpError(400, "expires_at must be in the future and at most 30 days ahead")
    if protected:
        raise HttpError(400, "a protected branch cannot expire")
    return ids.timestamp(at)


def _branch(conn: sqlite3.Connection, project_id: str, branch_id: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT * FROM branches WHERE id = ? AND project_id = ?", (branch_id, project_id)
    ).fetchone()
    if row is None:
        raise HttpError(404, f"branch {branch_id} not found")
    result: sqlite3.Row = row
    return result


def get_branch(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/branches/{branch_id}."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    branch = _branch(conn, project["id"], req.params["branch_id"])
    annotation = {"object": {"type": "console/branch", "id": branch["id"]}, "value": {}}
    return Response(200, {"branch": views.branch_json(branch, req.now), "annotation": annotation})


def update_branch(conn: sqlite3.Connection, req: Request) -> Response:
    """PATCH /projects/{project_id}/branches/{branch_id}: name, protected, expires_at."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    branch = _branch(conn, project["id"], req.params["branch_id"])
    operations.ensure_unlocked(conn, project["id"], req.now)
    spec = req.body_object("branch")
    name = spec.get("name", branch["name"])
    if name != branch["name"]:
        _check_name(conn, project["id"], name)
    protected = bool(spec.get("protected", bool(branch["protected"])))
    expires_at = branch["expires_at"]
    if "expires_at" in spec:  # null removes the expiry; absent leaves it unchanged
        expires_at = _expiry(spec["expires_at"], req.now, protected)
    elif protected and expires_at:
        raise HttpError(400, "a protected branch cannot expire")
    conn.execute(
        "UPDATE branches SET name = ?, protected = ?, expires_at = ?, updated_at = ? WHERE id = ?",
        (name, int(protected), expires_at, ids.timestamp(req.now), branch["id"]),
    )
    updated = _branch(conn, project["id"], branch["id"])
    return Response(200, {"branch": views.branch_json(updated, req.now), "operations": []})


def delete_branch(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE /projects/{project_id}/branches/{branch_id}: 200, or 204 when already gone."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    row = conn.execute(
        "SELECT * FROM branches WHERE id = ? AND project_id = ?",
        (req.params["branch_id"], project["id"]),
    ).fetchone()
    if row is None:
        return Response(204)
    if row["is_default"]:
        raise HttpError(400, "the default branch cannot be deleted")
    child = conn.execute("SELECT 1 FROM branches WHERE parent_id = ?", (row["id"],)).fetchone()
    if child is not None:
        raise HttpError(400, "a branch with child branches cannot be deleted")
    operations.ensure_unlocked(conn, project["id"], req.now)
    endpoints = conn.execute("SELECT id FROM endpoints WHERE branch_id = ?", (row["id"],))
    steps: list[tuple[str, str | None, str | None]] = [
        ("suspend_compute", row["id"], e["id"]) for e in endpoints
    ]
    steps.append(("delete_timeline", row["id"], None))
    conn.execute("DELETE FROM endpoints WHERE branch_id = ?", (row["id"],))
    conn.execute("DELETE FROM branches WHERE id = ?", (row["id"],))
    for table in ("branch_resets", "backup_schedules", "neon_auth", "neon_auth_users"):
        conn.execute(f"DELETE FROM {table} WHERE branch_id = ?", (row["id"],))
    catalog.forget_branch(conn, row["id"])
    ops = operations.schedule(conn, project["id"], steps, req.now, req.limits.operation_duration_ms)
    return Response(200, {"branch": views.branch_json(row, req.now), "operations": ops})


def list_endpoints(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/endpoints (no pagination, as in Neon)."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    rows = conn.execute(
        "SELECT * FROM endpoints WHERE project_id = ? ORDER BY created_at, id", (project["id"],)
    )
    return Response(
        200, {"endpoints": [views.endpoint_json(r, project["region_id"], req.now) for r in rows]}
    )


def _endpoint(conn: sqlite3.Connection, project_id: str, endpoint_id: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT * FROM endpoints WHERE id = ? AND project_id = ?", (endpoint_id, project_id)
    ).fetchone()
    if row is None:
        raise HttpError(404, f"endpoint {endpoint_id} not found")
    result: sqlite3.Row = row
    return result


def get_endpoint(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/endpoints/{endpoint_id}."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    row = _endpoint(conn, project["id"], req.params["endpoint_id"])
    return Response(200, {"endpoint": views.endpoint_json(row, project["region_id"], req.now)})


def update_endpoint(conn: sqlite3.Connection, req: Request) -> Response:
    """PATCH /projects/{project_id}/endpoints/{endpoint_id}: limits, suspend timeout, ..."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    row = _endpoint(conn, project["id"], req.params["endpoint_id"])
    operations.ensure_unlocked(conn, project["id"], req.now)
    spec = req.body_object("endpoint")
    min_cu = spec.get("autoscaling_limit_min_cu", row["min_cu"])
    max_cu = spec.get("autoscaling_limit_max_cu", row["max_cu"])
    suspend = spec.get("suspend_timeout_seconds", row["suspend_timeout_seconds"])
    provision.check_compute(min_cu, max_cu, suspend)
    name = spec.get("name", row["name"])
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 64):
        raise HttpError(400, "endpoint.name must be a string of 1 to 64 characters")
    settings = spec.get("settings", json.loads(row["settings"]))
    if not isinstance(settings, dict):
        raise HttpError(400, "endpoint.settings must be an object")
    disabled = bool(spec.get("disabled", bool(row["disabled"])))
    ops = operations.schedule(
        conn, project["id"], [("apply_config", row["branch_id"], row["id"])],
        req.now, req.limits.operation_duration_ms,
    )  # fmt: skip
    conn.execute(
        "UPDATE endpoints SET min_cu = ?, max_cu = ?, suspend_timeout_seconds = ?, disabled = ?, "
        "name = ?, settings = ?, updated_at = ? WHERE id = ?",
        (
            min_cu, max_cu, suspend, int(disabled), name, json.dumps(settings),
            ids.timestamp(req.now), row["id"],
        ),
    )  # fmt: skip
    updated = _endpoint(conn, project["id"], row["id"])
    return Response(
        200,
        {
            "endpoint": views.endpoint_json(updated, project["region_id"], req.now),
            "operations": ops,
        },
    )


ROUTES = (
    Route("GET", "/projects/{project_id}/branches", list_branches),
    Route("POST", "/projects/{project_id}/branches", create_branch),
    Route("GET", "/projects/{project_id}/branches/{branch_id}", get_branch),
    Route("PATCH", "/projects/{project_id}/branches/{branch_id}", update_branch),
    Route("DELETE", "/projects/{project_id}/branches/{branch_id}", delete_branch),
    Route("GET", "/projects/{project_id}/endpoints", list_endpoints),
    Route("GET", "/projects/{project_id}/endpoints/{endpoint_id}", get_endpoint),
    Route("PATCH", "/projects/{project_id}/endpoints/{endpoint_id}", update_endpoint),
)
