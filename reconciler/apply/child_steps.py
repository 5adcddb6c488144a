"""Step handlers for what lives inside a project: branches and project-scoped API keys.

Keys are minted as org keys with ``project_id`` in the tenant's current org, handed to the
secret sink exactly once, and recorded in the ledger by id and name only — after delivery, so the
recorded key is the one the sink holds. If the sink cannot take the token, the key is revoked at
once so no untracked key is left behind. The create's intent names the key it ``replaces`` (the
one recorded under that name now), which recovery needs after a rotation that died half-way.
A create or revoke whose answer is lost (or that failed with a 5xx) is read back from the org's
key list, and the ledger follows what Neon lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from reconciler.apply.context import ApplyContext, Handler, payload_of
from reconciler.apply.executor import ItemFailed
from reconciler.apply.offboarding import outcome_unknown, revoke_key
from reconciler.apply.secrets import MintedKey
from reconciler.core.catalog import DEFAULT_BRANCH
from reconciler.core.model import OwnedKey
from reconciler.core.plan import Action, Step
from reconciler.core.plan_payloads import (
    CreateApiKey,
    CreateBranch,
    DeleteBranch,
    RevokeApiKey,
    UpdateBranch,
)
from reconciler.errors import ApiError, OutcomeUnknown, SecretSinkError
from reconciler.ledger import IntentOutcome
from reconciler.neon import UNSET
from reconciler.neon.bodies import Unset


def _expiry(ctx: ApplyContext, after: Mapping[str, Any]) -> str | None:
    """``expires_at`` as Neon wants it (RFC 3339, seconds); relative expiry counts from now."""
    if after.get("expires_at"):
        return str(after["expires_at"])
    seconds = after.get("expires_in_seconds")
    if seconds is None:
        return None
    moment = ctx.now() + timedelta(seconds=int(seconds))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _branch_id(ctx: ApplyContext, tenant: str, project_id: str, name: str) -> str | None:
    binding = ctx.binding(tenant)
    if name not in binding.branch_ids:
        key = ctx.credentials.org_key(binding.org_id)
        for branch in ctx.client.list_branches(key, project_id):
            binding.branch_ids[branch.name] = branch.id
    return binding.branch_ids.get(name)


def create_branch(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, CreateBranch)
    tenant = str(step.tenant)
    target = ctx.target(tenant)
    binding, project_id, key = target.binding, target.project_id, target.key
    name, parent = payload.name, payload.parent or DEFAULT_BRANCH
    parent_id = _branch_id(ctx, tenant, project_id, parent)
    if parent_id is None:
        raise ItemFailed(f"parent branch {parent!r} of {name!r} does not exist")
    try:
        created = ctx.client.create_branch(
            key,
            project_id,
            name=name,
            parent_id=parent_id,
            protected=payload.protected or None,
            expires_at=_expiry(ctx, payload.after_json()),
        )
    except OutcomeUnknown:
        binding.branch_ids.pop(name, None)
        branch_id = _branch_id(ctx, tenant, project_id, name)
        if branch_id is None:
            raise ItemFailed(f"the create of branch {name!r} got no answer; apply again") from None
    else:
        branch_id = created.branch.id
        ctx.client.wait_for_operations(
            key, project_id, created.operations, timeout=ctx.operation_timeout
        )
    binding.branch_ids[name] = branch_id
    ctx.record(tenant, lambda t: replace(t, branch_ids={**t.branch_ids, name: branch_id}))
    return {"project_id": project_id, "branch_id": branch_id}


def update_branch(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, UpdateBranch)
    after = payload.new
    tenant = str(step.tenant)
    target = ctx.target(tenant)
    project_id, key = target.project_id, target.key
    name = payload.name
    branch_id = payload.branch_id or _branch_id(ctx, tenant, project_id, name)
    if not branch_id:
        raise ItemFailed(f"branch {name!r} does not exist any more")
    expires: str | Unset | None = UNSET
    if "expires_at" in after or "expires_in_seconds" in after:
        expires = _expiry(ctx, after)
    _, operations = ctx.client.update_branch(
        key,
        project_id,
        str(branch_id),
        protected=after.get("protected"),
        expires_at=expires,
    )
    ctx.client.wait_for_operations(key, project_id, operations, timeout=ctx.operation_timeout)
    return {"project_id": project_id, "branch_id": branch_id}


def delete_branch(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, DeleteBranch)
    tenant = str(step.tenant)
    target = ctx.target(tenant)
    binding, project_id, key = target.binding, target.project_id, target.key
    branch_id, name = payload.branch_id, payload.name
    outcome = ctx.client.delete_branch(key, project_id, branch_id)
    if outcome is not None:
        ctx.client.wait_for_operations(key, project_id, outcome[1], timeout=ctx.operation_timeout)
    binding.branch_ids.pop(name, None)
    ctx.record(
        tenant,
        lambda t: replace(t, branch_ids={k: v for k, v in t.branch_ids.items() if v != branch_id}),
    )
    return {"project_id": project_id, "branch_id": branch_id}


def create_api_key(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, CreateApiKey)
    tenant = str(step.tenant)
    binding = ctx.binding(tenant)
    if ctx.sink is None:
        raise ItemFailed(
            "no secret sink is configured (spec.secrets in the Fleet manifest): a key's token "
            "is shown once and would be lost, so none is minted"
        )
    project_id = ctx.project_id(tenant)
    org_id = binding.org_id
    key = ctx.credentials.org_key(org_id)
    name, full_name = payload.key, payload.key_name
    current = ctx.ledger.tenant(tenant)
    replaces = current.keys.get(full_name) if current is not None else None
    # ``replaces``: the key the ledger (and so the sink) holds now; recovery needs it to tell a
    # rotation's old key from the new one if this run dies between delivery and recording.
    detail: dict[str, Any] = {"key_name": full_name, "org_id": org_id}
    if replaces is not None:
        detail["replaces"] = replaces.key_id
    intent = ctx.ledger.record_intent(tenant, "create_api_key", detail)
    try:
        created = ctx.client.create_org_api_key(key, org_id, full_name, project_id=project_id)
    except ApiError as exc:
        if not outcome_unknown(exc):
            ctx.ledger.resolve_intent(intent, IntentOutcome.FAILED)
            raise
        # The token of a key minted without an answer is lost for good: revoke any such key —
        # but never one the ledger records (during a rotation the old key is still in use).
        record = ctx.ledger.tenant(tenant)
        recorded = {k.key_id for k in record.keys.values()} if record else set()
        for listed in ctx.client.list_org_api_keys(key, org_id):
            if (
                listed.name == full_name
                and listed.project_id == project_id
                and listed.id not in recorded
                and not revoke_key(ctx.client, key, org_id, listed.id)
            ):
                # The intent stays open: recovery revokes the key on the next run.
                raise ItemFailed(
                    f"the create of key {full_name!r} got no answer and the key it may have "
                    f"minted ({listed.id}) could not be revoked yet; apply again"
                ) from None
        ctx.ledger.resolve_intent(intent, IntentOutcome.ABANDONED)
        raise ItemFailed(f"the create of key {full_name!r} got no answer; apply again") from None
    minted = MintedKey(tenant, project_id, org_id, created.id, name, token=created.token)
    try:
        ctx.sink.deliver(minted)
    except SecretSinkError as exc:
        if not revoke_key(ctx.client, key, org_id, created.id):
            # The intent stays open: recovery revokes the untracked key on the next run.
            raise ItemFailed(f"{exc}; the new key {created.id} is not revoked yet") from exc
        ctx.ledger.resolve_intent(intent, IntentOutcome.FAILED)
        raise ItemFailed(f"{exc}; the new key {created.id} was revoked") from exc
    # The ledger keys keys by their full Neon name, which is what the planner matches on.
    owned = OwnedKey(name=full_name, key_id=created.id, org_id=org_id, project_id=project_id)
    ctx.record(tenant, lambda t: replace(t, keys={**t.keys, full_name: owned}))
    ctx.ledger.resolve_intent(intent, IntentOutcome.DONE)
    return {"project_id": project_id, "key_id": created.id, "key_name": full_name}


def revoke_api_key(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, RevokeApiKey)
    tenant = str(step.tenant)
    key_id, org_id = payload.key_id, payload.org_id
    # Already revoked is fine: the goal holds, and a re-run after a crash converges. A lost
    # answer is read back: the ledger keeps tracking the key until Neon no longer lists it.
    if not revoke_key(ctx.client, ctx.credentials.org_key(org_id), org_id, key_id):
        raise ItemFailed(
            f"the revoke of key {key_id} got no answer and the key is still live; apply again"
        )
    if ctx.ledger.tenant(tenant) is not None:
        ctx.record(
            tenant,
            lambda t: replace(t, keys={n: k for n, k in t.keys.items() if k.key_id != key_id}),
        )
    return {"key_id": key_id}


#: This module's part of the apply layer's action registry (merged in ``apply.handlers``).
HANDLERS: dict[Action, Handler] = {
    Action.CREATE_BRANCH: create_branch,
    Action.UPDATE_BRANCH: update_branch,
    Action.DELETE_BRANCH: delete_branch,
    Action.CREATE_API_KEY: create_api_key,
    Action.REVOKE_API_KEY: revoke_api_key,
}
