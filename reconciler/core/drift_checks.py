"""Drift the planner does not plan: the read-only checks ``fleet drift`` adds to a plan's items.

Projects in a managed org that no tenant matches, API keys that stopped working or that carry
the fleet's naming prefix without being declared, ``<name> (old)`` branches left by restores, and
branches whose ``expires_at`` is already past. Pure: no I/O, the clock is a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from reconciler.core.context import parse_instant
from reconciler.core.drift_model import DriftItem, DriftKind, undeclared_key_item
from reconciler.core.matching import match_tenants
from reconciler.core.model import DesiredFleet, LedgerView, LiveFleet, LiveProject
from reconciler.core.naming import API_KEY_SEPARATOR, api_key_name, api_key_prefix, is_old_branch


def matched_projects(
    desired: DesiredFleet, live: LiveFleet, ledger: LedgerView
) -> dict[str, LiveProject]:
    """Tenant → its live project, for declared and ledger-owned tenants (planner matching)."""
    matched: dict[str, LiveProject] = {}
    names = sorted(set(desired.tenants) | set(ledger.tenants))
    for name, match in match_tenants(desired, live, ledger, names).items():
        for project in match.candidates if match.ambiguous else (match.project,):
            if project is not None:
                matched.setdefault(name, project)
    return matched


def extra_items(
    desired: DesiredFleet, live: LiveFleet, ledger: LedgerView, now: datetime
) -> list[DriftItem]:
    matched = matched_projects(desired, live, ledger)
    items = _unmanaged(desired, live, claimed_project_ids(desired, live, ledger))
    items += _broken_keys(live, ledger)
    items += _undeclared_keys(desired, live, matched)
    for tenant, project in sorted(matched.items()):
        items += _branch_items(tenant, project, now)
    return items


def claimed_project_ids(desired: DesiredFleet, live: LiveFleet, ledger: LedgerView) -> set[str]:
    """Every live project a tenant claims: by ledger record, binding or templated name.

    Ambiguous name matches count as claimed too (the planner reports them as blockers).
    """
    names = {t.project_name for t in desired.tenants.values()}
    claimed = {p.id for p in live.projects.values() if p.name in names}
    claimed |= {t.project_id for t in desired.tenants.values() if t.project_id}
    claimed |= {r.project_id for r in ledger.tenants.values()}
    return claimed


def _unmanaged(desired: DesiredFleet, live: LiveFleet, claimed: set[str]) -> list[DriftItem]:
    managed = {org.id: alias for alias, org in desired.fleet.orgs.items()}
    return [
        DriftItem(
            DriftKind.UNMANAGED_PROJECT,
            None,
            f"projects.{project.name}",
            live={"id": project.id, "name": project.name, "org_id": project.org_id},
            message=(
                f"project in the managed org {managed[project.org_id]} that no tenant describes"
                " (fleet import adopts it)"
            ),
            resource=project.id,
        )
        for project in sorted(live.projects.values(), key=lambda p: p.id)
        if project.org_id in managed and project.id not in claimed
    ]


def _broken_keys(live: LiveFleet, ledger: LedgerView) -> list[DriftItem]:
    """Recorded keys whose project is no longer in the key's org: Neon disabled them."""
    items: list[DriftItem] = []
    for tenant, record in sorted(ledger.tenants.items()):
        for name, owned in sorted(record.keys.items()):
            project = live.projects.get(owned.project_id)
            if project is not None and project.org_id == owned.org_id:
                continue
            where = (
                f"project {owned.project_id} moved to {project.org_id}"
                if project is not None
                else f"project {owned.project_id} no longer exists"
            )
            short = name.split(API_KEY_SEPARATOR, 1)[-1]
            items.append(
                DriftItem(
                    DriftKind.BROKEN_KEY,
                    tenant,
                    f"api_keys.{short}",
                    live={"key_id": owned.key_id, "org_id": owned.org_id},
                    message=f"no longer works: {where}, project-scoped keys stop working",
                    resource=str(owned.key_id),
                )
            )
    return items


def _undeclared_keys(
    desired: DesiredFleet, live: LiveFleet, matched: Mapping[str, LiveProject]
) -> list[DriftItem]:
    """Observed keys with a tenant's naming prefix that its manifest does not declare."""
    items: list[DriftItem] = []
    for tenant_name, project in sorted(matched.items()):
        tenant = desired.tenants.get(tenant_name)
        keys = live.api_keys.get(project.org_id)
        if tenant is None or keys is None:
            continue
        prefix = api_key_prefix(tenant.project_name)
        wanted = {api_key_name(tenant.project_name, k.name) for k in tenant.api_keys}
        for key in sorted(keys, key=lambda k: k.id):
            owned = key.project_id == project.id and key.name.startswith(prefix)
            if owned and key.name not in wanted:
                items.append(undeclared_key_item(tenant_name, key.name, key.id))
    return items


def _branch_items(tenant: str, project: LiveProject, now: datetime) -> list[DriftItem]:
    items: list[DriftItem] = []
    for branch in sorted(project.branches or (), key=lambda b: (b.name, b.id)):
        if is_old_branch(branch.name):
            items.append(
                DriftItem(
                    DriftKind.OLD_BRANCH,
                    tenant,
                    f"branches.{branch.name}",
                    live={"id": branch.id, "created_at": branch.created_at},
                    message="left behind by a snapshot restore",
                    resource=branch.id,
                )
            )
        elif branch.expires_at and _is_past(branch.expires_at, now):
            items.append(
                DriftItem(
                    DriftKind.EXPIRED_BRANCH,
                    tenant,
                    f"branches.{branch.name}",
                    live={"id": branch.id, "expires_at": branch.expires_at},
                    message="expired but still present",
                    resource=branch.id,
                )
            )
    return items


def _is_past(moment: str, now: datetime) -> bool:
    try:
        return parse_instant(moment) < now
    except ValueError:
        return False
