"""Shared pieces of the plan renderers: symbols, labels, value formatting, grouping, counts."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from reconciler.core.json_text import sorted_encoder
from reconciler.core.plan import Action, Plan, Step
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
    check_complete,
)


@dataclass(frozen=True)
class ActionStyle:
    """How renderers show an action: its symbol (after ``terraform plan``) and summary group."""

    symbol: str
    group: str


#: The render layer's action registry: every action's symbol and group (``step_label`` says
#: what a step acts on). Completeness is checked at import; see CONTRIBUTING.md.
STYLES: dict[Action, ActionStyle] = {
    Action.CREATE_PROJECT: ActionStyle("+", "create"),
    Action.CREATE_BRANCH: ActionStyle("+", "create"),
    Action.CREATE_API_KEY: ActionStyle("+", "create"),
    Action.ADOPT_PROJECT: ActionStyle("~", "adopt"),
    Action.UPDATE_PROJECT: ActionStyle("~", "update"),
    Action.UPDATE_ENDPOINT: ActionStyle("~", "update"),
    Action.UPDATE_BRANCH: ActionStyle("~", "update"),
    Action.TRANSFER_PROJECTS: ActionStyle("»", "transfer"),
    Action.DELETE_PROJECT: ActionStyle("-", "delete"),
    Action.DELETE_BRANCH: ActionStyle("-", "delete"),
    Action.REVOKE_API_KEY: ActionStyle("-", "delete"),
    Action.CREATE_ROLE: ActionStyle("+", "create"),
    Action.CREATE_DATABASE: ActionStyle("+", "create"),
    Action.CREATE_ENDPOINT: ActionStyle("+", "create"),
    Action.ENABLE_AUTH: ActionStyle("+", "create"),
    Action.UPDATE_DATABASE: ActionStyle("~", "update"),
    Action.RESET_ROLE_PASSWORD: ActionStyle("~", "update"),
    Action.DELIVER_CONNECTION_SECRET: ActionStyle("~", "update"),
    Action.DELETE_ROLE: ActionStyle("-", "delete"),
    Action.DELETE_DATABASE: ActionStyle("-", "delete"),
    Action.DISABLE_AUTH: ActionStyle("-", "delete"),
}
check_complete(STYLES, "render.common.STYLES")

#: The summary line's groups, in order.
GROUPS = ("create", "adopt", "update", "transfer", "delete")
SYMBOLS: dict[Action, str] = {action: style.symbol for action, style in STYLES.items()}
BLOCKER_SYMBOL = "!"
LEGEND = "+ create   ~ update/adopt   » transfer   - delete/revoke   ! blocker"


#: ``json.dumps(raw, ensure_ascii=False, sort_keys=True)``, without building an encoder per call
#: (a plan of 10,000 tenants shows about 100,000 values).
_VALUE = sorted_encoder(separators=(", ", ": "), allow_nan=True)


def value(raw: Any) -> str:
    """A field value as JSON text (strings quoted, ``null`` for none)."""
    return _VALUE(raw)


def step_label(step: Step) -> str:
    """What the step acts on, e.g. ``project cust-1`` or ``branch dev``."""
    payload = step.payload
    match payload:
        case CreateProject():
            return f"project {payload.name}"
        case AdoptProject():
            return f"project {payload.name} ({payload.project_id})"
        case DeleteProject():
            return f"project {payload.name or step.tenant} ({payload.project_id})"
        case UpdateProject():
            return f"project {payload.project_id}"
        case UpdateEndpoint():
            return f"endpoint {payload.endpoint_id} on branch {payload.branch_id}"
        case CreateBranch() | UpdateBranch():
            return f"branch {payload.name}"
        case DeleteBranch():
            return f"branch {payload.name} ({payload.branch_id})"
        case CreateApiKey():
            return f"api key {payload.key_name} in {payload.org_id}"
        case RevokeApiKey():
            return f"api key {payload.key_name} ({payload.key_id})"
        case TransferProjects():
            return (
                f"{len(payload.project_ids)} project(s) {payload.source_org_id} → "
                f"{payload.destination_org_id}"
            )
        case CreateRole() | DeleteRole():
            return f"role {payload.name}"
        case ResetRolePassword():
            return f"password of role {payload.role}"
        case CreateDatabase() | UpdateDatabase() | DeleteDatabase():
            return f"database {payload.name}"
        case EnableAuth() | DisableAuth():
            return f"Neon Auth on database {payload.database}"
        case CreateEndpoint():
            return f"read-write compute of branch {payload.branch}"
        case DeliverConnectionSecret():
            kind = "pooled" if payload.pooled else "direct"
            return f"connection secret {payload.name} ({kind}, {payload.role}@{payload.database})"
        case _:
            assert_never(payload)


def by_tenant(plan: Plan) -> tuple[list[Step], dict[str, list[Step]]]:
    """(batch steps without a tenant, tenant → its steps), both in plan order, tenants sorted."""
    batches: list[Step] = []
    tenants: dict[str, list[Step]] = {}
    for step in plan.steps:
        if step.tenant is None:
            batches.append(step)
        else:
            tenants.setdefault(step.tenant, []).append(step)
    for blocker in plan.blockers:
        tenants.setdefault(blocker.tenant, [])
    return batches, {name: tenants[name] for name in sorted(tenants)}


def grouped_counts(plan: Plan) -> dict[str, int]:
    """Step counts per group: create, adopt, update, transfer, delete."""
    counts = dict.fromkeys(GROUPS, 0)
    for step in plan.steps:
        counts[STYLES[step.action].group] += 1
    return counts


def summary_line(plan: Plan) -> str:
    """``Plan: 2 to create, 0 to adopt, ...; 1 blocker(s).`` or the no-change sentence."""
    if not plan.has_changes:
        return "No changes. The live fleet matches the manifests."
    counts = grouped_counts(plan)
    parts = ", ".join(f"{n} to {group}" for group, n in counts.items())
    return f"Plan: {parts}; {len(plan.blockers)} blocker(s)."


def blockers_of(plan: Plan, tenant: str) -> Sequence[str]:
    """The blocker messages of ``tenant``.

    Renderers ask once per tenant: the plan's blockers are grouped once per plan (the last
    plan's grouping is kept), not scanned per tenant, which was quadratic on a fleet whose
    tenants are all blocked (an org that could not be listed).
    """
    global _grouped
    grouped = _grouped  # one read: another thread may render another plan meanwhile
    if grouped is None or grouped[0]() is not plan:
        groups: dict[str, list[str]] = {}
        for blocker in plan.blockers:
            groups.setdefault(blocker.tenant, []).append(blocker.message)
        grouped = _grouped = (weakref.ref(plan), groups)
    return list(grouped[1].get(tenant, ()))


#: (plan, tenant → its blocker messages) of the plan ``blockers_of`` last grouped; the plan is
#: held weakly, so a rendered plan is not kept alive by this cache.
_grouped: tuple[weakref.ref[Plan], dict[str, list[str]]] | None = None
