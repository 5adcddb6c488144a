"""Drift items: what ``fleet drift`` reports, derived from a plan and a full live snapshot.

Pure: no I/O. ``derive_items`` turns the planner's steps and blockers into items (one per changed
field, missing resource or blocker), then adds what the planner does not plan but a platform team
wants to know: projects in a managed org that no tenant matches, API keys that stopped working or
that carry the fleet's naming prefix without being declared, ``<name> (old)`` branches left by
restores, and branches whose ``expires_at`` is already past.

Every item has a stable identity, ``<tenant>/<kind>/<path>[/<resource>]`` (``-`` for items of no
tenant), so the ledger can say since when it has drifted. Paths use the manifests' field paths
(``quota.written_data_bytes``, ``compute.autoscaling_limit_max_cu``, ``branches.dev``,
``api_keys.runtime``), the same ones ``lifecycle.ignore_changes`` and ``.fleetignore`` speak.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, assert_never

from reconciler.core.context import parse_instant
from reconciler.core.matching import match_tenants
from reconciler.core.model import (
    DesiredFleet,
    LedgerView,
    LiveFleet,
    LiveProject,
)
from reconciler.core.naming import API_KEY_SEPARATOR, api_key_name, api_key_prefix, is_old_branch
from reconciler.core.plan import Action, FieldChange, Plan, Step
from reconciler.core.plan_payloads import (
    AdoptProject,
    CreateApiKey,
    CreateBranch,
    CreateDatabase,
    CreateEndpoint,
    CreateProject,
    CreateRole,
    DeleteBranch,
    DeleteDatabase,
    DeleteProject,
    DeleteRole,
    DeliverConnectionSecret,
    DisableAuth,
    EnableAuth,
    ResetRolePassword,
    RevokeApiKey,
    TransferProjects,
    UpdateBranch,
    UpdateDatabase,
    UpdateEndpoint,
    UpdateProject,
)


class DriftKind(enum.StrEnum):
    """What kind of drift an item is. The values are the report's ``kind`` strings."""

    CHANGED = "changed"
    MISSING_PROJECT = "missing_project"
    WRONG_ORG = "wrong_org"
    UNRECORDED_PROJECT = "unrecorded_project"
    REMOVED_TENANT = "removed_tenant"
    MISSING_BRANCH = "missing_branch"
    UNDECLARED_BRANCH = "undeclared_branch"
    OLD_BRANCH = "old_branch"
    EXPIRED_BRANCH = "expired_branch"
    MISSING_KEY = "missing_key"
    UNDECLARED_KEY = "undeclared_key"
    BROKEN_KEY = "broken_key"
    MISSING_ROLE = "missing_role"
    UNDECLARED_ROLE = "undeclared_role"
    MISSING_DATABASE = "missing_database"
    UNDECLARED_DATABASE = "undeclared_database"
    MISSING_AUTH = "missing_auth"
    UNDECLARED_AUTH = "undeclared_auth"
    MISSING_COMPUTE = "missing_compute"
    OUTDATED_DELIVERY = "outdated_delivery"
    UNMANAGED_PROJECT = "unmanaged_project"
    BLOCKER = "blocker"


#: Report order of kinds within a tenant.
KIND_ORDER: dict[DriftKind, int] = {kind: index for index, kind in enumerate(DriftKind)}

#: Plan field path prefixes → manifest field paths (what users write in ``.fleetignore``).
_COMPUTE_PREFIX = ("default_endpoint_settings.", "compute.")


@dataclass(frozen=True)
class DriftItem:
    """One thing that differs between the manifests and the live fleet.

    ``live`` and ``desired`` are plain JSON values (never secrets); ``origin`` says where the
    desired value came from (``tier free``, ``tenant cust-1``); ``resource`` names the live
    object when a path alone is ambiguous (an endpoint id, a key id, a project id).
    """

    kind: DriftKind
    tenant: str | None
    path: str
    live: Any = None
    desired: Any = None
    origin: str = ""
    message: str = ""
    resource: str = ""

    @property
    def id(self) -> str:
        """The stable identity of the item across reports."""
        parts = [self.tenant or "-", self.kind.value, self.path]
        if self.resource:
            parts.append(self.resource)
        return "/".join(parts)

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.tenant or "", KIND_ORDER[self.kind], self.path, self.resource)


