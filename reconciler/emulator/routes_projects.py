"""``/projects``: list (cursor dialect), create, get, patch, delete; project operations.

Paging: projects are ordered by id; ``pagination.cursor`` is the id of the last project on the
page (as Neon's docs describe) and is present whenever the page is not empty. A short or empty
page means the end; an empty page carries no ``pagination``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from reconciler.emulator import catalog, ids, operations, provision, usage, views
from reconciler.emulator.web import HttpError, Request, Response, Route


def list_projects(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects."""
    limit = req.int_arg("limit", 1, 400, default=10)
    assert limit is not None
    principal = req.principal
    org_id = req.arg("org_id")
    if org_id is not None and principal.kind != "project":
        principal.require_org(org_id)
        orgs: tuple[str, ...] = (org_id,)
    else:
        orgs = principal.orgs()
    clauses = [f"p.org_id IN ({', '.join('?' * len(orgs))})"]
    args: list[Any] = list(orgs)
    if principal.kind == "project":
        clauses.append("p.id = ?")
        args.append(principal.project_id)
    search = req.arg("search")
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(p.name LIKE ? ESCAPE '\\' OR p.id LIKE ? ESCAPE '\\')")
        args += [pattern, pattern]
    cursor = req.arg("cursor")
    if cursor:
        clauses.append("p.id > ?")
        args.append(cursor)
    rows = conn.execute(
        "SELECT p.*, o.name AS org_name FROM projects p JOIN orgs o ON o.id = p.org_id "
        f"WHERE {' AND '.join(clauses)} ORDER BY p.id LIMIT ?",
        (*args, limit),
    ).fetchall()
    integrations = {row["id"]: [row["integration"]] for row in rows if row["integration"]}
    body: dict[str, Any] = {
        "projects": [views.project_list_item(row, row["org_name"]) for row in rows],
        "applications": integrations,
        "integrations": integrations,
    }
    if rows:
        body["pagination"] = {"cursor": rows[-1]["id"]}
    return Response(200, body)


