"""API keys: personal (``/api_keys``) and organization (``/organizations/{org_id}/api_keys``).

Lists are bare JSON arrays of live keys; a token is returned only by the create call and only
its SHA-256 is stored. Revoking works at once (the next request with the key gets 401);
revoking an already revoked key answers the same 200 again. Org keys may create org and
project-scoped keys in their own org (Neon's 2025 matrix says only personal keys may; its 2026
key docs say org admins may: UNCONFIRMED, the permissive reading is emulated).
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from reconciler.emulator import ids
from reconciler.emulator.auth import token_hash
from reconciler.emulator.web import HttpError, Request, Response, Route


def org_admin_user(conn: sqlite3.Connection, org_id: str) -> str:
    """The synthetic user recorded as creator of keys made with an org key or the seed."""
    user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"neon-fleet-emulator/org-admin/{org_id}"))
    conn.execute(
        "INSERT OR IGNORE INTO users (id, name) VALUES (?, ?)", (user_id, f"{org_id} admin")
    )
    return user_id


def insert_key(
    conn: sqlite3.Connection,
    *,
    token: str,
    name: str,
    kind: str,
    created_by: str,
    now: float,
    user_id: str | None = None,
    org_id: str | None = None,
    project_id: str | None = None,
) -> int:
    """Store a key (its token's hash only) and return its int64 id."""
    while True:
        key_id = ids.api_key_id()
        if conn.execute("SELECT 1 FROM api_keys WHERE id = ?", (key_id,)).fetchone() is None:
            break
    conn.execute(
        "INSERT INTO api_keys (id, token_sha256, name, kind, user_id, org_id, project_id, "
        "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (key_id, token_hash(token), name, kind, user_id, org_id, project_id, created_by,
         ids.timestamp(now)),
    )  # fmt: skip
    return key_id


def _list_item(conn: sqlite3.Connection, row: sqlite3.Row, *, org: bool) -> dict[str, Any]:
    creator = conn.execute("SELECT name FROM users WHERE id = ?", (row["created_by"],)).fetchone()
    item: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "created_at": row["created_at"],
        "created_by": {
            "id": row["created_by"],
            "name": creator["name"] if creator else "",
            "image": "",
        },
        "last_used_from_addr": "127.0.0.1" if row["last_used_at"] else "",
        "last_used_at": row["last_used_at"],
    }
    if org and row["project_id"]:
        item["project_id"] = row["project_id"]
    return item


def _revoked(row: sqlite3.Row, *, org: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "created_at": row["created_at"],
        "created_by": row["created_by"],
        "last_used_at": row["last_used_at"],
        "last_used_from_addr": "127.0.0.1" if row["last_used_at"] else "",
        "revoked": True,
    }
    if org and row["project_id"]:
        body["project_id"] = row["project_id"]
    return body


def _key_name(req: Request) -> str:
    name = req.body_object().get("key_name")
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise HttpError(400, "key_name must be a string of 1 to 64 characters")
    return name


def list_personal(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /api_keys: the caller's user's live personal keys."""
    req.principal.require_kind("personal")
    rows = conn.execute(
        "SELECT * FROM api_keys WHERE user_id = ? AND kind = 'personal' AND revoked = 0 "
        "ORDER BY id",
        (req.principal.user_id,),
    ).fetchall()
    return Response(200, [_list_item(conn, row, org=False) for row in rows])


def create_personal(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /api_keys → 200 with the token (the only time it is shown)."""
    req.principal.require_kind("personal")
    name = _key_name(req)
    token = ids.api_key_token()
    user_id = req.principal.user_id
    assert user_id is not None
    key_id = insert_key(conn, token=token, name=name, kind="personal", created_by=user_id,
                        now=req.now, user_id=user_id)  # fmt: skip
    return Response(
        200,
        {"id": key_id, "key": token, "name": name, "created_at": ids.timestamp(req.now),
         "created_by": user_id},
    )  # fmt: skip


def revoke_personal(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE /api_keys/{key_id}."""
    req.principal.require_kind("personal")
    row = conn.execute(
        "SELECT * FROM api_keys WHERE id = ? AND user_id = ? AND kind = 'personal'",
        (_key_id(req), req.principal.user_id),
    ).fetchone()
    if row is None:
        raise HttpError(404, "API key not found")
    conn.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?", (row["id"],))
    return Response(200, _revoked(row, org=False))


def _key_id(req: Request) -> int:
    try:
        return int(req.params["key_id"])
    except ValueError:
        raise HttpError(400, "key_id must be an integer") from None


def list_org(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /organizations/{org_id}/api_keys: org and project-scoped keys of the org."""
    org_id = req.params["org_id"]
    req.principal.require_org(org_id)
    rows = conn.execute(
        "SELECT * FROM api_keys WHERE org_id = ? AND kind IN ('org', 'project') AND revoked = 0 "
        "ORDER BY id",
        (org_id,),
    ).fetchall()
    return Response(200, [_list_item(conn, row, org=True) for row in rows])


def create_org(conn: sqlite3.Connection, req: Request) -> Response:
    """POST /organizations/{org_id}/api_keys; ``project_id`` makes a project-scoped key."""
    org_id = req.params["org_id"]
    principal = req.principal
    principal.require_org(org_id, admin=True)
    name = _key_name(req)
    project_id = req.body_object().get("project_id")
    if project_id is not None:
        found = conn.execute(
            "SELECT 1 FROM projects WHERE id = ? AND org_id = ?", (project_id, org_id)
        ).fetchone()
        if found is None:
            raise HttpError(404, f"project {project_id} not found in organization {org_id}")
    creator = principal.user_id or org_admin_user(conn, org_id)
    token = ids.api_key_token()
    key_id = insert_key(
        conn, token=token, name=name, kind="project" if project_id else "org",
        created_by=creator, now=req.now, org_id=org_id, project_id=project_id,
    )  # fmt: skip
    body: dict[str, Any] = {
        "id": key_id,
        "key": token,
        "name": name,
        "created_at": ids.timestamp(req.now),
        "created_by": creator,
    }
    if project_id:
        body["project_id"] = project_id
    return Response(200, body)


def revoke_org(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE /organizations/{org_id}/api_keys/{key_id}."""
    org_id = req.params["org_id"]
    req.principal.require_org(org_id, admin=True)
    row = conn.execute(
        "SELECT * FROM api_keys WHERE id = ? AND org_id = ? AND kind IN ('org', 'project')",
        (_key_id(req), org_id),
    ).fetchone()
    if row is None:
        raise HttpError(404, "API key not found")
    conn.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?", (row["id"],))
    return Response(200, _revoked(row, org=True))


ROUTES = (
    Route("GET", "/api_keys", list_personal),
    Route("POST", "/api_keys", create_personal),
    Route("DELETE", "/api_keys/{key_id}", revoke_personal),
    Route("GET", "/organizations/{org_id}/api_keys", list_org),
    Route("POST", "/organizations/{org_id}/api_keys", create_org),
    Route("DELETE", "/organizations/{org_id}/api_keys/{key_id}", revoke_org),
)
