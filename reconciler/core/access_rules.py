"""Pure rules for a tenant's databases, roles, Neon Auth and connection secrets.

``diff_catalog`` compares the declared databases and roles with the default branch's live ones
(``LiveCatalog``; for a project about to be created, Neon's own ``neondb``/``neondb_owner``) and
says what to create, re-own and delete:

* a declared role or database that is missing is created (roles first: they own databases);
* a declared database whose owner differs gets the declared owner;
* a live database or role that the declared list leaves out is deleted only with
  ``policy.prune_databases`` — otherwise it is kept, with a warning — and a database deletion
  under ``lifecycle.prevent_destroy`` is a blocker (deleting a database destroys its data);
* a role that still owns a database that stays is never deleted;
* a key that is absent (``databases``/``roles`` None) is not managed at all.

``diff_auth`` turns Neon Auth on or off: off is a blocker unless ``policy.allow_auth_removal``,
and moving it to another database is a blocker (Neon keeps its users in that database).

``secret_shape`` is the observable, non-secret description of a connection secret (project,
org, branch, endpoint, role, database, pooled); its ``shape_fingerprint`` is what the ledger
records at delivery, so a changed shape (an endpoint replaced, a transfer) re-delivers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.core.catalog import (
    NEON_DEFAULT_DATABASE,
    NEON_DEFAULT_ROLE,
    AuthSpec,
    ConnectionSecretSpec,
    DatabaseSpec,
    LiveCatalog,
    LiveDatabase,
    LiveRole,
)
from reconciler.core.json_text import compact_sorted
from reconciler.core.model import DesiredTenant, Policy

_ENCODE = compact_sorted(allow_nan=False)


@dataclass(frozen=True)
class OwnerChange:
    """A database whose owner is not the declared one."""

    name: str
    old: str
    new: str


@dataclass(frozen=True)
class CatalogDiff:
    """What to do to the default branch's roles and databases, in the order to do it."""

    create_roles: tuple[str, ...] = ()
    create_databases: tuple[DatabaseSpec, ...] = ()
    change_owners: tuple[OwnerChange, ...] = ()
    delete_databases: tuple[LiveDatabase, ...] = ()
    delete_roles: tuple[str, ...] = ()
    blockers: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.create_roles
            or self.create_databases
            or self.change_owners
            or self.delete_databases
            or self.delete_roles
        )


#: What Neon puts on the default branch of a new project (``branch.database_name``/``role_name``).
NEW_PROJECT_CATALOG = LiveCatalog(
    branch_id="",
    databases=(LiveDatabase(NEON_DEFAULT_DATABASE, NEON_DEFAULT_ROLE),),
    roles=(LiveRole(NEON_DEFAULT_ROLE),),
)


def diff_catalog(tenant: DesiredTenant, live: LiveCatalog, policy: Policy) -> CatalogDiff:
    """The role and database changes of ``tenant``'s default branch (see the module docstring)."""
    databases = _diff_databases(tenant, live, policy)
    if tenant.roles is None:
        return databases
    live_roles = {r.name for r in live.roles if not r.protected}
    create_roles = tuple(r.name for r in tenant.roles.value if r.name not in live_roles)
    extra_roles = sorted(live_roles - {r.name for r in tenant.roles.value})
    if extra_roles and not policy.prune_databases:
        warning = (
            f"{tenant.name}: role(s) {', '.join(extra_roles)} are not declared and are kept "
            "(policy.prune_databases deletes them)"
        )
        return replace(
            databases, create_roles=create_roles, warnings=(*databases.warnings, warning)
        )
    # A role that still owns a database that stays is kept: Neon refuses to drop it.
    still_owning = _owners_after(live, databases)
    owning = [r for r in extra_roles if r in still_owning]
    warnings = databases.warnings
    if owning:
        warnings += (
            f"{tenant.name}: role(s) {', '.join(owning)} still own databases and are kept",
        )
    return replace(
        databases,
        create_roles=create_roles,
        delete_roles=tuple(r for r in extra_roles if r not in still_owning),
        warnings=warnings,
    )


