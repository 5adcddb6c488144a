"""Databases and roles of a branch: list, create, get, update (databases), delete; passwords.

Each branch has its own catalog (copied from its parent when created; see ``catalog.py``).
Changes answer ``{database|role, operations}``: per compute of the branch an ``apply_config``,
then a ``suspend_compute`` when the compute was idle (Neon wakes it to apply the change, as its
spec examples show). A branch without a compute gets no operations (UNCONFIRMED for Neon).
Names already taken answer 409 (neonctl's telemetry names Neon's "database already exists"
409s); deleting a database or role the branch does not have answers 204, as the spec allows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from reconciler.emulator import catalog, lookup, operations, views
from reconciler.emulator.web import HttpError, Request, Response, Route

_Item = TypeVar("_Item", catalog.Role, catalog.Database)
#: Postgres truncates identifiers beyond 63 bytes; Neon refuses them (RoleCreateRequest says so).
_MAX_NAME_BYTES = 63


def _branch(conn: sqlite3.Connection, req: Request) -> sqlite3.Row:
    project = lookup.project(conn, req)
    return lookup.branch(conn, project["id"], req.params["branch_id"])


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value.encode("utf-8")) > _MAX_NAME_BYTES:
        raise HttpError(400, f"{what} must be a non-empty string of at most 63 bytes")
    return value


def catalog_change_operations(
    conn: sqlite3.Connection, req: Request, branch: sqlite3.Row
) -> list[dict[str, Any]]:
    """Schedule the operations of a role or database change on ``branch`` (423 while locked)."""
    operations.ensure_unlocked(conn, branch["project_id"], req.now)
    steps: list[tuple[str, str | None, str | None]] = []
    for endpoint in lookup.branch_endpoints(conn, branch["id"]):
        steps.append(("apply_config", branch["id"], endpoint["id"]))
        if not views.is_active(endpoint, req.now):
            steps.append(("suspend_compute", branch["id"], endpoint["id"]))
    return operations.schedule(
        conn, branch["project_id"], steps, req.now, req.limits.operation_duration_ms
    )


def list_databases(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/branches/{branch_id}/databases."""
    branch = _branch(conn, req)
    found = catalog.databases(conn, branch)
    return Response(200, {"databases": [views.database_json(db, branch["id"]) for db in found]})


def create_database(conn: sqlite3.Connection, req: Request) -> Response:
    """POST .../databases ``{database: {name, owner_name}}`` → 201 {database, operations}."""
    branch = _branch(conn, req)
    spec = req.body_object("database")
    name = _name(spec.get("name"), "database.name")
    owner = _name(spec.get("owner_name"), "database.owner_name")
    ops = catalog_change_operations(conn, req, branch)
    created = catalog.add_database(conn, branch, name, owner, req.now)
    return Response(
        201, {"database": views.database_json(created, branch["id"]), "operations": ops}
    )


def get_database(conn: sqlite3.Connection, req: Request) -> Response:
    """GET .../databases/{database_name}."""
    branch = _branch(conn, req)
    found = catalog.database(conn, branch, req.params["database_name"])
    return Response(200, {"database": views.database_json(found, branch["id"])})


def update_database(conn: sqlite3.Connection, req: Request) -> Response:
    """PATCH .../databases/{database_name} ``{database: {name?, owner_name?}}``."""
    branch = _branch(conn, req)
    current = catalog.database(conn, branch, req.params["database_name"])
    spec = req.body_object("database")
    new_name = _name(spec.get("name", current.name), "database.name")
    owner = _name(spec.get("owner_name", current.owner_name), "database.owner_name")
    ops = catalog_change_operations(conn, req, branch)
    changed = catalog.change_database(conn, branch, current.name, new_name, owner, req.now)
    return Response(
        200, {"database": views.database_json(changed, branch["id"]), "operations": ops}
    )


def _drop(
    conn: sqlite3.Connection,
    req: Request,
    key: str,
    present: Callable[[sqlite3.Connection, sqlite3.Row], Sequence[_Item]],
    drop: Callable[[sqlite3.Connection, sqlite3.Row, str], _Item],
    render: Callable[[_Item, str], dict[str, Any]],
) -> Response:
    """Delete the path's database or role: 200 {key, operations}; 204 when the branch lacks it."""
    branch = _branch(conn, req)
    name = req.params[f"{key}_name"]
    if all(item.name != name for item in present(conn, branch)):
        return Response(204)
    ops = catalog_change_operations(conn, req, branch)
    dropped = drop(conn, branch, name)
    return Response(200, {key: render(dropped, branch["id"]), "operations": ops})