def manifest_path(plan_path: str) -> str:
    """A plan change path as manifests write it: ``default_endpoint_settings.x`` → ``compute.x``."""
    if plan_path == "name":
        return "project_name"
    old, new = _COMPUTE_PREFIX
    return new + plan_path[len(old) :] if plan_path.startswith(old) else plan_path


def derive_items(
    plan: Plan, desired: DesiredFleet, live: LiveFleet, ledger: LedgerView, now: datetime
) -> list[DriftItem]:
    """Every drift item of ``plan`` plus the read-only extra checks, deduplicated and sorted."""
    transfer_ids = {s.id for s in plan.steps if s.action is Action.TRANSFER_PROJECTS}
    create_ids = {s.id for s in plan.steps if s.action is Action.CREATE_PROJECT}
    found: dict[str, DriftItem] = {}

    def add(items: Iterable[DriftItem]) -> None:
        for item in items:
            found.setdefault(item.id, item)

    for step in plan.steps:
        if create_ids.intersection(step.depends_on):
            continue  # branches and keys of a missing project: its missing_project item says it
        add(_items_of_step(step, transfer_ids))
    for blocker in plan.blockers:
        add([_blocker_item(blocker.tenant, blocker.message)])
    add(_extra_items(desired, live, ledger, now))
    return sorted(found.values(), key=DriftItem.sort_key)


def _blocker_item(tenant: str, message: str) -> DriftItem:
    # Blocker texts are stable for a given cause; a short digest keeps the id readable.
    digest = hashlib.sha256(message.encode()).hexdigest()[:10]
    return DriftItem(DriftKind.BLOCKER, tenant, "blocker", message=message, resource=digest)


def _items_of_step(step: Step, transfer_ids: set[str]) -> list[DriftItem]:
    """The drift layer's action registry: what each planned action says about drift.

    Every payload type has its case; ``assert_never`` makes mypy refuse a new action without one.
    """
    tenant, payload = step.tenant, step.payload
    # Keys re-issued because of a transfer: the wrong_org item says why.
    rekeyed = bool(transfer_ids.intersection(step.depends_on))
    match payload:
        case TransferProjects():
            return [_wrong_org(change) for change in step.changes]
        case CreateProject():
            desired = {"name": payload.name, "org_id": payload.org_id}
            item = DriftItem(DriftKind.MISSING_PROJECT, tenant, "project", desired=desired)
            return [replace(item, origin="fleet project_name", message=step.reason)]
        case AdoptProject():
            kind = DriftKind.UNRECORDED_PROJECT
            return [_project_item(kind, step, payload.project_id, payload.name)]
        case DeleteProject():
            kind = DriftKind.REMOVED_TENANT
            return [_project_item(kind, step, payload.project_id, payload.name)]
        case UpdateProject() | UpdateBranch():
            return [_changed(tenant, c.path, c.old, c.new, c.origin) for c in step.changes]
        case UpdateEndpoint():
            endpoint = payload.endpoint_id
            return [
                _changed(tenant, f"compute.{c.path}", c.old, c.new, c.origin, endpoint)
                for c in step.changes
            ]
        case CreateBranch():
            parent = {"parent": payload.parent, "protected": payload.protected}
            return [_declared_missing(DriftKind.MISSING_BRANCH, step, payload.name, parent)]
        case DeleteBranch():
            if is_old_branch(payload.name):
                return []  # reported by the old-branch check, whatever its age
            return [_undeclared_branch(step, payload)]
        case CreateApiKey():
            named = {"key_name": payload.key_name}
            missing = _declared_missing(DriftKind.MISSING_KEY, step, payload.key, named)
            return [] if rekeyed else [missing]
        case RevokeApiKey():
            undeclared = _undeclared_key(tenant, payload.key_name, payload.key_id)
            return [] if rekeyed else [undeclared]
        case UpdateDatabase():
            path = f"databases.{payload.name}.owner"
            origin = step.changes[0].origin if step.changes else ""
            return [_changed(tenant, path, payload.old_owner, payload.owner, origin)]
        case ResetRolePassword():
            return []  # only rotation plans reset passwords: nothing drifted
        case (
            CreateRole()
            | DeleteRole()
            | CreateDatabase()
            | DeleteDatabase()
            | EnableAuth()
            | DisableAuth()
            | CreateEndpoint()
            | DeliverConnectionSecret()
        ):
            return [_access_item(step, payload)]
        case _:
            assert_never(payload)


