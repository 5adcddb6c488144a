"""The caller's account: ``GET /users/me``, shared projects, and project permissions (sharing).

The emulator has no project sharing between accounts: ``GET /projects/shared`` answers an empty
list (Neon lists projects other accounts shared with the caller). Permissions granted on a
project are stored and listed, but give the grantee nothing here. UNCONFIRMED for Neon: the
answer of ``/users/me`` to org and project-scoped keys (403 here: they belong to no user), the
user's plan and limits (the values of Neon's recorded Free-plan answer), a second grant to the
same email (409 here) and which keys may grant or revoke (personal and org keys here).
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from typing import Any

from reconciler.emulator import ids, lookup
from reconciler.emulator.web import HttpError, Request, Response, Route

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(user_id: str) -> str:
    """The emulated user's email address (under ``.invalid``: it reaches nobody)."""
    local = re.sub(r"[^a-z0-9._-]", "-", user_id.lower()) or "user"
    return f"{local}@neon-emulator.invalid"


def get_current_user(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /users/me: the personal key's user."""
    principal = req.principal
    principal.require_kind("personal")
    assert principal.user_id is not None
    row = conn.execute("SELECT * FROM users WHERE id = ?", (principal.user_id,)).fetchone()
    name = row["name"] if row is not None else principal.user_id
    email = _email(principal.user_id)
    account = {"email": email, "image": "", "login": name, "name": name, "provider": "keycloak"}
    billing = {
        "state": "active", "payment_source": {"type": ""}, "subscription_type": "free_v2",
        "payment_method": "none", "quota_reset_at_last": ids.month_bounds(req.now)[0],
        "name": name, "email": email, "address_city": "", "address_country": "",
        "address_line1": "", "address_line2": "", "address_postal_code": "", "address_state": "",
    }  # fmt: skip
    body: dict[str, Any] = {
        "active_seconds_limit": 0,
        "billing_account": billing,
        "auth_accounts": [account],
        "email": email,
        "id": principal.user_id,
        "image": "",
        "login": name,
        "name": name,
        "last_name": "",
        "projects_limit": 10,
        "branches_limit": 10,
        "max_autoscaling_limit": 2,
        "plan": "free_v2",
    }
    return Response(200, body)


def list_shared_projects(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/shared: always empty (nothing is shared between emulated accounts)."""
    req.int_arg("limit", 1, 400)
    return Response(200, {"projects": []})


def _permission_json(row: sqlite3.Row) -> dict[str, Any]:
    body = {"id": row["id"], "granted_to_email": row["email"], "granted_at": row["granted_at"]}
    if row["revoked_at"]:
        body["revoked_at"] = row["revoked_at"]
    return body


def list_permissions(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/permissions: the grants not revoked, oldest first."""
    project = lookup.project(conn, req)
    rows = conn.execute(
        "SELECT * FROM project_permissions WHERE project_id = ? AND revoked_at IS NULL "
        "ORDER BY granted_at, id",
        (project["id"],),
    )
    return Response(200, {"project_permissions": [_permission_json(r) for r in rows]})


def grant_permission(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/permissions ``{email}`` → 200 ProjectPermission."""
    req.principal.require_kind("personal", "org")
    project = lookup.project(conn, req)
    email = req.body_object().get("email")
    if not isinstance(email, str) or len(email) > 256 or not _EMAIL.match(email):
        raise HttpError(400, "email must be an email address of at most 256 characters")
    taken = conn.execute(
        "SELECT 1 FROM project_permissions WHERE project_id = ? AND lower(email) = lower(?) "
        "AND revoked_at IS NULL",
        (project["id"], email),
    ).fetchone()
    if taken is not None:
        raise HttpError(409, f"project {project['id']} is already shared with {email}")
    permission_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO project_permissions (id, project_id, email, granted_at) VALUES (?, ?, ?, ?)",
        (permission_id, project["id"], email, ids.timestamp(req.now)),
    )
    row = conn.execute("SELECT * FROM project_permissions WHERE id = ?", (permission_id,))
    return Response(200, _permission_json(row.fetchone()))


def revoke_permission(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE /projects/{project_id}/permissions/{permission_id} → 200 with ``revoked_at``."""
    req.principal.require_kind("personal", "org")
    project = lookup.project(conn, req)
    permission_id = req.params["permission_id"]
    row = conn.execute(
        "SELECT * FROM project_permissions WHERE id = ? AND project_id = ? AND revoked_at IS NULL",
        (permission_id, project["id"]),
    ).fetchone()
    if row is None:
        raise HttpError(404, f"permission {permission_id} not found")
    conn.execute(
        "UPDATE project_permissions SET revoked_at = ? WHERE id = ?",
        (ids.timestamp(req.now), permission_id),
    )
    revoked = conn.execute("SELECT * FROM project_permissions WHERE id = ?", (permission_id,))
    return Response(200, _permission_json(revoked.fetchone()))


ROUTES = (
    Route("GET", "/users/me", get_current_user),
    Route("GET", "/projects/shared", list_shared_projects),
    Route("GET", "/projects/{project_id}/permissions", list_permissions),
    Route("POST", "/projects/{project_id}/permissions", grant_permission),
    Route("DELETE", "/projects/{project_id}/permissions/{permission_id}", revoke_permission),
)
