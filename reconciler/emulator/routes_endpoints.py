"""Computes (endpoints): create, delete, start, suspend, restart; a branch's endpoint list.

``GET``/``PATCH /projects/{id}/endpoints[/{endpoint_id}]`` live in ``routes_branches.py``.
Rules, as Neon documents them: one ``read_write`` compute per branch (409, the status neonctl's
telemetry names for "read-write endpoint already exists"); ``region_id`` may only be the
project's; autoscaling 0.25–16 CU with max − min ≤ 8 (fixed sizes to 56 CU); suspend timeout
−1..604800 s. New limits default to the project's ``default_endpoint_settings``.

Run state: a compute that was created, started or restarted is ``active`` once its
``start_compute`` finished and stays so for its suspend timeout (0 → Neon's 300 s, at least
60 s, −1 → forever): the emulator serves no connections that would keep it awake. ``suspend``
ends the active window when its ``suspend_compute`` finishes. UNCONFIRMED for Neon: ``restart``
of a compute that is not active answers 409 (Neon's docs say restart works on active computes
only); ``start`` of an active compute schedules a ``start_compute`` that changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from reconciler.emulator import ids, lookup, operations, provision, views
from reconciler.emulator.web import HttpError, Request, Response, Route

_DEFAULT_SUSPEND_SECONDS = 300
_MIN_SUSPEND_SECONDS = 60
_NEVER = 1e18  # an active window that does not end (suspend_timeout_seconds -1)


def _awake_seconds(suspend_timeout: int) -> float:
    if suspend_timeout < 0:
        return _NEVER
    return max(suspend_timeout or _DEFAULT_SUSPEND_SECONDS, _MIN_SUSPEND_SECONDS)


def _answer(
    conn: sqlite3.Connection, project: sqlite3.Row, endpoint_id: str, ops: list[Any], now: float
) -> dict[str, Any]:
    row = lookup.endpoint(conn, project["id"], endpoint_id)
    assert row is not None
    return {"endpoint": views.endpoint_json(row, project["region_id"], now), "operations": ops}


def _existing(conn: sqlite3.Connection, project: sqlite3.Row, endpoint_id: str) -> sqlite3.Row:
    row = lookup.endpoint(conn, project["id"], endpoint_id)
    if row is None:
        raise HttpError(404, f"endpoint {endpoint_id} not found")
    return row


def _activate(conn: sqlite3.Connection, row: sqlite3.Row, start_at: float) -> None:
    """Mark the compute active from ``start_at`` (its start finishing) for its timeout."""
    until = start_at + _awake_seconds(int(row["suspend_timeout_seconds"]))
    conn.execute(
        "UPDATE endpoints SET active_from = ?, active_until = ? WHERE id = ?",
        (start_at, until, row["id"]),
    )


def _schedule(
    conn: sqlite3.Connection, req: Request, row: sqlite3.Row, actions: tuple[str, ...]
) -> list[dict[str, Any]]:
    steps = [(action, row["branch_id"], row["id"]) for action in actions]
    return operations.schedule(
        conn, row["project_id"], steps, req.now, req.limits.operation_duration_ms
    )


def create_endpoint(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/endpoints → 201 {endpoint, operations: [start_compute]}."""
    project = lookup.project(conn, req)
    spec = req.body_object("endpoint")
    branch_id, kind = spec.get("branch_id"), spec.get("type")
    if not isinstance(branch_id, str) or kind not in ("read_write", "read_only"):
        raise HttpError(400, "endpoint.branch_id and endpoint.type (read_write|read_only) needed")
    region = spec.get("region_id", project["region_id"])
    if region != project["region_id"]:
        raise HttpError(400, f"endpoint.region_id must be the project's ({project['region_id']})")
    branch = lookup.branch(conn, project["id"], branch_id)
    operations.ensure_unlocked(conn, project["id"], req.now)
    if kind == "read_write" and any(
        e["type"] == "read_write" for e in lookup.branch_endpoints(conn, branch["id"])
    ):
        raise HttpError(409, f"branch {branch['id']} already has a read_write endpoint")
    options = {**json.loads(project["default_endpoint_settings"]), **spec}
    provision.check_compute(
        options["autoscaling_limit_min_cu"],
        options["autoscaling_limit_max_cu"],
        options["suspend_timeout_seconds"],
    )
    _check_options(spec)
    ready_at = req.now + req.limits.operation_duration_ms / 1000
    endpoint_id = provision.insert_endpoint(
        conn, project["id"], branch["id"], kind, options, req.now, ready_at
    )
    conn.execute(
        "UPDATE endpoints SET name = ?, disabled = ? WHERE id = ?",
        (spec.get("name"), int(spec.get("disabled", False)), endpoint_id),
    )
    row = _existing(conn, project, endpoint_id)
    _activate(conn, row, ready_at)
    ops = _schedule(conn, req, row, ("start_compute",))
    return Response(201, _answer(conn, project, endpoint_id, ops, req.now))