#: The manifests' section of each resource kind a step can find missing.
_SECTIONS = {DriftKind.MISSING_BRANCH: "branches", DriftKind.MISSING_KEY: "api_keys"}


def _declared_missing(kind: DriftKind, step: Step, name: str, desired: dict[str, Any]) -> DriftItem:
    return DriftItem(
        kind,
        step.tenant,
        f"{_SECTIONS[kind]}.{name}",
        desired=desired,
        origin=f"tenant {step.tenant}",
        message="declared and missing",
    )


def _undeclared_branch(step: Step, payload: DeleteBranch) -> DriftItem:
    return DriftItem(
        DriftKind.UNDECLARED_BRANCH,
        step.tenant,
        f"branches.{payload.name}",
        live={"id": payload.branch_id},
        message=step.reason,
        resource=payload.branch_id,
    )


#: The payloads of a tenant's databases, roles, Neon Auth, branch computes and secrets that
#: say "missing" or "undeclared" (``_access_item``).
AccessPayload = (
    CreateRole
    | DeleteRole
    | CreateDatabase
    | DeleteDatabase
    | EnableAuth
    | DisableAuth
    | CreateEndpoint
    | DeliverConnectionSecret
)


def _access_item(step: Step, payload: AccessPayload) -> DriftItem:
    """The missing, undeclared or stale item of one access step."""
    tenant = step.tenant
    live: Any
    desired: Any
    match payload:
        case CreateRole():
            kind, live, desired = DriftKind.MISSING_ROLE, None, payload.name
            path = f"roles.{payload.name}"
        case DeleteRole():
            kind, live, desired = DriftKind.UNDECLARED_ROLE, payload.name, None
            path = f"roles.{payload.name}"
        case CreateDatabase():
            kind, live, desired = DriftKind.MISSING_DATABASE, None, {"owner": payload.owner}
            path = f"databases.{payload.name}"
        case DeleteDatabase():
            kind, live, desired = DriftKind.UNDECLARED_DATABASE, {"owner": payload.owner}, None
            path = f"databases.{payload.name}"
        case EnableAuth():
            kind, path, live = DriftKind.MISSING_AUTH, "auth", None
            desired = {"provider": payload.provider, "database": payload.database}
        case DisableAuth():
            kind, path, live, desired = DriftKind.UNDECLARED_AUTH, "auth", payload.database, None
        case CreateEndpoint():
            kind, live, desired = DriftKind.MISSING_COMPUTE, None, payload.after_json()
            path = f"branches.{payload.branch}.compute"
        case DeliverConnectionSecret():
            kind, live, desired = DriftKind.OUTDATED_DELIVERY, None, payload.after_json()
            path = f"connection_secrets.{payload.name}"
        case _:
            assert_never(payload)
    return DriftItem(kind, tenant, path, live=live, desired=desired, message=step.reason)


def _wrong_org(change: FieldChange) -> DriftItem:
    return DriftItem(
        DriftKind.WRONG_ORG,
        change.path.rsplit(".", 1)[0],
        "org",
        live=change.old,
        desired=change.new,
        origin=change.origin,
        message="the project is in another org than its tier's",
    )


def _project_item(kind: DriftKind, step: Step, project_id: str, name: str | None) -> DriftItem:
    live = {"id": project_id, "name": name}
    return DriftItem(
        kind, step.tenant, "project", live=live, message=step.reason, resource=project_id
    )


def _changed(
    tenant: str | None, path: str, live: Any, desired: Any, origin: str, resource: str = ""
) -> DriftItem:
    where = f" on endpoint {resource}" if resource else ""
    return DriftItem(
        DriftKind.CHANGED,
        tenant,
        manifest_path(path),
        live=live,
        desired=desired,
        origin=origin,
        message=f"changed outside neon-fleet{where}",
        resource=resource,
    )


def _undeclared_key(tenant: str | None, key_name: str, key_id: Any) -> DriftItem:
    short = key_name.split(API_KEY_SEPARATOR, 1)[-1]
    return DriftItem(
        DriftKind.UNDECLARED_KEY,
        tenant,
        f"api_keys.{short}",
        live={"key_name": key_name, "key_id": key_id},
        message="carries the fleet's key naming prefix but no manifest declares it",
        resource=str(key_id),
    )


# ----------------------------------------------------------------------------- extra checks


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


def _extra_items(
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
                items.append(_undeclared_key(tenant_name, key.name, key.id))
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
