"""API key authentication and the scope rules Neon applies to personal, org and project keys.

Rules (documented in SEED.md):
- missing, unknown or revoked key → 401; a project-scoped key whose project left the key's org
  (transferred) or was deleted → 401, since Neon says such keys stop working;
- a personal key acts in the orgs its user is a member of; an org key only inside its org;
- a project-scoped key only on its own project (403 elsewhere), never on org-level routes;
- a project that exists but is outside the caller's orgs answers 404, so ids do not leak.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.emulator import ids
from reconciler.emulator.web import HttpError


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's kind, its account, and where it may act."""

    kind: str
    key_id: int
    account_id: str
    user_id: str | None = None
    org_id: str | None = None
    project_id: str | None = None
    memberships: Mapping[str, str] = field(default_factory=dict)

    def orgs(self) -> tuple[str, ...]:
        """The org ids this key may act in."""
        if self.kind == "personal":
            return tuple(sorted(self.memberships))
        return (self.org_id,) if self.org_id else ()

    def require_kind(self, *kinds: str) -> None:
        """403 unless the key is one of ``kinds``."""
        if self.kind not in kinds:
            raise HttpError(403, f"this action is not allowed with a {self.kind}-scoped API key")

    def require_org(self, org_id: str, *, admin: bool = False) -> None:
        """403 unless the key may act in ``org_id`` (as an admin when ``admin``)."""
        if self.kind == "project":
            raise HttpError(403, "a project-scoped API key cannot perform organization actions")
        if self.kind == "org":
            if org_id != self.org_id:
                raise HttpError(403, "this organization API key belongs to another organization")
            return
        role = self.memberships.get(org_id)
        if role is None or (admin and role != "admin"):
            wanted = "an admin" if admin else "a member"
            raise HttpError(403, f"the API key's user is not {wanted} of organization {org_id}")

    def visible_project(self, conn: sqlite3.Connection, project_id: str) -> sqlite3.Row:
        """Return the project row the key may act on; 403/404 otherwise."""
        if self.kind == "project" and project_id != self.project_id:
            raise HttpError(403, "this project-scoped API key only works on its own project")
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM projects WHERE id = ?", (project_id,)
        ).fetchone()
        if row is None or row["org_id"] not in self.orgs():
            raise HttpError(404, f"project {project_id} not found")
        return row


def token_hash(token: str) -> str:
    """The stored form of a token: only its SHA-256 is kept."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def authenticate(conn: sqlite3.Connection, authorization: str | None, now: float) -> Principal:
    """Resolve an ``Authorization: Bearer`` header to a principal, or raise 401."""
    if not authorization or not authorization.startswith("Bearer "):
        raise HttpError(401, "authorization header is missing or is not a Bearer token")
    token = authorization.removeprefix("Bearer ").strip()
    key = conn.execute(
        "SELECT * FROM api_keys WHERE token_sha256 = ?", (token_hash(token),)
    ).fetchone()
    if key is None or key["revoked"]:
        raise HttpError(401, "the API key is invalid or has been revoked")
    conn.execute(
        "UPDATE api_keys SET last_used_at = ? WHERE id = ?", (ids.timestamp(now), key["id"])
    )
    if key["kind"] == "personal":
        memberships = {
            row["org_id"]: row["role"]
            for row in conn.execute(
                "SELECT org_id, role FROM memberships WHERE user_id = ?", (key["user_id"],)
            )
        }
        return Principal(
            "personal", key["id"], key["user_id"], user_id=key["user_id"], memberships=memberships
        )
    if key["kind"] == "project":
        project = conn.execute(
            "SELECT org_id FROM projects WHERE id = ?", (key["project_id"],)
        ).fetchone()
        if project is None or project["org_id"] != key["org_id"]:
            raise HttpError(401, "the project-scoped API key is no longer valid for its project")
    return Principal(
        key["kind"], key["id"], key["org_id"], org_id=key["org_id"], project_id=key["project_id"]
    )
