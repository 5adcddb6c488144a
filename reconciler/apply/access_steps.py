"""Step handlers for the default branch's roles and databases, Neon Auth and branch computes.

Each handler takes the apply context and the typed values of its step, calls Neon, waits for the
operations and returns the ids it touched (never a secret). Creates are safe to run twice: a
409 ("already exists") after a lost answer is read back and counts as done when the object is
there as declared. Deletes of what is already gone are done (Neon answers 204).

Neon Auth's keys are shown only in the answer that enables it, so enabling needs a secret sink
and hands them to it at once (``AuthKeys``); the ledger then records the delivery's
fingerprints (``DeliveryStore``), never the keys.
"""

from __future__ import annotations

from typing import Any

from reconciler.apply.context import ApplyContext, Handler, ProjectTarget, payload_of
from reconciler.apply.executor import ItemFailed
from reconciler.apply.secret_steps import default_branch_id, record_delivery
from reconciler.apply.secrets import AuthKeys
from reconciler.core.catalog import AUTH_SECRET, BranchCompute
from reconciler.core.plan import Action, Step
from reconciler.core.plan_payloads import (
    CreateDatabase,
    CreateEndpoint,
    CreateRole,
    DeleteDatabase,
    DeleteRole,
    DisableAuth,
    EnableAuth,
    UpdateDatabase,
)
from reconciler.errors import ApiError, SecretSinkError

_CONFLICT = 409


def _wait(ctx: ApplyContext, target: ProjectTarget, operations: Any) -> None:
    ctx.client.wait_for_operations(
        target.key, target.project_id, operations, timeout=ctx.operation_timeout
    )


def _ids(target: ProjectTarget, branch_id: str, **more: Any) -> dict[str, Any]:
    return {"project_id": target.project_id, "branch_id": branch_id, **more}


def create_role(ctx: ApplyContext, tenant: str, name: str) -> dict[str, Any]:
    target = ctx.target(tenant)
    branch_id = default_branch_id(ctx, target)
    try:
        _, operations = ctx.client.create_role(target.key, target.project_id, branch_id, name=name)
    except ApiError as exc:
        if exc.status != _CONFLICT:
            raise
        listed = ctx.client.list_roles(target.key, target.project_id, branch_id)
        if name not in {r.name for r in listed}:
            raise
        operations = []
    _wait(ctx, target, operations)
    return _ids(target, branch_id, role=name)


def delete_role(ctx: ApplyContext, tenant: str, name: str) -> dict[str, Any]:
    target = ctx.target(tenant)
    branch_id = default_branch_id(ctx, target)
    _wait(ctx, target, ctx.client.delete_role(target.key, target.project_id, branch_id, name))
    return _ids(target, branch_id, role=name)


def create_database(ctx: ApplyContext, tenant: str, name: str, owner: str) -> dict[str, Any]:
    target = ctx.target(tenant)
    branch_id = default_branch_id(ctx, target)
    try:
        _, operations = ctx.client.create_database(
            target.key, target.project_id, branch_id, name=name, owner_name=owner
        )
    except ApiError as exc:
        if exc.status != _CONFLICT:
            raise
        listed = ctx.client.list_databases(target.key, target.project_id, branch_id)
        if (name, owner) not in {(d.name, d.owner_name) for d in listed}:
            raise
        operations = []
    _wait(ctx, target, operations)
    return _ids(target, branch_id, database=name)


def update_database_owner(ctx: ApplyContext, tenant: str, name: str, owner: str) -> dict[str, Any]:
    target = ctx.target(tenant)
    branch_id = default_branch_id(ctx, target)
    _, operations = ctx.client.update_database(
        target.key, target.project_id, branch_id, name, owner_name=owner
    )
    _wait(ctx, target, operations)
    return _ids(target, branch_id, database=name)


def delete_database(ctx: ApplyContext, tenant: str, name: str) -> dict[str, Any]:
    target = ctx.target(tenant)
    branch_id = default_branch_id(ctx, target)
    operations = ctx.client.delete_database(target.key, target.project_id, branch_id, name)
    _wait(ctx, target, operations)
    return _ids(target, branch_id, database=name)


