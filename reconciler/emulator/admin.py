"""The admin API under ``/_emulator/`` (a loopback test tool, not Neon's API).

It has no Neon-style authentication: it answers loopback clients only. A client beyond loopback
(``fleet emulator serve --host 0.0.0.0``) is refused with 403 unless the emulator was given an
admin token (``--admin-token`` / ``FLEET_EMULATOR_ADMIN_TOKEN``) and the request carries it in the
``X-Emulator-Admin-Token`` header: anyone who can reach the admin API can rewrite projects, seed
keys and inject faults.

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
- ``PATCH /branches/{id}``: ``{logical_size}`` (bytes the branch pretends to hold; the emulator
  stores no data) → 200 ``{branch}``.
- ``POST /seed``: apply a seed document (same format as the seed file) → 200 ``{}``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from reconciler.emulator import ids, views
from reconciler.emulator.seed_apply import insert_seed_project, stable_project_id
from reconciler.emulator.seed_file import (
    INTEGRATIONS,
    faults_from_mapping,
    project_from_mapping,
    seed_from_mapping,
)
from reconciler.emulator.web import HttpError, Response
from reconciler.errors import UsageError

if TYPE_CHECKING:
    from reconciler.emulator.app import Emulator

_LIMIT_KEYS = {
    "requests_per_minute", "route_requests_per_second", "consumption_per_minute",
    "operation_duration_ms",
}  # fmt: skip


#: The header a client beyond loopback sends the admin token in.
ADMIN_TOKEN_HEADER = "X-Emulator-Admin-Token"
_ADMIN_TOKEN_ENVIRON_KEY = "HTTP_" + ADMIN_TOKEN_HEADER.upper().replace("-", "_")


def is_loopback(address: str | None) -> bool:
    """Whether ``address`` (an IP, ``localhost`` or None) is this machine's loopback."""
    if address is None:
        return False
    if address.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def check_access(environ: Mapping[str, Any], admin_token: str | None) -> None:
    """Let a loopback client, or one that presents the admin token, use the admin API (else 403)."""
    if is_loopback(environ.get("REMOTE_ADDR")):
        return
    if admin_token is None:
        raise HttpError(
            403,
            "the /_emulator/ admin API answers loopback clients only; serve the emulator with "
            f"--admin-token and send it in {ADMIN_TOKEN_HEADER} to use it from elsewhere",
        )
    given = str(environ.get(_ADMIN_TOKEN_ENVIRON_KEY, ""))
    if not hmac.compare_digest(given.encode(), admin_token.encode()):
        raise HttpError(
            403, f"the /_emulator/ admin API needs the admin token in {ADMIN_TOKEN_HEADER}"
        )


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
    if path.startswith("/branches/") and method == "PATCH":
        return _patch_branch(emulator, path.removeprefix("/branches/"), _object(body))
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


def _patch_branch(emulator: Emulator, branch_id: str, body: dict[str, Any]) -> Response:
    size = body.get("logical_size")
    if set(body) != {"logical_size"} or isinstance(size, bool) or not isinstance(size, int):
        raise HttpError(400, "admin branch patch takes only {logical_size: bytes}")
    if size < 0:
        raise HttpError(400, "logical_size must be >= 0")
    with emulator.store.transaction() as conn:
        changed = conn.execute(
            "UPDATE branches SET logical_size = ? WHERE id = ?", (size, branch_id)
        ).rowcount
        if not changed:
            raise HttpError(404, f"branch {branch_id} not found")
        row = conn.execute("SELECT * FROM branches WHERE id = ?", (branch_id,)).fetchone()
        return Response(200, {"branch": views.branch_json(row, emulator.clock())})


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
