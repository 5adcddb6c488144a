"""``GET /projects/{project_id}/connection_uri``: a role's connection string, as Neon builds it.

``database_name`` and ``role_name`` are required; ``branch_id`` defaults to the default branch,
``endpoint_id`` to the branch's read-write compute (any compute when it has none), and
``pooled=true`` puts the ``-pooler`` host in (``ep-…-pooler.<region>.aws.neon.tech``). The URI
carries the role's password, as Neon's does: a secret, never logged. ``pooled`` takes the
spellings Go's ``strconv.ParseBool`` takes (Neon's API is written in Go; the Python client
sends ``False``); any other value is a 400.
"""

from __future__ import annotations

import sqlite3

from reconciler.emulator import catalog, lookup, views
from reconciler.emulator.web import HttpError, Request, Response, Route

_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def _pooled(req: Request) -> bool:
    raw = req.arg("pooled")
    if raw is None or raw in _FALSE:
        return False
    if raw in _TRUE:
        return True
    raise HttpError(400, "query parameter pooled must be true or false")


def _endpoint(conn: sqlite3.Connection, req: Request, branch: sqlite3.Row) -> sqlite3.Row:
    wanted = req.arg("endpoint_id")
    if wanted is not None:
        row = lookup.endpoint(conn, branch["project_id"], wanted)
        if row is None or row["branch_id"] != branch["id"]:
            raise HttpError(404, f"endpoint {wanted} not found on branch {branch['id']}")
        return row
    endpoints = lookup.branch_endpoints(conn, branch["id"])  # read_write first
    if not endpoints:
        raise HttpError(404, f"branch {branch['id']} has no compute endpoint")
    return endpoints[0]


def get_connection_uri(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /projects/{project_id}/connection_uri → {uri}."""
    project = lookup.project(conn, req)
    database_name, role_name = req.arg("database_name"), req.arg("role_name")
    if not database_name or not role_name:
        raise HttpError(400, "query parameters database_name and role_name are required")
    pooled = _pooled(req)
    branch_id = req.arg("branch_id")
    branch = (
        lookup.branch(conn, project["id"], branch_id)
        if branch_id
        else lookup.default_branch(conn, project["id"])
    )
    endpoint = _endpoint(conn, req, branch)
    database = catalog.database(conn, branch, database_name)
    role = catalog.role(conn, branch, role_name)
    if role.password is None:
        raise HttpError(404, f"role {role.name!r} has no password (it cannot log in)")
    host = views.endpoint_host(endpoint["id"], project["region_id"], pooler=pooled)
    uri = views.postgres_uri(role.name, role.password, host, database.name)
    return Response(200, {"uri": uri})


ROUTES = (Route("GET", "/projects/{project_id}/connection_uri", get_connection_uri),)
