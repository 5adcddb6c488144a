"""Observe a default branch's databases, roles and Neon Auth (the second round of ``observe``).

Read only for tenants that declare ``databases``, ``roles``, ``connection_secrets`` or ``auth``
(or had secrets delivered): ``GET …/databases`` and ``GET …/roles`` of the default branch, plus
``GET …/auth`` where auth is declared or was delivered. Role passwords are never read here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from reconciler.core.catalog import LiveCatalog, LiveDatabase, LiveRole
from reconciler.core.model import LiveProject
from reconciler.credentials import Credentials
from reconciler.neon import Database, NeonClient, Role

#: Runs the jobs of every lane (an org) concurrently, interleaved: ``observe``'s machinery.
Runner = Callable[
    [Mapping[str, list[tuple[str, str, str]]], Callable[[tuple[str, str, str]], Any]],
    dict[tuple[str, str, str], Any],
]


def read_catalogs(
    client: NeonClient,
    credentials: Credentials,
    projects: Mapping[str, LiveProject],
    catalog_ids: Collection[str],
    auth_ids: Collection[str],
    run: Runner,
) -> dict[str, LiveCatalog]:
    """Databases, roles (and Neon Auth of ``auth_ids``) of each project's default branch.

    The default branch comes from the branch list read before, so this is observe's second
    round; a project whose branches were not read is skipped (its catalog stays unobserved).
    """
    lanes: dict[str, list[tuple[str, str, str]]] = {}
    for pid in sorted(catalog_ids):
        project = projects.get(pid)
        default = _default_branch(project)
        if project is None or default is None:
            continue
        kinds = ("databases", "roles", "auth") if pid in auth_ids else ("databases", "roles")
        lanes.setdefault(project.org_id, []).extend((kind, pid, default) for kind in kinds)

    def read(job: tuple[str, str, str]) -> Any:
        kind, pid, branch_id = job
        key = credentials.org_key(projects[pid].org_id)
        if kind == "databases":
            return client.list_databases(key, pid, branch_id)
        if kind == "roles":
            return client.list_roles(key, pid, branch_id)
        return client.get_neon_auth(key, pid, branch_id)

    results = run(lanes, read)
    catalogs: dict[str, LiveCatalog] = {}
    for (kind, pid, branch_id), found in sorted(results.items(), key=lambda r: r[0][1]):
        if kind != "databases":
            continue
        auth_job = ("auth", pid, branch_id)
        auth = results.get(auth_job)
        catalogs[pid] = catalog_from_wire(
            branch_id,
            found,
            results[("roles", pid, branch_id)],
            auth.db_name if auth else None,
            auth_observed=auth_job in results,
        )
    return catalogs


def _default_branch(project: LiveProject | None) -> str | None:
    if project is None or project.branches is None:
        return None
    return next((b.id for b in project.branches if b.default), None)


def catalog_from_wire(
    branch_id: str,
    databases: Iterable[Database],
    roles: Iterable[Role],
    auth_database: str | None,
    *,
    auth_observed: bool,
) -> LiveCatalog:
    return LiveCatalog(
        branch_id=branch_id,
        databases=tuple(LiveDatabase(d.name, d.owner_name) for d in databases),
        roles=tuple(LiveRole(r.name, r.protected) for r in roles),
        auth_database=auth_database,
        auth_observed=auth_observed,
    )
