"""Rows → Neon JSON objects (Project, ProjectListItem, Branch, Endpoint, Role, ...).

Constant fields use the values seen in Neon's recorded responses (``branch_logical_size_limit``
3072 MiB, ``provisioner`` k8s-neonvm, ``platform_id`` aws) so clients meet realistic payloads.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from typing import Any

from reconciler.emulator import catalog, ids

#: Defaults for ``default_endpoint_settings`` and new endpoints: the spec's examples use 1 CU
#: for both limits; ``suspend_timeout_seconds`` 0 means "Neon's default (300 s)".
DEFAULT_ENDPOINT_SETTINGS: dict[str, Any] = {
    "autoscaling_limit_min_cu": 1,
    "autoscaling_limit_max_cu": 1,
    "suspend_timeout_seconds": 0,
}
DEFAULT_SETTINGS: dict[str, Any] = {
    "allowed_ips": {"ips": [], "protected_branches_only": False},
    "enable_logical_replication": False,
    "block_public_connections": False,
    "block_vpc_connections": False,
    "quota": {},
}
_SIZE_LIMIT_MIB = 3072


@functools.lru_cache(maxsize=1024)
def _parsed(text: str) -> Any:
    """Parse a stored JSON column; fleets repeat the same few settings, so cache them.

    The result is shared between calls: views only put it into answers, never mutate it.
    """
    return json.loads(text)


def proxy_host(region_id: str) -> str:
    """``aws-us-east-2`` → ``us-east-2.aws.neon.tech``."""
    cloud, _, region = region_id.partition("-")
    return f"{region}.{cloud}.neon.tech"


def project_list_item(row: sqlite3.Row, org_name: str) -> dict[str, Any]:
    """A ``ProjectListItem``: what ``GET /projects`` returns per project."""
    return {
        "id": row["id"],
        "platform_id": row["region_id"].partition("-")[0],
        "region_id": row["region_id"],
        "name": row["name"],
        "provisioner": "k8s-neonvm",
        "default_endpoint_settings": _parsed(row["default_endpoint_settings"]),
        "settings": _parsed(row["settings"]),
        "pg_version": row["pg_version"],
        "proxy_host": proxy_host(row["region_id"]),
        "branch_logical_size_limit": _SIZE_LIMIT_MIB,
        "branch_logical_size_limit_bytes": _SIZE_LIMIT_MIB * 1024 * 1024,
        "store_passwords": True,
        "active_time": 0,
        "cpu_used_sec": 0,
        "creation_source": "console",
        "history_retention_seconds": row["history_retention_seconds"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "synthetic_storage_size": 0,
        "owner_id": row["owner_id"],
        "org_id": row["org_id"],
        "org_name": org_name,
    }


def project_full(row: sqlite3.Row, now: float) -> dict[str, Any]:
    """A full ``Project``: list-item fields plus the consumption counters of the period."""
    body = project_list_item(row, "")
    del body["org_name"], body["active_time"]  # not part of the full Project schema
    start, end = ids.month_bounds(now)
    body.update(
        consumption_period_start=start,
        consumption_period_end=end,
        active_time_seconds=0,
        compute_time_seconds=0,
        written_data_bytes=0,
        data_transfer_bytes=0,
        data_storage_bytes_hour=0,
    )
    return body


def branch_json(row: sqlite3.Row, now: float) -> dict[str, Any]:
    """A ``Branch``; ``current_state`` is ``init`` until its creating operation finishes."""
    ready = now >= float(row["ready_at"])
    body: dict[str, Any] = {
        "id": row["id"],
        "project_id": row["project_id"],
        "name": row["name"],
        "current_state": "ready" if ready else "init",
        "state_changed_at": ids.timestamp(min(now, float(row["ready_at"]))),
        "logical_size": row["logical_size"] or 0,
        "creation_source": "console",
        "default": bool(row["is_default"]),
        "primary": bool(row["is_default"]),
        "protected": bool(row["protected"]),
        "cpu_used_sec": 0,
        "compute_time_seconds": 0,
        "active_time_seconds": 0,
        "written_data_bytes": 0,
        "data_transfer_bytes": 0,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "init_source": "parent-data",
    }
    if not ready:
        body["pending_state"] = "ready"
    if row["parent_id"]:
        body["parent_id"] = row["parent_id"]
        body["parent_lsn"] = "0/1DE2850"
    if row["expires_at"]:
        body["expires_at"] = row["expires_at"]
    return body


def endpoint_host(endpoint_id: str, region_id: str, *, pooler: bool = False) -> str:
    """The endpoint's host name (``-pooler`` variant for the connection pooler)."""
    return f"{endpoint_id}{'-pooler' if pooler else ''}.{proxy_host(region_id)}"


