"""Connection secrets: deliver one to the sink (recording fingerprints), reset a role's password.

A connection secret is built at delivery time from what Neon says now: the branch's read-write
compute (its endpoint id), and ``GET /projects/{id}/connection_uri`` for the role, database and
host kind (pooled or direct), which carries the role's current password. The URI is split into
its parts for the sink document; nothing of it is returned, logged or written to the ledger.
The ledger records two fingerprints (``DeliveryStore``): the shape the planner compares
(``access_rules.secret_shape``) and the whole payload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from reconciler.apply.context import ApplyContext, Handler, ProjectTarget, payload_of
from reconciler.apply.executor import ItemFailed
from reconciler.apply.secrets import ConnectionSecret, Deliverable
from reconciler.core.access_rules import secret_shape, shape_fingerprint
from reconciler.core.catalog import DEFAULT_BRANCH, ConnectionSecretSpec
from reconciler.core.json_text import compact_sorted
from reconciler.core.plan import Action, Step
from reconciler.core.plan_payloads import DeliverConnectionSecret, ResetRolePassword
from reconciler.errors import SecretSinkError
from reconciler.ledger import IntentOutcome
from reconciler.ledger.deliveries import Delivery

_ENCODE = compact_sorted(allow_nan=False)


def record_delivery(
    ctx: ApplyContext, delivered: Deliverable, kind: str, shape: Mapping[str, Any]
) -> None:
    """Remember in the ledger that ``delivered`` reached the sink (fingerprints only)."""
    payload = "sha256:" + hashlib.sha256(_ENCODE(delivered.document()).encode()).hexdigest()
    row = Delivery(delivered.tenant, delivered.name, kind, shape_fingerprint(shape), payload)
    ctx.ledger.deliveries.record(row)


def default_branch_id(ctx: ApplyContext, target: ProjectTarget) -> str:
    """The id of the project's default branch (read once per tenant and remembered)."""
    binding = target.binding
    known = binding.branch_ids.get(DEFAULT_BRANCH)
    if known:
        return known
    for branch in ctx.client.list_branches(target.key, target.project_id):
        binding.branch_ids.setdefault(branch.name, branch.id)
        if branch.default:
            binding.branch_ids[DEFAULT_BRANCH] = branch.id
    if DEFAULT_BRANCH not in binding.branch_ids:
        raise ItemFailed(f"project {target.project_id} has no default branch")
    return binding.branch_ids[DEFAULT_BRANCH]


def branch_id_of(ctx: ApplyContext, target: ProjectTarget, branch: str) -> str:
    """The id of the tenant's branch named ``branch`` (``main``: the default branch)."""
    if branch == DEFAULT_BRANCH:
        return default_branch_id(ctx, target)
    binding = target.binding
    if branch not in binding.branch_ids:
        for listed in ctx.client.list_branches(target.key, target.project_id):
            binding.branch_ids.setdefault(listed.name, listed.id)
    if branch not in binding.branch_ids:
        raise ItemFailed(f"branch {branch!r} does not exist")
    return binding.branch_ids[branch]


def build_connection_secret(
    ctx: ApplyContext, tenant: str, spec: ConnectionSecretSpec
) -> tuple[ConnectionSecret, dict[str, Any]]:
    """The secret as Neon would hand it out now, and its shape."""
    target = ctx.target(tenant)
    branch_id = branch_id_of(ctx, target, spec.branch)
    endpoint_id = next(
        (
            e.id
            for e in ctx.client.list_endpoints(target.key, target.project_id)
            if e.branch_id == branch_id and e.type == "read_write"
        ),
        None,
    )
    if endpoint_id is None:
        raise ItemFailed(f"branch {spec.branch!r} has no read-write compute to connect to")
    uri = ctx.client.get_connection_uri(
        target.key,
        target.project_id,
        database_name=spec.database,
        role_name=spec.role,
        branch_id=branch_id,
        pooled=spec.pooled,
    ).uri
    parts = urlsplit(uri)
    if not parts.hostname or parts.password is None:
        raise ItemFailed(f"Neon's connection URI for secret {spec.name!r} has no host or password")
    secret = ConnectionSecret(
        tenant=tenant,
        name=spec.name,
        project_id=target.project_id,
        branch=spec.branch,
        branch_id=branch_id,
        endpoint_id=endpoint_id,
        host=parts.hostname,
        database=spec.database,
        role=spec.role,
        pooled=spec.pooled,
        password=unquote(parts.password),
        uri=uri,
    )
    shape = secret_shape(
        tenant,
        spec,
        project_id=target.project_id,
        org_id=target.binding.org_id,
        branch_id=branch_id,
        endpoint_id=endpoint_id,
    )
    return secret, shape


def deliver_connection_secret(
    ctx: ApplyContext, tenant: str, spec: ConnectionSecretSpec
) -> dict[str, Any]:
    """Hand one declared connection secret to the sink and record its fingerprints."""
    if ctx.sink is None:
        raise ItemFailed(
            "no secret sink is configured (spec.secrets in the Fleet manifest): a connection "
            "secret has nowhere to go"
        )
    secret, shape = build_connection_secret(ctx, tenant, spec)
    try:
        ctx.sink.deliver(secret)
    except SecretSinkError as exc:
        raise ItemFailed(str(exc)) from exc
    record_delivery(ctx, secret, "connection_secret", shape)
    return {
        "project_id": secret.project_id,
        "branch_id": secret.branch_id,
        "endpoint_id": secret.endpoint_id,
        "secret_name": spec.name,
    }


#: The intent a password reset records first: if the run dies after Neon switched the password,
#: the sink may hold the old one, so recovery forgets the role's deliveries (``secrets``) and
#: the next plan delivers them again.
RESET_INTENT = "reset_role_password"


def reset_role_password(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    """Give a role a new password; the plan re-delivers its secrets after this step."""
    payload = payload_of(step, ResetRolePassword)
    role, using = payload.role, sorted(payload.secrets)
    tenant = str(step.tenant)
    target = ctx.target(tenant)
    branch_id = default_branch_id(ctx, target)
    detail = {"role": role, "project_id": target.project_id, "secrets": using}
    intent = ctx.ledger.record_intent(tenant, RESET_INTENT, detail)
    reset = ctx.client.reset_role_password(target.key, target.project_id, branch_id, role)
    # Until the secrets are delivered again the sink holds a password that no longer works:
    # forget those deliveries now, so a run that dies here re-delivers on the next plan.
    ctx.ledger.deliveries.forget(tenant, using)
    ctx.client.wait_for_operations(
        target.key, target.project_id, reset.operations, timeout=ctx.operation_timeout
    )
    ctx.ledger.resolve_intent(intent, IntentOutcome.DONE)
    return {"project_id": target.project_id, "branch_id": branch_id, "role": role}


def _deliver(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    payload = payload_of(step, DeliverConnectionSecret)
    spec = ConnectionSecretSpec(
        payload.name, payload.role, payload.database, payload.branch, payload.pooled
    )
    return deliver_connection_secret(ctx, str(step.tenant), spec)


HANDLERS: dict[Action, Handler] = {
    Action.RESET_ROLE_PASSWORD: reset_role_password,
    Action.DELIVER_CONNECTION_SECRET: _deliver,
}