def delete_database(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE .../databases/{database_name}: 200 {database, operations}; 204 when absent."""
    return _drop(
        conn, req, "database", catalog.databases, catalog.drop_database, views.database_json
    )


def _role_without_password(role: catalog.Role, branch_id: str) -> dict[str, Any]:
    return views.role_json(role, branch_id, with_password=False)


def list_roles(conn: sqlite3.Connection, req: Request) -> Response:
    """GET .../roles (no passwords, as on Neon)."""
    branch = _branch(conn, req)
    found = catalog.roles(conn, branch)
    return Response(200, {"roles": [_role_without_password(r, branch["id"]) for r in found]})


def create_role(conn: sqlite3.Connection, req: Request) -> Response:
    """POST .../roles ``{role: {name, no_login?}}`` → 201 {role (with password), operations}.

    Changes are validated inside the request's transaction: an error after the operations were
    scheduled rolls them back with everything else.
    """
    branch = _branch(conn, req)
    spec = req.body_object("role")
    name = _name(spec.get("name"), "role.name")
    if name.startswith("pg_") or name in ("neon_superuser", "cloud_admin"):
        raise HttpError(400, f"role name {name!r} is reserved")
    no_login = spec.get("no_login", False)
    if not isinstance(no_login, bool):
        raise HttpError(400, "role.no_login must be a boolean")
    ops = catalog_change_operations(conn, req, branch)
    created = catalog.add_role(conn, branch, name, req.now, login=not no_login)
    role = views.role_json(created, branch["id"], with_password=created.password is not None)
    return Response(201, {"role": role, "operations": ops})


def get_role(conn: sqlite3.Connection, req: Request) -> Response:
    """GET .../roles/{role_name} (no password)."""
    branch = _branch(conn, req)
    found = catalog.role(conn, branch, req.params["role_name"])
    return Response(200, {"role": _role_without_password(found, branch["id"])})


def delete_role(conn: sqlite3.Connection, req: Request) -> Response:
    """DELETE .../roles/{role_name}: 200 {role, operations}; 204 when absent."""
    return _drop(conn, req, "role", catalog.roles, catalog.drop_role, _role_without_password)


def reveal_password(conn: sqlite3.Connection, req: Request) -> Response:
    """GET .../roles/{role_name}/reveal_password → {password}; 404 without one (no_login)."""
    branch = _branch(conn, req)
    found = catalog.role(conn, branch, req.params["role_name"])
    if found.password is None:  # UNCONFIRMED: Neon's answer for a NOLOGIN role
        raise HttpError(404, f"role {found.name!r} has no password (it cannot log in)")
    return Response(200, {"password": found.password})


def reset_password(conn: sqlite3.Connection, req: Request) -> Response:
    """POST .../roles/{role_name}/reset_password → {role (new password), operations}."""
    branch = _branch(conn, req)
    ops = catalog_change_operations(conn, req, branch)
    changed = catalog.set_password(conn, branch, req.params["role_name"], req.now)
    return Response(
        200,
        {"role": views.role_json(changed, branch["id"], with_password=True), "operations": ops},
    )


_DATABASE = "/projects/{project_id}/branches/{branch_id}/databases"
_ROLE = "/projects/{project_id}/branches/{branch_id}/roles"
ROUTES = (
    Route("GET", _DATABASE, list_databases),
    Route("POST", _DATABASE, create_database),
    Route("GET", _DATABASE + "/{database_name}", get_database),
    Route("PATCH", _DATABASE + "/{database_name}", update_database),
    Route("DELETE", _DATABASE + "/{database_name}", delete_database),
    Route("GET", _ROLE, list_roles),
    Route("POST", _ROLE, create_role),
    Route("GET", _ROLE + "/{role_name}", get_role),
    Route("DELETE", _ROLE + "/{role_name}", delete_role),
    Route("GET", _ROLE + "/{role_name}/reveal_password", reveal_password),
    Route("POST", _ROLE + "/{role_name}/reset_password", reset_password),
)