def endpoint_json(row: sqlite3.Row, region_id: str, now: float) -> dict[str, Any]:
    """An ``Endpoint``: ``init`` until its first start operation finished, then ``idle``.

    A started compute (``POST .../start``) is ``idle`` with ``pending_state: active`` while its
    ``start_compute`` runs, ``active`` from then until ``active_until`` (a suspend, or its
    suspend timeout elapsing: the emulator serves no connections that would keep it awake).
    """
    ready = now >= float(row["ready_at"])
    state, pending = _run_state(row, now)
    body: dict[str, Any] = {
        "host": endpoint_host(row["id"], region_id),
        "id": row["id"],
        "project_id": row["project_id"],
        "branch_id": row["branch_id"],
        "autoscaling_limit_min_cu": row["min_cu"],
        "autoscaling_limit_max_cu": row["max_cu"],
        "region_id": region_id,
        "type": row["type"],
        "current_state": state if ready else "init",
        "settings": json.loads(row["settings"]),
        "pooler_enabled": False,
        "pooler_mode": "transaction",
        "disabled": bool(row["disabled"]),
        "passwordless_access": True,
        "creation_source": "console",
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "proxy_host": proxy_host(region_id),
        "suspend_timeout_seconds": row["suspend_timeout_seconds"],
        "provisioner": "k8s-neonvm",
    }
    if not ready:
        body["pending_state"] = "idle"
    elif pending:
        body["pending_state"] = pending
    if row["active_from"] is not None:
        body["started_at"] = ids.timestamp(float(row["active_from"]))
        body["last_active"] = ids.timestamp(min(now, float(row["active_until"])))
    if row["suspended_at"]:
        body["suspended_at"] = row["suspended_at"]
    if row["name"]:
        body["name"] = row["name"]
    return body


def is_active(row: sqlite3.Row, now: float) -> bool:
    """Whether a stored compute is ``active`` at ``now`` (its start finished, not suspended)."""
    return _run_state(row, now)[0] == "active"


def _run_state(row: sqlite3.Row, now: float) -> tuple[str, str | None]:
    """``(current_state, pending_state)`` of a compute from its stored active window."""
    until = row["active_until"]
    if until is None or now >= float(until):
        return "idle", None
    if now < float(row["active_from"]):
        return "idle", "active"
    return "active", None


RoleLike = sqlite3.Row | catalog.Role
DatabaseLike = sqlite3.Row | catalog.Database


def _get(row: sqlite3.Row | catalog.Role | catalog.Database, key: str) -> Any:
    """A column of a stored row or a field of a catalog value (both shapes reach the views)."""
    return row[key] if isinstance(row, sqlite3.Row) else getattr(row, key)


def role_json(row: RoleLike, branch_id: str, *, with_password: bool) -> dict[str, Any]:
    """A ``Role`` of a branch (the password only where Neon returns it)."""
    created = _get(row, "created_at")
    body: dict[str, Any] = {
        "branch_id": branch_id,
        "name": _get(row, "name"),
        "protected": False,
        "created_at": created,
        "updated_at": created if isinstance(row, sqlite3.Row) else row.updated_at,
    }
    if with_password:
        body["password"] = _get(row, "password")
    return body


def database_json(row: DatabaseLike, branch_id: str) -> dict[str, Any]:
    """A ``Database`` of a branch."""
    created = _get(row, "created_at")
    return {
        "id": _get(row, "id"),
        "branch_id": branch_id,
        "name": _get(row, "name"),
        "owner_name": _get(row, "owner_name"),
        "created_at": created,
        "updated_at": created if isinstance(row, sqlite3.Row) else row.updated_at,
    }


def postgres_uri(role: str, password: str, host: str, database: str) -> str:
    """``postgresql://role:password@host/database?sslmode=require`` (a secret: never log it)."""
    return f"postgresql://{role}:{password}@{host}/{database}?sslmode=require"


def connection_uri(role: RoleLike, database: str, endpoint_id: str, region: str) -> Any:
    """A ``ConnectionDetails`` item: the URI and its parameters (secrets: never log these)."""
    host = endpoint_host(endpoint_id, region)
    pooler = endpoint_host(endpoint_id, region, pooler=True)
    name, password = _get(role, "name"), _get(role, "password")
    return {
        "connection_uri": postgres_uri(name, password, host, database),
        "connection_parameters": {
            "database": database,
            "password": password,
            "role": name,
            "host": host,
            "pooler_host": pooler,
        },
    }


def org_json(row: sqlite3.Row) -> dict[str, Any]:
    """An ``Organization``."""
    return {
        "id": row["id"],
        "name": row["name"],
        "handle": f"{row['id']}-handle",
        "plan": row["plan"],
        "created_at": row["created_at"],
        "updated_at": row["created_at"],
        "managed_by": "console",
    }
