"""Drift items of the default branch's catalog: roles, databases, Neon Auth, computes, secrets.

The access family's part of the drift layer's action registry (``drift_items._items_of_step``
hands every payload of this family here): a step that creates says "missing", one that removes
says "undeclared", an owner change is a changed field, and a secret delivery says the delivered
one is outdated.
"""

from __future__ import annotations

from typing import Any, assert_never

from reconciler.core.drift_model import DriftItem, DriftKind, changed_item
from reconciler.core.payloads.access import AccessPayload
from reconciler.core.plan import Step
from reconciler.core.plan_payloads import (
    CreateDatabase,
    CreateEndpoint,
    CreateRole,
    DeleteDatabase,
    DeleteRole,
    DeliverConnectionSecret,
    DisableAuth,
    EnableAuth,
    ResetRolePassword,
    UpdateDatabase,
)


def access_items(step: Step, payload: AccessPayload) -> list[DriftItem]:
    """What one step of the access family says about drift."""
    match payload:
        case UpdateDatabase():
            path = f"databases.{payload.name}.owner"
            origin = step.changes[0].origin if step.changes else ""
            return [changed_item(step.tenant, path, payload.old_owner, payload.owner, origin)]
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


def _access_item(
    step: Step,
    payload: CreateRole
    | DeleteRole
    | CreateDatabase
    | DeleteDatabase
    | EnableAuth
    | DisableAuth
    | CreateEndpoint
    | DeliverConnectionSecret,
) -> DriftItem:
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
