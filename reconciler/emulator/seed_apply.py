"""Applying a seed to the store, idempotently.

- orgs are upserted (name, plan and project limit follow the seed);
- keys are matched by their token's hash: a known token is left alone (a revoked key stays
  revoked); personal keys' org memberships are upserted on their user;
- projects are created once: the ids of seeded projects are remembered, so a project the seed
  created and the fleet later deleted or transferred is not created again. A seed project
  without ``id`` gets a stable id derived from its org and name.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import uuid
from dataclasses import asdict

from reconciler.emulator import ids, provision, routes_keys
from reconciler.emulator.auth import token_hash
from reconciler.emulator.seed_file import Seed, SeedKey, SeedProject
from reconciler.emulator.store import get_meta, set_meta

_SEEDED = "seeded_projects"


def apply_seed(conn: sqlite3.Connection, seed: Seed, now: float) -> None:
    """Add what ``seed`` declares and the store lacks; store its limits and faults."""
    stamp = ids.timestamp(now)
    for org in seed.orgs:
        conn.execute(
            "INSERT INTO orgs (id, name, plan, project_limit, created_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, plan = excluded.plan, "
            "project_limit = excluded.project_limit",
            (org.id, org.name, org.plan, org.project_limit, stamp),
        )
    for key in seed.keys:
        _seed_key(conn, key, now)
    seeded: list[str] = get_meta(conn, _SEEDED) or []
    known = set(seeded)
    for project in seed.projects:
        project_id = project.id or stable_project_id(project.org, project.name)
        if project_id in known:
            continue
        if conn.execute("SELECT 1 FROM projects WHERE id = ?", (project_id,)).fetchone() is None:
            insert_seed_project(conn, project, project_id, now)
        seeded.append(project_id)
        known.add(project_id)
    set_meta(conn, _SEEDED, seeded)
    set_meta(conn, "limits", asdict(seed.limits))
    set_meta(conn, "faults", asdict(seed.faults))


def _seed_key(conn: sqlite3.Connection, key: SeedKey, now: float) -> None:
    if key.kind == "personal":
        anchor = key.user or token_hash(key.token)
        user_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"neon-fleet-emulator/user/{anchor}"))
        conn.execute(
            "INSERT OR IGNORE INTO users (id, name) VALUES (?, ?)", (user_id, key.user or key.name)
        )
        for org_id, role in key.orgs.items():
            conn.execute(
                "INSERT INTO memberships (user_id, org_id, role) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id, org_id) DO UPDATE SET role = excluded.role",
                (user_id, org_id, role),
            )
        creator, user = user_id, user_id
    else:
        assert key.org is not None
        creator, user = routes_keys.org_admin_user(conn, key.org), None
    known = conn.execute(
        "SELECT 1 FROM api_keys WHERE token_sha256 = ?", (token_hash(key.token),)
    ).fetchone()
    if known is None:
        routes_keys.insert_key(
            conn, token=key.token, name=key.name, kind=key.kind, created_by=creator, now=now,
            user_id=user, org_id=key.org, project_id=key.project,
        )  # fmt: skip


def insert_seed_project(
    conn: sqlite3.Connection, project: SeedProject, project_id: str, now: float
) -> None:
    """Create a ready project (no running operations) as if it had existed for a while."""
    new = provision.NewProject(
        org_id=project.org,
        name=project.name,
        region_id=project.region_id,
        pg_version=project.pg_version,
        settings={"quota": dict(project.quota)} if project.quota is not None else None,
        integration=project.integration,
        project_id=project_id,
    )
    owner = routes_keys.org_admin_user(conn, project.org)
    provision.create_project(conn, new, owner, now, ready_at=now)


def stable_project_id(org_id: str, name: str) -> str:
    """A Neon-shaped id derived from org and name (so re-seeding finds the same project)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "project"
    digits = int(hashlib.sha256(f"{org_id}/{name}".encode()).hexdigest(), 16) % 10**8
    return f"{slug}-{digits:08d}"
