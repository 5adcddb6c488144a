"""Organizations, ``GET /auth`` and project transfers between organizations.

Transfers are all-or-nothing (Neon does not document partial moves): every check runs before
anything moves. Order of checks: key kind and membership (403), the request body (400), every
project in the source org (404), integrations (422 listing all offending projects), then the
destination's limits (406 listing each unsatisfied limit). A successful transfer revokes the
project-scoped keys of the moved projects, since Neon says they stop working.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from reconciler.emulator import views
from reconciler.emulator.seed_file import PLAN_RANK
from reconciler.emulator.web import HttpError, Request, Response, Route

_MAX_TRANSFER = 400


def _org_row(conn: sqlite3.Connection, org_id: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM orgs WHERE id = ?", (org_id,)).fetchone()
    if row is None:
        raise HttpError(404, f"organization {org_id} not found")
    result: sqlite3.Row = row
    return result


def get_org(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /organizations/{org_id}."""
    org_id = req.params["org_id"]
    if req.principal.kind == "project":
        if org_id != req.principal.org_id:
            raise HttpError(403, "a project-scoped API key cannot read other organizations")
    else:
        req.principal.require_org(org_id)
    return Response(200, views.org_json(_org_row(conn, org_id)))


def my_orgs(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /users/me/organizations: member orgs, or the single org owning an org/project key."""
    orgs = [views.org_json(_org_row(conn, org_id)) for org_id in req.principal.orgs()]
    return Response(200, {"organizations": orgs})


def auth_details(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /auth: ``api_key_user`` for personal keys, ``api_key_org`` otherwise (UNCONFIRMED
    for project-scoped keys)."""
    method = "api_key_user" if req.principal.kind == "personal" else "api_key_org"
    return Response(200, {"account_id": req.principal.account_id, "auth_method": method})


def transfer(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /organizations/{source_org_id}/projects/transfer → 200 ``{}``, 406 or 422."""
    principal = req.principal
    if principal.kind != "personal":
        raise HttpError(
            403, "project transfers need a personal API key; org keys are not supported"
        )
    source_id = req.params["source_org_id"]
    body = req.body_object()
    destination_id = body.get("destination_org_id")
    project_ids = body.get("project_ids")
    if not isinstance(destination_id, str) or not destination_id:
        raise HttpError(400, "destination_org_id is required")
    if (
        not isinstance(project_ids, list)
        or not 1 <= len(project_ids) <= _MAX_TRANSFER
        or not all(isinstance(pid, str) for pid in project_ids)
    ):
        raise HttpError(400, f"project_ids must be an array of 1 to {_MAX_TRANSFER} project ids")
    principal.require_org(source_id, admin=True)
    principal.require_org(destination_id)
    if source_id == destination_id:
        raise HttpError(400, "the destination organization is the source organization")
    source, destination = _org_row(conn, source_id), _org_row(conn, destination_id)
    unique_ids = list(dict.fromkeys(project_ids))
    marks = ", ".join("?" * len(unique_ids))
    rows = conn.execute(
        f"SELECT id, integration FROM projects WHERE org_id = ? AND id IN ({marks})",
        (source_id, *unique_ids),
    ).fetchall()
    found = {row["id"] for row in rows}
    missing = [pid for pid in unique_ids if pid not in found]
    if missing:
        raise HttpError(404, f"project(s) not found in {source_id}: {', '.join(missing)}")
    offending = [
        {"id": row["id"], "integration": row["integration"]} for row in rows if row["integration"]
    ]
    if offending:
        return Response(422, {"projects": offending})
    limits = _unsatisfied(conn, source, destination, len(unique_ids))
    if limits:
        return Response(406, {"limits": limits})
    conn.execute(
        f"UPDATE projects SET org_id = ? WHERE id IN ({marks})", (destination_id, *unique_ids)
    )
    conn.execute(
        f"UPDATE api_keys SET revoked = 1 WHERE kind = 'project' AND project_id IN ({marks})",
        unique_ids,
    )
    return Response(200, {})


def _unsatisfied(
    conn: sqlite3.Connection, source: sqlite3.Row, destination: sqlite3.Row, moving: int
) -> list[dict[str, Any]]:
    limits: list[dict[str, Any]] = []
    if PLAN_RANK[destination["plan"]] < PLAN_RANK[source["plan"]]:
        limits.append(
            {"name": "subscription_type", "expected": source["plan"], "actual": destination["plan"]}
        )
    cap = destination["project_limit"]
    if cap is not None:
        count = conn.execute(
            "SELECT COUNT(*) FROM projects WHERE org_id = ?", (destination["id"],)
        ).fetchone()[0]
        if count + moving > cap:
            # expected: the most the org may hold; actual: what it would hold after the move.
            limits.append(
                {"name": "projects_count", "expected": str(cap), "actual": str(count + moving)}
            )
    return limits


ROUTES = (
    Route("GET", "/organizations/{org_id}", get_org),
    Route("GET", "/users/me/organizations", my_orgs),
    Route("GET", "/auth", auth_details),
    Route("POST", "/organizations/{source_org_id}/projects/transfer", transfer),
)