def create_project(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects → 201 with project, connection_uris, roles, databases, ops, branch, eps."""
    principal = req.principal
    principal.require_kind("personal", "org")
    spec = req.body_object("project")
    org_id = _target_org(req, spec.get("org_id"))
    principal.require_org(org_id)
    new = _new_project(org_id, spec)
    provision.check_project_limit(conn, org_id)
    duration = req.limits.operation_duration_ms / 1000
    ready_at = req.now + 2 * duration
    project_id = provision.create_project(conn, new, principal.account_id, req.now, ready_at)
    branch = conn.execute("SELECT * FROM branches WHERE project_id = ?", (project_id,)).fetchone()
    endpoint = conn.execute(
        "SELECT * FROM endpoints WHERE project_id = ?", (project_id,)
    ).fetchone()
    ops = operations.schedule(
        conn,
        project_id,
        [("create_timeline", branch["id"], None), ("start_compute", branch["id"], endpoint["id"])],
        req.now,
        req.limits.operation_duration_ms,
    )
    project = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
    role = conn.execute("SELECT * FROM roles WHERE project_id = ?", (project_id,)).fetchone()
    database = conn.execute(
        "SELECT * FROM databases WHERE project_id = ?", (project_id,)
    ).fetchone()
    return Response(
        201,
        {
            "project": views.project_full(project, req.now),
            "connection_uris": [
                views.connection_uri(role, database["name"], endpoint["id"], new.region_id)
            ],
            "roles": [views.role_json(role, branch["id"], with_password=True)],
            "databases": [views.database_json(database, branch["id"])],
            "operations": ops,
            "branch": views.branch_json(branch, req.now),
            "endpoints": [views.endpoint_json(endpoint, new.region_id, req.now)],
        },
    )


def _target_org(req: Request, requested: Any) -> str:
    principal = req.principal
    if requested is not None and not isinstance(requested, str):
        raise HttpError(400, "project.org_id must be a string")
    if principal.kind == "org":
        if requested is not None and requested != principal.org_id:
            raise HttpError(403, "this organization API key belongs to another organization")
        assert principal.org_id is not None
        return principal.org_id
    if requested is not None:
        return requested
    if len(principal.memberships) == 1:
        return next(iter(principal.memberships))
    raise HttpError(400, "project.org_id is required with a personal API key")


def _new_project(org_id: str, spec: dict[str, Any]) -> provision.NewProject:
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 256):
        raise HttpError(400, "project.name must be a string of 1 to 256 characters")
    region = spec.get("region_id", "aws-us-east-2")
    provision.check_region(region)
    pg_version = spec.get("pg_version", 17)
    if pg_version not in (14, 15, 16, 17, 18):
        raise HttpError(400, "project.pg_version must be 14 to 18")
    endpoint_defaults = _endpoint_defaults(spec.get("default_endpoint_settings"), {})
    settings = spec.get("settings") or {}
    if not isinstance(settings, dict):
        raise HttpError(400, "project.settings must be an object")
    history = _history(spec.get("history_retention_seconds"))
    branch = spec.get("branch") or {}
    if not isinstance(branch, dict):
        raise HttpError(400, "project.branch must be an object")
    return provision.NewProject(
        org_id=org_id,
        name=name,
        region_id=region,
        pg_version=pg_version,
        settings=settings,
        default_endpoint_settings=endpoint_defaults,
        history_retention_seconds=(
            provision.DEFAULT_HISTORY_RETENTION_SECONDS if history is None else history
        ),
        branch_name=branch.get("name") or "main",
        database_name=branch.get("database_name") or "neondb",
        role_name=branch.get("role_name"),
    )


def _endpoint_defaults(value: Any, current: dict[str, Any]) -> dict[str, Any]:
    if value is None:
        return current
    if not isinstance(value, dict):
        raise HttpError(400, "default_endpoint_settings must be an object")
    merged = {**views.DEFAULT_ENDPOINT_SETTINGS, **current, **value}
    provision.check_compute(
        merged["autoscaling_limit_min_cu"],
        merged["autoscaling_limit_max_cu"],
        merged["suspend_timeout_seconds"],
    )
    return merged


def _history(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2592000:
        raise HttpError(400, "history_retention_seconds must be an integer from 0 to 2592000")
    return value


def get_project(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}."""
    row = req.principal.visible_project(conn, req.params["project_id"])
    project = views.project_full(row, req.now)
    # The period counters quotas are enforced on, from the synthetic usage of ``usage.py``.
    project.update(usage.project_counters(row, req.now, req.limits))
    return Response(200, {"project": project})


def update_project(conn: sqlite3.Connection, req: Request) -> Response:
    """PATCH /projects/{project_id}: name, settings (quota replaced whole), defaults, history."""
    row = req.principal.visible_project(conn, req.params["project_id"])
    operations.ensure_unlocked(conn, row["id"], req.now)
    spec = req.body_object("project")
    name = spec.get("name", row["name"])
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise HttpError(400, "project.name must be a string of 1 to 256 characters")
    settings = json.loads(row["settings"])
    new_settings = spec.get("settings")
    if new_settings is not None:
        if not isinstance(new_settings, dict):
            raise HttpError(400, "project.settings must be an object")
        # Top-level settings merge; a given ``quota`` object replaces the stored one whole.
        settings.update(new_settings)
    endpoint_defaults = _endpoint_defaults(
        spec.get("default_endpoint_settings"), json.loads(row["default_endpoint_settings"])
    )
    history = _history(spec.get("history_retention_seconds"))
    steps: list[tuple[str, str | None, str | None]] = []
    if history is not None and history != row["history_retention_seconds"]:
        steps.append(("apply_storage_config", None, None))
    conn.execute(
        "UPDATE projects SET name = ?, settings = ?, default_endpoint_settings = ?, "
        "history_retention_seconds = ?, updated_at = ? WHERE id = ?",
        (
            name,
            json.dumps(settings),
            json.dumps(endpoint_defaults),
            row["history_retention_seconds"] if history is None else history,
            ids.timestamp(req.now),
            row["id"],
        ),
    )
    ops = operations.schedule(conn, row["id"], steps, req.now, req.limits.operation_duration_ms)
    updated = conn.execute("SELECT * FROM projects WHERE id = ?", (row["id"],)).fetchone()
    return Response(200, {"project": views.project_full(updated, req.now), "operations": ops})


def delete_project(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE /projects/{project_id}: 200 with the project; later calls get 404."""
    req.principal.require_kind("personal", "org")
    row = req.principal.visible_project(conn, req.params["project_id"])
    operations.ensure_unlocked(conn, row["id"], req.now)
    for table in ("branches", "endpoints", "roles", "databases", "operations"):
        conn.execute(f"DELETE FROM {table} WHERE project_id = ?", (row["id"],))
    catalog.forget_project(conn, row["id"])
    conn.execute("DELETE FROM projects WHERE id = ?", (row["id"],))
    return Response(200, {"project": views.project_full(row, req.now)})


def get_operation(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/operations/{operation_id}."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    row = conn.execute(
        "SELECT * FROM operations WHERE id = ? AND project_id = ?",
        (req.params["operation_id"], project["id"]),
    ).fetchone()
    if row is None:
        raise HttpError(404, f"operation {req.params['operation_id']} not found")
    return Response(200, {"operation": operations.operation_json(row, req.now)})


def list_operations(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/operations: newest first; the cursor is opaque."""
    project = req.principal.visible_project(conn, req.params["project_id"])
    limit = req.int_arg("limit", 1, 1000, default=10)
    cursor = req.arg("cursor")
    before = int(cursor) if cursor and cursor.isdigit() else None
    rows = conn.execute(
        "SELECT * FROM operations WHERE project_id = ? AND (? IS NULL OR seq < ?) "
        "ORDER BY seq DESC LIMIT ?",
        (project["id"], before, before, limit),
    ).fetchall()
    body: dict[str, Any] = {"operations": [operations.operation_json(r, req.now) for r in rows]}
    if rows:
        body["pagination"] = {"cursor": str(rows[-1]["seq"])}
    return Response(200, body)


ROUTES = (
    Route("GET", "/projects", list_projects),
    Route("POST", "/projects", create_project),
    Route("GET", "/projects/{project_id}", get_project),
    Route("PATCH", "/projects/{project_id}", update_project),
    Route("DELETE", "/projects/{project_id}", delete_project),
    Route("GET", "/projects/{project_id}/operations", list_operations),
    Route("GET", "/projects/{project_id}/operations/{operation_id}", get_operation),
)
