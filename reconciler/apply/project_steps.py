"""Step handlers for projects: create, adopt, update, endpoint update, transfer, delete.

Each handler performs one plan step with the narrowest key (the org key of the org the project
is in; the personal key only for transfers), waits for the operations the call started, and
records the outcome in the ledger before returning. Creates are write-ahead: an intent is
recorded first, and a create whose answer is lost is never re-sent but read back by its
deterministic name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reconciler.apply.context import ApplyContext, Handler, payload_of
from reconciler.apply.executor import ItemFailed
from reconciler.apply.offboarding import (
    DELETE_INTENT,
    RECOVERY_WINDOW,
    finish_offboarding,
    outcome_unknown,
    project_is_gone,
)
from reconciler.apply.recovery import close_create_intents
from reconciler.core.plan import Action, Step
from reconciler.core.plan_payloads import (
    AdoptProject,
    CreateProject,
    DeleteProject,
    UpdateEndpoint,
    UpdateProject,
)
from reconciler.errors import ApiError, NotFound, OutcomeUnknown
from reconciler.ledger import IntentOutcome
from reconciler.neon import EndpointDefaults, Operation


def _compute(values: Mapping[str, Any] | None) -> EndpointDefaults | None:
    if not values:
        return None
    return EndpointDefaults(
        autoscaling_limit_min_cu=values.get("autoscaling_limit_min_cu"),
        autoscaling_limit_max_cu=values.get("autoscaling_limit_max_cu"),
        suspend_timeout_seconds=values.get("suspend_timeout_seconds"),
    )


def _wait(ctx: ApplyContext, key: str, project_id: str, operations: Any) -> None:
    ops: list[Operation] = list(operations)
    if ops:
        ctx.client.wait_for_operations(key, project_id, ops, timeout=ctx.operation_timeout)


def create_project(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, CreateProject)
    tenant = str(step.tenant)
    binding = ctx.binding(tenant)
    org_id, name = payload.org_id, payload.name
    key = ctx.credentials.org_key(org_id)
    intent = ctx.ledger.record_intent(tenant, "create_project", {"name": name, "org_id": org_id})
    try:
        created = ctx.client.create_project(
            key,
            name=name,
            org_id=org_id,
            region_id=payload.region_id,
            pg_version=payload.pg_version,
            quota=dict(payload.quota) or None,
            default_endpoint_settings=_compute(payload.compute),
            history_retention_seconds=payload.history_retention_seconds,
            hipaa=True if payload.hipaa else None,
        )
    except OutcomeUnknown:
        # The create may or may not have happened; Neon has no idempotency keys, so look for
        # the project by its deterministic name instead of sending the create again.
        found = ctx.client.find_projects_by_name(key, name, org_id=org_id)
        if len(found) != 1:
            ctx.ledger.resolve_intent(intent, IntentOutcome.ABANDONED)
            raise ItemFailed(
                f"the create of {name!r} got no answer and {len(found)} project(s) with that "
                "name exist now; run plan and apply again"
            ) from None
        project_id = found[0].id
        branch_ids: dict[str, str] = {}
    else:
        project_id = created.project.id
        branch_ids = {created.branch.name: created.branch.id} if created.branch else {}
        _wait(ctx, key, project_id, created.operations)
    binding.project_id, binding.org_id = project_id, org_id
    binding.branch_ids.update(branch_ids)
    ctx.record(
        tenant,
        lambda t: replace(
            t,
            project_id=project_id,
            org_id=org_id,
            branch_ids={**t.branch_ids, **branch_ids},
            prevent_destroy=binding.prevent_destroy,
        ),
    )
    ctx.ledger.resolve_intent(intent, IntentOutcome.DONE)
    return {"project_id": project_id}


def adopt_project(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, AdoptProject)
    tenant = str(step.tenant)
    binding = ctx.binding(tenant)
    binding.project_id, binding.org_id = payload.project_id, payload.org_id
    ctx.record(
        tenant,
        lambda t: replace(
            t,
            project_id=payload.project_id,
            org_id=payload.org_id,
            prevent_destroy=binding.prevent_destroy,
        ),
    )
    close_create_intents(ctx.ledger, tenant)
    if payload.handover_from:
        # The project moves to this tenant: the removed tenant's record goes, nothing is deleted.
        ctx.ledger.forget_tenant(
            payload.handover_from,
            note=f"project {payload.project_id} handed over to tenant {tenant}",
            recoverable_until=ctx.now(),
        )
    return {"project_id": payload.project_id}


def update_project(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    after = payload_of(step, UpdateProject).new
    target = ctx.target(step.tenant)
    project_id, key = target.project_id, target.key
    _, operations = ctx.client.update_project(
        key,
        project_id,
        name=after.get("name"),
        quota=after.get("quota"),
        default_endpoint_settings=_compute(after.get("default_endpoint_settings")),
        history_retention_seconds=after.get("history_retention_seconds"),
        hipaa=after.get("hipaa"),
    )
    _wait(ctx, key, project_id, operations)
    return {"project_id": project_id}


def update_endpoint(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, UpdateEndpoint)
    after = payload.new
    target = ctx.target(step.tenant)
    project_id, key = target.project_id, target.key
    endpoint_id = payload.endpoint_id
    _, operations = ctx.client.update_endpoint(
        key,
        project_id,
        endpoint_id,
        autoscaling_limit_min_cu=after.get("autoscaling_limit_min_cu"),
        autoscaling_limit_max_cu=after.get("autoscaling_limit_max_cu"),
        suspend_timeout_seconds=after.get("suspend_timeout_seconds"),
    )
    _wait(ctx, key, project_id, operations)
    return {"project_id": project_id, "endpoint_id": endpoint_id}


def delete_project(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    """Delete the project, then revoke what keys the record still lists, then forget it.

    The plan revokes the tenant's keys before this step; the record is dropped only once the
    project is gone (read back when the answer is lost) and no recorded key is left live. The
    intent recorded first lets recovery finish the offboarding if the run dies half-way.
    """
    payload = payload_of(step, DeleteProject)
    tenant = str(step.tenant)
    binding = ctx.binding(tenant)
    project_id = payload.project_id or ctx.project_id(tenant)
    org_id = payload.org_id or binding.org_id
    key = ctx.credentials.org_key(org_id)
    recoverable_until = ctx.now() + RECOVERY_WINDOW
    intent = ctx.ledger.record_intent(
        tenant, DELETE_INTENT, {"project_id": project_id, "org_id": org_id}
    )
    try:
        ctx.client.delete_project(key, project_id)
    except NotFound:
        pass  # already gone: deleting is the goal, so a re-run after a crash converges
    except ApiError as exc:
        if not outcome_unknown(exc):
            ctx.ledger.resolve_intent(intent, IntentOutcome.FAILED)
            raise
        if not project_is_gone(ctx.client, key, project_id):
            ctx.ledger.resolve_intent(intent, IntentOutcome.ABANDONED)
            raise ItemFailed(
                f"the delete of project {project_id} got no answer and the project still "
                "exists; apply again"
            ) from None
    finish_offboarding(
        ctx.client,
        ctx.credentials.org_key,
        ctx.ledger,
        tenant,
        project_id,
        note="deleted by fleet apply (prune)",
        recoverable_until=recoverable_until,
    )
    ctx.ledger.resolve_intent(intent, IntentOutcome.DONE)
    return {
        "project_id": project_id,
        "recoverable_until": recoverable_until.isoformat(timespec="seconds"),
    }


#: This module's part of the apply layer's action registry (merged in ``apply.handlers``).
HANDLERS: dict[Action, Handler] = {
    Action.CREATE_PROJECT: create_project,
    Action.ADOPT_PROJECT: adopt_project,
    Action.UPDATE_PROJECT: update_project,
    Action.UPDATE_ENDPOINT: update_endpoint,
    Action.DELETE_PROJECT: delete_project,
}