def _diff_databases(tenant: DesiredTenant, live: LiveCatalog, policy: Policy) -> CatalogDiff:
    """The database half of ``diff_catalog``: create, re-own, delete (or keep, or block)."""
    if tenant.databases is None:
        return CatalogDiff()
    live_dbs = {d.name: d for d in live.databases}
    declared = {d.name for d in tenant.databases.value}
    create_dbs: list[DatabaseSpec] = []
    owners: list[OwnerChange] = []
    for spec in tenant.databases.value:
        found = live_dbs.get(spec.name)
        if found is None:
            create_dbs.append(spec)
        elif found.owner != spec.owner:
            owners.append(OwnerChange(spec.name, found.owner, spec.owner))
    diff = CatalogDiff(create_databases=tuple(create_dbs), change_owners=tuple(owners))
    extra = tuple(live_dbs[n] for n in sorted(live_dbs) if n not in declared)
    names = ", ".join(d.name for d in extra)
    if extra and not policy.prune_databases:
        warning = (
            f"{tenant.name}: database(s) {names} are not declared and are kept "
            "(policy.prune_databases deletes them, with their data)"
        )
        return replace(diff, warnings=(warning,))
    if extra and tenant.lifecycle.prevent_destroy:
        blocker = (
            f"deleting database(s) {names} would destroy their data, and "
            "lifecycle.prevent_destroy is set; declare them or lift prevent_destroy"
        )
        return replace(diff, blockers=(blocker,))
    return replace(diff, delete_databases=extra)


def _owners_after(live: LiveCatalog, databases: CatalogDiff) -> set[str]:
    """The roles that own a database once ``databases`` is applied."""
    deleted = {d.name for d in databases.delete_databases}
    new_owner = {c.name: c.new for c in databases.change_owners}
    owners = {new_owner.get(d.name, d.owner) for d in live.databases if d.name not in deleted}
    return owners | {d.owner for d in databases.create_databases}


@dataclass(frozen=True)
class AuthDiff:
    """Turn Neon Auth on (``enable``) or off (``disable``), or why not (``blocker``)."""

    enable: AuthSpec | None = None
    disable: str | None = None  # the live auth database
    blocker: str = ""


def diff_auth(tenant: DesiredTenant, live_database: str | None, policy: Policy) -> AuthDiff:
    """Compare the declared ``auth`` with the default branch's (``live_database``: None = off)."""
    wanted = tenant.auth.value if tenant.auth is not None else None
    if wanted is None and live_database is None:
        return AuthDiff()
    if wanted is not None and live_database is None:
        return AuthDiff(enable=wanted)
    if wanted is None:
        if not policy.allow_auth_removal:
            return AuthDiff(
                blocker="Neon Auth is enabled but no longer declared; turning it off stops "
                "the app's sign-ins (set policy.allow_auth_removal to allow it)"
            )
        return AuthDiff(disable=live_database)
    if wanted.database != live_database:
        return AuthDiff(
            blocker=f"Neon Auth keeps its data in database {live_database!r}, and the manifests "
            f"ask for {wanted.database!r}: neon-fleet does not move it; declare "
            f"{live_database!r} or turn auth off first"
        )
    return AuthDiff()


def secret_shape(
    tenant: str,
    spec: ConnectionSecretSpec,
    *,
    project_id: str,
    org_id: str,
    branch_id: str,
    endpoint_id: str,
) -> dict[str, Any]:
    """The non-secret description of a connection secret, as it would be delivered now."""
    return {
        "tenant": tenant,
        "name": spec.name,
        "project_id": project_id,
        "org_id": org_id,
        "branch": spec.branch,
        "branch_id": branch_id,
        "endpoint_id": endpoint_id,
        "role": spec.role,
        "database": spec.database,
        "pooled": spec.pooled,
    }


def shape_fingerprint(shape: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of a shape's canonical JSON (what the ledger records)."""
    return "sha256:" + hashlib.sha256(_ENCODE(dict(shape)).encode()).hexdigest()
