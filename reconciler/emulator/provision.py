"""Creating projects, branches and endpoints in the store (shared by API, admin API and seed)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.emulator import catalog, ids, views
from reconciler.emulator.seed_file import REGIONS
from reconciler.emulator.web import HttpError

DEFAULT_HISTORY_RETENTION_SECONDS = 86400


@dataclass(frozen=True)
class NewProject:
    """What a project is created with (already validated)."""

    org_id: str
    name: str | None = None
    region_id: str = "aws-us-east-2"
    pg_version: int = 17
    settings: Mapping[str, Any] | None = None
    default_endpoint_settings: Mapping[str, Any] | None = None
    history_retention_seconds: int = DEFAULT_HISTORY_RETENTION_SECONDS
    integration: str | None = None
    project_id: str | None = None
    branch_name: str = "main"
    database_name: str = "neondb"
    role_name: str | None = None


def check_region(region_id: str) -> None:
    """400 for a region the emulator does not know."""
    if region_id not in REGIONS:
        raise HttpError(400, f"region {region_id!r} is not supported; use one of {REGIONS}")


def check_project_limit(conn: sqlite3.Connection, org_id: str, adding: int = 1) -> None:
    """422 PROJECTS_LIMIT_EXCEEDED when the org would exceed its project limit.

    UNCONFIRMED: Neon's status and code for this are not documented; third-party code names
    ``PROJECTS_LIMIT_EXCEEDED``.
    """
    org = conn.execute("SELECT project_limit FROM orgs WHERE id = ?", (org_id,)).fetchone()
    if org is None or org["project_limit"] is None:
        return
    count = conn.execute("SELECT COUNT(*) FROM projects WHERE org_id = ?", (org_id,)).fetchone()[0]
    if count + adding > org["project_limit"]:
        raise HttpError(
            422,
            f"organization {org_id} reached its limit of {org['project_limit']} projects",
            code="PROJECTS_LIMIT_EXCEEDED",
        )


def create_project(
    conn: sqlite3.Connection, new: NewProject, owner_id: str, now: float, ready_at: float
) -> str:
    """Insert a project with its default branch, endpoint, owner role and database."""
    project_id = new.project_id or _fresh(conn, "projects", ids.project_id)
    stamp = ids.timestamp(now)
    settings = {**views.DEFAULT_SETTINGS, **(new.settings or {})}
    endpoint_defaults = {**views.DEFAULT_ENDPOINT_SETTINGS, **(new.default_endpoint_settings or {})}
    conn.execute(
        "INSERT INTO projects (id, org_id, name, region_id, pg_version, settings, "
        "default_endpoint_settings, history_retention_seconds, integration, owner_id, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            project_id, new.org_id, new.name or project_id, new.region_id, new.pg_version,
            json.dumps(settings), json.dumps(endpoint_defaults), new.history_retention_seconds,
            new.integration, owner_id, stamp, stamp,
        ),
    )  # fmt: skip
    branch_id = insert_branch(conn, project_id, new.branch_name, None, now, ready_at, default=True)
    insert_endpoint(conn, project_id, branch_id, "read_write", endpoint_defaults, now, ready_at)
    role = new.role_name or f"{new.database_name}_owner"
    conn.execute(
        "INSERT INTO roles (project_id, name, password, created_at) VALUES (?, ?, ?, ?)",
        (project_id, role, ids.password(), stamp),
    )
    conn.execute(
        "INSERT INTO databases (project_id, name, owner_name, created_at) VALUES (?, ?, ?, ?)",
        (project_id, new.database_name, role, stamp),
    )
    catalog.start_catalog(conn, branch_id)
    return project_id


def insert_branch(
    conn: sqlite3.Connection,
    project_id: str,
    name: str | None,
    parent_id: str | None,
    now: float,
    ready_at: float,
    *,
    default: bool = False,
    protected: bool = False,
    expires_at: str | None = None,
) -> str:
    """Insert a branch row and return its id (the name defaults to the id, as Neon does)."""
    branch_id = _fresh(conn, "branches", ids.branch_id)
    stamp = ids.timestamp(now)
    conn.execute(
        "INSERT INTO branches (id, project_id, name, parent_id, is_default, protected, "
        "expires_at, created_at, updated_at, ready_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            branch_id, project_id, name or branch_id, parent_id, int(default), int(protected),
            expires_at, stamp, stamp, ready_at,
        ),
    )  # fmt: skip
    return branch_id


def insert_endpoint(
    conn: sqlite3.Connection,
    project_id: str,
    branch_id: str,
    endpoint_type: str,
    options: Mapping[str, Any],
    now: float,
    ready_at: float,
) -> str:
    """Insert an endpoint row using ``options`` (autoscaling limits, suspend timeout)."""
    endpoint_id = _fresh(conn, "endpoints", ids.endpoint_id)
    stamp = ids.timestamp(now)
    defaults = views.DEFAULT_ENDPOINT_SETTINGS
    conn.execute(
        "INSERT INTO endpoints (id, project_id, branch_id, type, min_cu, max_cu, "
        "suspend_timeout_seconds, disabled, name, settings, created_at, updated_at, ready_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?, ?)",
        (
            endpoint_id, project_id, branch_id, endpoint_type,
            options.get("autoscaling_limit_min_cu", defaults["autoscaling_limit_min_cu"]),
            options.get("autoscaling_limit_max_cu", defaults["autoscaling_limit_max_cu"]),
            options.get("suspend_timeout_seconds", defaults["suspend_timeout_seconds"]),
            json.dumps(options.get("settings") or {}), stamp, stamp, ready_at,
        ),
    )  # fmt: skip
    return endpoint_id


def check_compute(min_cu: Any, max_cu: Any, suspend: Any) -> None:
    """400 unless the autoscaling limits and suspend timeout are within Neon's documented rules.

    Neon documents 0.25–56 CU for fixed sizes, 0.25–16 CU with max − min ≤ 8 for autoscaling,
    and a suspend timeout of −1 (never) to 604800 s. Per-plan caps (Free: 2 CU) are not applied.
    """
    for name, value in (("autoscaling_limit_min_cu", min_cu), ("autoscaling_limit_max_cu", max_cu)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.25 <= value <= 56:
            raise HttpError(400, f"{name} must be a number between 0.25 and 56")
    if min_cu > max_cu:
        raise HttpError(400, "autoscaling_limit_min_cu must not exceed autoscaling_limit_max_cu")
    if max_cu - min_cu > 8:
        raise HttpError(400, "autoscaling_limit_max_cu - autoscaling_limit_min_cu must be ≤ 8")
    if min_cu != max_cu and max_cu > 16:  # fixed sizes go to 56 CU, autoscaling only to 16
        raise HttpError(400, "autoscaling_limit_max_cu must be ≤ 16 when autoscaling")
    if isinstance(suspend, bool) or not isinstance(suspend, int) or not -1 <= suspend <= 604800:
        raise HttpError(400, "suspend_timeout_seconds must be an integer between -1 and 604800")


def _fresh(conn: sqlite3.Connection, table: str, make: Any) -> str:
    while True:
        candidate: str = make()
        if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (candidate,)).fetchone() is None:
            return candidate
