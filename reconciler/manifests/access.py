"""How a tenant's app reaches its data: ``databases``, ``roles``, ``connection_secrets``, ``auth``.

Each key may sit on a Tier (the default for its tenants) or a Tenant (which replaces the Tier's
value as a whole: a list is one desired set, not a patch). A key no layer sets is not managed.

Semantic rules, checked on the effective values (Tier ← Tenant) and reported at the layer that
set the offending value:

* names are unique within ``databases``, ``roles`` and ``connection_secrets``;
* a database's owner is a declared role when ``roles`` is managed (otherwise Neon's
  ``neondb_owner`` or a role made outside neon-fleet, which Neon checks);
* a connection secret names a declared role and database (when those are managed) and a branch
  that has a read-write compute: ``main``, or a declared branch with ``compute``;
* Neon Auth's database is a declared database (when ``databases`` is managed);
* secrets need somewhere to go: ``connection_secrets`` and ``auth`` need the Fleet's ``secrets``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.catalog import (
    AUTH_SECRET,
    DEFAULT_BRANCH,
    AuthSpec,
    ConnectionSecretSpec,
    DatabaseSpec,
    RoleSpec,
)
from reconciler.errors import Problem
from reconciler.manifests.wording import unknown
from reconciler.manifests.yaml_source import SourceDocument

#: The manifest keys of this module, in the order plans show them.
ACCESS_KEYS = ("databases", "roles", "connection_secrets", "auth")


def to_databases(items: Sequence[Mapping[str, Any]]) -> tuple[DatabaseSpec, ...]:
    return tuple(DatabaseSpec(name=d["name"], owner=d["owner"]) for d in items)


def to_roles(items: Sequence[Mapping[str, Any]]) -> tuple[RoleSpec, ...]:
    return tuple(RoleSpec(name=r["name"]) for r in items)


def to_connection_secrets(items: Sequence[Mapping[str, Any]]) -> tuple[ConnectionSecretSpec, ...]:
    return tuple(
        ConnectionSecretSpec(
            name=s["name"],
            role=s["role"],
            database=s["database"],
            branch=s.get("branch", DEFAULT_BRANCH),
            pooled=bool(s.get("pooled", False)),
        )
        for s in items
    )


def to_auth(block: Mapping[str, Any]) -> AuthSpec:
    return AuthSpec(provider=block["provider"], database=block["database"])


def tier_access_problems(tier: SourceDocument, has_sink: bool | None) -> list[Problem]:
    """Problems of a Tier's own access keys (its tenants may still replace them)."""
    spec = tier.data["spec"]
    return _problems(tier, {k: spec[k] for k in ACCESS_KEYS if k in spec}, {}, set(), has_sink)


def tenant_access_problems(
    tenant: SourceDocument, tier_spec: Mapping[str, Any], has_sink: bool | None
) -> list[Problem]:
    """Problems of a Tenant's effective access keys that involve a value the Tenant sets."""
    spec = tenant.data["spec"]
    own = {k: spec[k] for k in ACCESS_KEYS if k in spec}
    if not own:
        return []
    inherited = {k: tier_spec[k] for k in ACCESS_KEYS if k in tier_spec and k not in own}
    computed = {b["name"] for b in spec.get("branches", []) if "compute" in b}
    problems = _problems(tenant, own, inherited, computed, has_sink)
    # Secrets share the sink's per-tenant directory with API key tokens and Neon Auth's keys.
    taken = {k["name"] for k in spec.get("api_keys", [])} | {AUTH_SECRET}
    for i, secret in enumerate(own.get("connection_secrets", [])):
        if secret["name"] in taken:
            field = ("spec", "connection_secrets", i, "name")
            message = f"{secret['name']!r} is taken in the secret sink (an API key, or Neon Auth)"
            problems.append(tenant.problem(field, message))
    return problems


def _problems(
    doc: SourceDocument,
    own: Mapping[str, Any],
    inherited: Mapping[str, Any],
    computed_branches: set[str],
    has_sink: bool | None,
) -> list[Problem]:
    """Rules over ``own`` (reported here) checked against ``own`` ∪ ``inherited`` values."""
    values = {**inherited, **own}
    problems: list[Problem] = []
    for key in ("databases", "roles", "connection_secrets"):
        if key in own:
            problems.extend(_duplicates(doc, key, own[key]))
    roles = {r["name"] for r in values["roles"]} if "roles" in values else None
    databases = {d["name"] for d in values["databases"]} if "databases" in values else None
    if roles is not None and ("databases" in own or "roles" in own):
        at = "databases" if "databases" in own else "roles"
        for i, db in enumerate(values.get("databases", [])):
            if db["owner"] not in roles:
                field = ("spec", at) if at == "roles" else ("spec", "databases", i, "owner")
                reason = unknown("owner role", db["owner"], roles)
                problems.append(doc.problem(field, f"database {db['name']!r}: {reason}"))
    if "connection_secrets" in own:
        branches = computed_branches | {DEFAULT_BRANCH}
        for i, secret in enumerate(own["connection_secrets"]):
            here = ("spec", "connection_secrets", i)
            if roles is not None and secret["role"] not in roles:
                reason = unknown("role", secret["role"], roles)
                problems.append(doc.problem((*here, "role"), reason))
            if databases is not None and secret["database"] not in databases:
                reason = unknown("database", secret["database"], databases)
                problems.append(doc.problem((*here, "database"), reason))
            branch = secret.get("branch", DEFAULT_BRANCH)
            if branch not in branches:
                reason = unknown("branch with a compute", branch, branches)
                problems.append(doc.problem((*here, "branch"), reason))
    if "auth" in own and databases is not None and own["auth"]["database"] not in databases:
        reason = unknown("database", own["auth"]["database"], databases)
        problems.append(doc.problem(("spec", "auth", "database"), reason))
    if has_sink is False:
        for key in ("connection_secrets", "auth"):
            if key in own:
                message = f"{key} deliver secrets, but the Fleet declares no secrets sink"
                problems.append(doc.problem(("spec", key), message))
    return problems


def _duplicates(doc: SourceDocument, key: str, items: Sequence[Mapping[str, Any]]) -> list[Problem]:
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for i, item in enumerate(items):
        name = item["name"]
        if name in first:
            message = f"duplicate name {name!r}; already declared at spec.{key}[{first[name]}]"
            problems.append(doc.problem(("spec", key, i, "name"), message))
        else:
            first[name] = i
    return problems