def enable_auth(ctx: ApplyContext, tenant: str, provider: str, database: str) -> dict[str, Any]:
    if ctx.sink is None:
        raise ItemFailed(
            "no secret sink is configured (spec.secrets in the Fleet manifest): Neon Auth's "
            "keys are shown once and would be lost, so it is not enabled"
        )
    target = ctx.target(tenant)
    branch_id = default_branch_id(ctx, target)
    try:
        enabled = ctx.client.enable_neon_auth(
            target.key, target.project_id, branch_id, provider=provider, database_name=database
        )
    except ApiError as exc:
        if exc.status != _CONFLICT:
            raise
        raise ItemFailed(
            f"Neon Auth is already enabled on {branch_id}, and neon-fleet did not receive its "
            "keys; turn it off in the Neon console (or with policy.allow_auth_removal and a "
            "plan without auth) and apply again"
        ) from exc
    keys = AuthKeys(
        tenant=tenant,
        project_id=target.project_id,
        branch_id=branch_id,
        database=database,
        base_url=enabled.base_url,
        jwks_url=enabled.jwks_url,
        pub_client_key=enabled.pub_client_key,
        secret_server_key=enabled.secret_server_key,
    )
    try:
        ctx.sink.deliver(keys)
    except SecretSinkError as exc:
        raise ItemFailed(f"{exc}; Neon Auth stays enabled, and its keys were not kept") from exc
    shape = {"tenant": tenant, "project_id": target.project_id, "branch_id": branch_id}
    record_delivery(ctx, keys, "neon_auth", {**shape, "database": database})
    return _ids(target, branch_id, database=database)


def disable_auth(ctx: ApplyContext, tenant: str) -> dict[str, Any]:
    target = ctx.target(tenant)
    branch_id = default_branch_id(ctx, target)
    ctx.client.disable_neon_auth(target.key, target.project_id, branch_id)
    ctx.ledger.deliveries.forget(tenant, [AUTH_SECRET])
    return _ids(target, branch_id)


def create_branch_compute(
    ctx: ApplyContext, tenant: str, branch: str, compute: BranchCompute
) -> dict[str, Any]:
    """Give a declared branch its read-write compute (the branch exists by now)."""
    target = ctx.target(tenant)
    binding = target.binding
    if branch not in binding.branch_ids:
        for listed in ctx.client.list_branches(target.key, target.project_id):
            binding.branch_ids.setdefault(listed.name, listed.id)
    branch_id = binding.branch_ids.get(branch)
    if branch_id is None:
        raise ItemFailed(f"branch {branch!r} does not exist")
    existing = [
        e
        for e in ctx.client.list_endpoints(target.key, target.project_id)
        if e.branch_id == branch_id and e.type == "read_write"
    ]
    if existing:  # a create whose answer was lost: the compute is there
        return _ids(target, branch_id, endpoint_id=existing[0].id)
    endpoint, operations = ctx.client.create_endpoint(
        target.key,
        target.project_id,
        branch_id,
        min_cu=compute.min_cu,
        max_cu=compute.max_cu,
        suspend_timeout_seconds=compute.suspend_timeout,
    )
    _wait(ctx, target, operations)
    return _ids(target, branch_id, endpoint_id=endpoint.id)


# ----------------------------------------------------------------------------- step handlers


def _create_role(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    return create_role(ctx, str(step.tenant), payload_of(step, CreateRole).name)


def _delete_role(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    return delete_role(ctx, str(step.tenant), payload_of(step, DeleteRole).name)


def _create_database(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, CreateDatabase)
    return create_database(ctx, str(step.tenant), payload.name, payload.owner)


def _update_database(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, UpdateDatabase)
    return update_database_owner(ctx, str(step.tenant), payload.name, payload.owner)


def _delete_database(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    return delete_database(ctx, str(step.tenant), payload_of(step, DeleteDatabase).name)


def _enable_auth(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, EnableAuth)
    return enable_auth(ctx, str(step.tenant), payload.provider, payload.database)


def _disable_auth(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload_of(step, DisableAuth)
    return disable_auth(ctx, str(step.tenant))


def _create_endpoint(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, CreateEndpoint)
    compute = BranchCompute(payload.min_cu, payload.max_cu, payload.suspend_timeout)
    return create_branch_compute(ctx, str(step.tenant), payload.branch, compute)


HANDLERS: dict[Action, Handler] = {
    Action.CREATE_ROLE: _create_role,
    Action.DELETE_ROLE: _delete_role,
    Action.CREATE_DATABASE: _create_database,
    Action.UPDATE_DATABASE: _update_database,
    Action.DELETE_DATABASE: _delete_database,
    Action.ENABLE_AUTH: _enable_auth,
    Action.DISABLE_AUTH: _disable_auth,
    Action.CREATE_ENDPOINT: _create_endpoint,
}
