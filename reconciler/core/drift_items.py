"""Drift items: what ``fleet drift`` reports, derived from a plan and a full live snapshot.

Pure: no I/O. ``derive_items`` turns the planner's steps and blockers into items (one per changed
field, missing resource or blocker), then adds what the planner does not plan but a platform team
wants to know (``core.drift_checks``). ``_items_of_step`` is the drift layer's action registry;
the access family's actions have their cases in ``core.drift_access``. The item itself,
``DriftItem``, is in ``core.drift_model``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from reconciler.core.drift_access import access_items
from reconciler.core.drift_checks import extra_items
from reconciler.core.drift_model import DriftItem, DriftKind, changed_item, undeclared_key_item
from reconciler.core.model import DesiredFleet, LedgerView, LiveFleet
from reconciler.core.naming import is_old_branch
from reconciler.core.plan import Action, FieldChange, Plan, Step
from reconciler.core.plan_payloads import (
    AdoptProject,
    CreateApiKey,
    CreateBranch,
    CreateProject,
    DeleteBranch,
    DeleteProject,
    RevokeApiKey,
    TransferProjects,
    UpdateBranch,
    UpdateEndpoint,
    UpdateProject,
)


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
    add(extra_items(desired, live, ledger, now))
    return sorted(found.values(), key=DriftItem.sort_key)


def _blocker_item(tenant: str, message: str) -> DriftItem:
    # Blocker texts are stable for a given cause; a short digest keeps the id readable.
    digest = hashlib.sha256(message.encode()).hexdigest()[:10]
    return DriftItem(DriftKind.BLOCKER, tenant, "blocker", message=message, resource=digest)


def _items_of_step(step: Step, transfer_ids: set[str]) -> list[DriftItem]:
    """The drift layer's action registry: what each planned action says about drift.

    Every payload outside the access family has its case here; the rest go to ``access_items``,
    whose parameter type (``AccessPayload``) makes mypy refuse an action that neither handles,
    and whose ``assert_never`` refuses an access action without its case.
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
            return [changed_item(tenant, c.path, c.old, c.new, c.origin) for c in step.changes]
        case UpdateEndpoint():
            endpoint = payload.endpoint_id
            return [
                changed_item(tenant, f"compute.{c.path}", c.old, c.new, c.origin, endpoint)
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
            undeclared = undeclared_key_item(tenant, payload.key_name, payload.key_id)
            return [] if rekeyed else [undeclared]
        case _:
            # Every other payload is of the access family: mypy checks it is an AccessPayload.
            return access_items(step, payload)


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