def _check_options(spec: dict[str, Any]) -> None:
    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 64):
        raise HttpError(400, "endpoint.name must be a string of 1 to 64 characters")
    if not isinstance(spec.get("settings", {}), dict):
        raise HttpError(400, "endpoint.settings must be an object")
    if not isinstance(spec.get("disabled", False), bool):
        raise HttpError(400, "endpoint.disabled must be a boolean")


def delete_endpoint(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE .../endpoints/{endpoint_id}: 200 {endpoint, [suspend_compute]}; 204 when gone."""
    project = lookup.project(conn, req)
    row = lookup.endpoint(conn, project["id"], req.params["endpoint_id"])
    if row is None:
        return Response(204)
    operations.ensure_unlocked(conn, project["id"], req.now)
    body = views.endpoint_json(row, project["region_id"], req.now)
    ops = _schedule(conn, req, row, ("suspend_compute",))
    conn.execute("DELETE FROM endpoints WHERE id = ?", (row["id"],))
    return Response(200, {"endpoint": body, "operations": ops})


def _run_action(
    conn: sqlite3.Connection,
    req: Request,
    actions: tuple[str, ...],
    *,
    only_if_active: bool = False,
) -> tuple[sqlite3.Row, sqlite3.Row, list[dict[str, Any]], bool]:
    """Schedule ``actions`` on the path's compute: (project, endpoint, operations, was active)."""
    project = lookup.project(conn, req)
    row = _existing(conn, project, req.params["endpoint_id"])
    operations.ensure_unlocked(conn, project["id"], req.now)
    active = views.is_active(row, req.now)
    if only_if_active and not active:
        raise HttpError(409, f"endpoint {row['id']} is not active; start it instead")
    return project, row, _schedule(conn, req, row, actions), active


def start_endpoint(conn: sqlite3.Connection, req: Request) -> Response:
    """POST .../endpoints/{endpoint_id}/start → {endpoint, [start_compute]}."""
    project, row, ops, active = _run_action(conn, req, ("start_compute",))
    started = req.now + req.limits.operation_duration_ms / 1000
    if active:  # already running: it stays active, and its suspend timeout starts again
        conn.execute(
            "UPDATE endpoints SET active_until = ? WHERE id = ?",
            (started + _awake_seconds(int(row["suspend_timeout_seconds"])), row["id"]),
        )
    else:
        _activate(conn, row, started)
    return Response(200, _answer(conn, project, row["id"], ops, req.now))


def suspend_endpoint(conn: sqlite3.Connection, req: Request) -> Response:
    """POST .../endpoints/{endpoint_id}/suspend → {endpoint, [suspend_compute]}."""
    project, row, ops, active = _run_action(conn, req, ("suspend_compute",))
    done = req.now + req.limits.operation_duration_ms / 1000
    if active:
        conn.execute(
            "UPDATE endpoints SET active_until = ?, suspended_at = ? WHERE id = ?",
            (done, ids.timestamp(done), row["id"]),
        )
    return Response(200, _answer(conn, project, row["id"], ops, req.now))


def restart_endpoint(conn: sqlite3.Connection, req: Request) -> Response:
    """POST .../endpoints/{endpoint_id}/restart → {endpoint, [suspend_compute, start_compute]}."""
    project, row, ops, _active = _run_action(
        conn, req, ("suspend_compute", "start_compute"), only_if_active=True
    )
    _activate(conn, row, req.now + 2 * req.limits.operation_duration_ms / 1000)
    return Response(200, _answer(conn, project, row["id"], ops, req.now))


def list_branch_endpoints(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/branches/{branch_id}/endpoints."""
    project = lookup.project(conn, req)
    branch = lookup.branch(conn, project["id"], req.params["branch_id"])
    rows = lookup.branch_endpoints(conn, branch["id"])
    return Response(
        200, {"endpoints": [views.endpoint_json(r, project["region_id"], req.now) for r in rows]}
    )


_ENDPOINT = "/projects/{project_id}/endpoints/{endpoint_id}"
ROUTES = (
    Route("POST", "/projects/{project_id}/endpoints", create_endpoint),
    Route("DELETE", _ENDPOINT, delete_endpoint),
    Route("POST", _ENDPOINT + "/start", start_endpoint),
    Route("POST", _ENDPOINT + "/suspend", suspend_endpoint),
    Route("POST", _ENDPOINT + "/restart", restart_endpoint),
    Route("GET", "/projects/{project_id}/branches/{branch_id}/endpoints", list_branch_endpoints),
)
