"""The unauthenticated admin API under ``/_emulator/`` (a loopback test tool, not Neon's API).

- ``GET|PUT /faults``: fault settings; PUT merges the given keys (``latency_ms``,
  ``server_error_rate``, ``drop_rate``, ``lost_response_rate``, ``storm_429_requests``,
  ``random_seed``) and restarts the random sequence.
- ``GET|PUT /limits``: ``requests_per_minute``, ``route_requests_per_second``,
  ``consumption_per_minute``, ``operation_duration_ms``; PUT merges and refills the buckets.
- ``GET /stats``: request counts per route and fault counts.
- ``POST /projects``: create a pre-existing project directly
  (``{name, org, id?, region_id?, pg_version?, integration?, quota?}``) → 201 ``{project}``.
- ``PATCH /projects/{id}``: change a project out of band (``name``, ``settings``,
  ``default_endpoint_settings``, ``integration`` (null removes), ``org``) → 200 ``{project}``.
- ``POST /seed``: apply a seed document (same format as the seed file) → 200 ``{}``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from reconciler.emulator import ids, views
from reconciler.emulator.seed import (
    INTEGRATIONS,
    faults_from_mapping,
    project_from_mapping,
    seed_from_mapping,
)
from reconciler.emulator.seeding import insert_seed_project, stable_project_id
from reconciler.emulator.web import HttpError, Response
from reconciler.errors import UsageError

if TYPE_CHECKING:
    from reconciler.emulator.app import Emulator

_LIMIT_KEYS = {
    "requests_per_minute", "route_requests_per_second", "consumption_per_minute",
    "operation_duration_ms",
}  # fmt: skip


def handle(emulator: Emulator, method: str, path: str, body: Any) -> Response:
    """Dispatch one admin request (``path`` without the ``/_emulator`` prefix)."""
    try:
        return _dispatch(emulator, method, path, body)
    except UsageError as exc:
        raise HttpError(400, str(exc)) from exc


def _dispatch(emulator: Emulator, method: str, path: str, body: Any) -> Response:
    if path == "/faults" and method == "GET":
        return Response(200, emulator.faults.snapshot())
    if path == "/faults" and method == "PUT":
        faults = faults_from_mapping({"faults": _object(body)}, base=emulator.faults.current())
        emulator.set_faults(faults)
        return Response(200, emulator.faults.snapshot())
    if path == "/limits" and method == "GET":
        return Response(200, asdict(emulator.limits))
    if path == "/limits" and method == "PUT":
        changes = _object(body)
        unknown = set(changes) - _LIMIT_KEYS
        bad = [k for k, v in changes.items() if isinstance(v, bool) or not isinstance(v, int)]
        if unknown or bad or any(v < 0 for v in changes.values()):
            raise HttpError(400, f"limits take non-negative integers for {sorted(_LIMIT_KEYS)}")
        emulator.set_limits(replace(emulator.limits, **changes))
        return Response(200, asdict(emulator.limits))
    if path == "/stats" and method == "GET":
        return Response(200, emulator.stats().to_json())
    if path == "/projects" and method == "POST":
        return _create_project(emulator, _object(body))
    if path.startswith("/projects/") and method == "PATCH":
        return _patch_project(emulator, path.removeprefix("/projects/"), _object(body))
    if path == "/seed" and method == "POST":
        emulator.ensure_seed(seed_from_mapping(_object(body)))
        return Response(200, {})
    raise HttpError(404, f"no admin route {method} {path}")


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HttpError(400, "admin request body must be a JSON object")
    return body


def _create_project(emulator: Emulator, body: dict[str, Any]) -> Response:
    with emulator.store.transaction() as conn:
        orgs = {row["id"] for row in conn.execute("SELECT id FROM orgs")}
        project = project_from_mapping(body, orgs)
        project_id = project.id or stable_project_id(project.org, project.name)
        if conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone():
            raise HttpError(409, f"project {project_id} already exists")
        now = emulator.clock()
        insert_seed_project(conn, project, project_id, now)
        row = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
        return Response(201, {"project": views.project_full(row, now)})


def _patch_project(emulator: Emulator, project_id: str, body: dict[str, Any]) -> Response:
    allowed = {"name", "settings", "default_endpoint_settings", "integration", "org"}
    if set(body) - allowed:
        raise HttpError(400, f"admin project patch takes only {sorted(allowed)}")
    with emulator.store.transaction() as conn:
        row = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
        if row is None:
            raise HttpError(404, f"project {project_id} not found")
        now = emulator.clock()
        name = body.get("name", row["name"])
        settings = {**json.loads(row["settings"]), **body.get("settings", {})}
        defaults = {
            **json.loads(row["default_endpoint_settings"]),
            **body.get("default_endpoint_settings", {}),
        }
        integration = body.get("integration", row["integration"])
        if integration is not None and integration not in INTEGRATIONS:
            raise HttpError(400, "integration must be github, vercel or null")
        org = body.get("org", row["org_id"])
        if conn.execute("SELECT 1 FROM orgs WHERE id = ?", (org,)).fetchone() is None:
            raise HttpError(400, f"unknown org {org!r}")
        conn.execute(
            "UPDATE projects SET name = ?, settings = ?, default_endpoint_settings = ?, "
            "integration = ?, org_id = ?, updated_at = ? WHERE id = ?",
            (name, json.dumps(settings), json.dumps(defaults), integration, org,
             ids.timestamp(now), project_id),
        )  # fmt: skip
        updated = conn.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone()
        return Response(200, {"project": views.project_full(updated, now)})
