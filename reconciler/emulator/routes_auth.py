"""Neon Auth on a branch: enable (``better_auth``), read, disable; create and delete auth users.

Paths, bodies and statuses follow the OpenAPI document: ``POST …/branches/{id}/auth``
``{auth_provider, database_name?}`` → 201 ``NeonAuthCreateIntegrationResponse`` (the only answer
that carries ``pub_client_key`` and ``secret_server_key``: the emulator keeps no copy of them),
``GET`` → 200 ``NeonAuthIntegration``, ``DELETE`` ``{delete_data?}`` → 200 without a body,
``POST …/auth/users`` ``{email, name?}`` → 201 ``{id}``, ``DELETE …/auth/users/{id}`` → 204.
A second enable answers 409, which neonctl 5.0.1 reads as "already enabled".

UNCONFIRMED for Neon and chosen conservatively (documented in SEED.md): only ``better_auth``
is accepted (``stack`` and ``mock`` → 400: new integrations use Better Auth); ``database_name``
must name an existing database of the project (400; default: the project's first database);
reading, disabling or adding users where Neon Auth is not enabled → 404; a second user with the
same email → 409; the host names in ``base_url``/``jwks_url`` (``<branch>.neonauth.<region>``).
"""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from typing import Any

from reconciler.emulator import catalog, ids, snapshots, views
from reconciler.emulator.web import HttpError, Request, Response, Route

_PROVIDER = "better_auth"


def _base_url(branch_id: str, region_id: str, db_name: str) -> str:
    host = views.proxy_host(region_id)
    return f"https://{branch_id}.neonauth.{host}/{db_name}/auth"


def _integration(conn: sqlite3.Connection, project_id: str, branch_id: str) -> sqlite3.Row:
    row: sqlite3.Row | None = conn.execute(
        "SELECT * FROM neon_auth WHERE branch_id = ? AND project_id = ?", (branch_id, project_id)
    ).fetchone()
    if row is None:
        raise HttpError(404, f"Neon Auth is not enabled on branch {branch_id}")
    return row


def enable_auth(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/branches/{branch_id}/auth → 201."""
    project, branch = snapshots.project_and_branch(conn, req)
    body = req.body_object()
    provider = body.get("auth_provider")
    if provider != _PROVIDER:
        raise HttpError(400, f"auth_provider must be {_PROVIDER!r} (got {provider!r})")
    db_name = body.get("database_name")
    names = [database.name for database in catalog.databases(conn, branch)]
    if db_name is None:
        if not names:
            raise HttpError(400, "the branch has no database; pass database_name")
        db_name = names[0]
    elif not isinstance(db_name, str) or db_name not in names:
        raise HttpError(400, f"database_name {db_name!r} is not a database of this branch")
    if conn.execute("SELECT 1 FROM neon_auth WHERE branch_id = ?", (branch["id"],)).fetchone():
        raise HttpError(409, f"Neon Auth is already enabled on branch {branch['id']}")
    provider_project_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO neon_auth (branch_id, project_id, provider, provider_project_id, db_name, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (branch["id"], project["id"], _PROVIDER, provider_project_id, db_name,
         ids.timestamp(req.now)),
    )  # fmt: skip
    base_url = _base_url(branch["id"], project["region_id"], db_name)
    return Response(
        201,
        {
            "auth_provider": _PROVIDER,
            "auth_provider_project_id": provider_project_id,
            "pub_client_key": "pck_" + secrets.token_hex(24),
            "secret_server_key": "ssk_" + secrets.token_hex(32),
            "jwks_url": f"{base_url}/.well-known/jwks.json",
            "schema_name": "neon_auth",
            "table_name": "users_sync",
            "base_url": base_url,
        },
    )


def get_auth(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/branches/{branch_id}/auth → 200 (no keys: they are shown once)."""
    project, branch = snapshots.project_and_branch(conn, req)
    row = _integration(conn, project["id"], branch["id"])
    base_url = _base_url(branch["id"], project["region_id"], row["db_name"])
    body: dict[str, Any] = {
        "auth_provider": row["provider"],
        "auth_provider_project_id": row["provider_project_id"],
        "branch_id": branch["id"],
        "db_name": row["db_name"],
        "created_at": row["created_at"],
        "owned_by": "neon",
        "jwks_url": f"{base_url}/.well-known/jwks.json",
        "base_url": base_url,
        "name": project["name"],
    }
    return Response(200, body)


def disable_auth(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE /projects/{project_id}/branches/{branch_id}/auth ``{delete_data?}`` → 200."""
    project, branch = snapshots.project_and_branch(conn, req)
    body = req.body_object(required=False)
    if not isinstance(body.get("delete_data", False), bool):
        raise HttpError(400, "delete_data must be a boolean")
    _integration(conn, project["id"], branch["id"])
    conn.execute("DELETE FROM neon_auth WHERE branch_id = ?", (branch["id"],))
    # The emulator holds no database data, so the user directory goes with the integration.
    conn.execute("DELETE FROM neon_auth_users WHERE branch_id = ?", (branch["id"],))
    return Response(200)


def create_auth_user(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /projects/{project_id}/branches/{branch_id}/auth/users ``{email, name?}`` → 201."""
    project, branch = snapshots.project_and_branch(conn, req)
    _integration(conn, project["id"], branch["id"])
    body = req.body_object()
    email, name = body.get("email"), body.get("name")
    if not isinstance(email, str):
        email = ""
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 256:
        raise HttpError(400, "email must be an email address of at most 256 characters")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 255):
        raise HttpError(400, "name must be a string of 1 to 255 characters")
    taken = conn.execute(
        "SELECT 1 FROM neon_auth_users WHERE branch_id = ? AND email = ?", (branch["id"], email)
    ).fetchone()
    if taken is not None:
        raise HttpError(409, "a user with this email already exists")
    user_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO neon_auth_users (id, branch_id, email, name) VALUES (?, ?, ?, ?)",
        (user_id, branch["id"], email, name or email),
    )
    return Response(201, {"id": user_id})


def delete_auth_user(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE /projects/{project_id}/branches/{branch_id}/auth/users/{auth_user_id} → 204."""
    project, branch = snapshots.project_and_branch(conn, req)
    _integration(conn, project["id"], branch["id"])
    deleted = conn.execute(
        "DELETE FROM neon_auth_users WHERE branch_id = ? AND id = ?",
        (branch["id"], req.params["auth_user_id"]),
    ).rowcount
    if not deleted:
        raise HttpError(404, f"auth user {req.params['auth_user_id']} not found")
    return Response(204)


_BRANCH_AUTH = "/projects/{project_id}/branches/{branch_id}/auth"
ROUTES = (
    Route("POST", _BRANCH_AUTH, enable_auth),
    Route("GET", _BRANCH_AUTH, get_auth),
    Route("DELETE", _BRANCH_AUTH, disable_auth),
    Route("POST", _BRANCH_AUTH + "/users", create_auth_user),
    Route("DELETE", _BRANCH_AUTH + "/users/{auth_user_id}", delete_auth_user),
)
