"""Planning what a tenant's app connects with: roles, databases, Neon Auth, computes, secrets.

Runs after the project, branch and key planners, so it can wait for their steps (the project's
create, a branch's create, the transfer). The rules are ``core.access_rules``; this module turns
them into steps, in this order of dependencies:

* ``create_role`` → ``create_database`` / ``update_database`` (a database needs its owner) →
  ``delete_database`` → ``delete_role`` (a role goes once nothing it owns stays);
* ``create_endpoint`` for a declared branch with ``compute`` and no read-write compute (after
  its ``create_branch``); a compute whose settings differ gets ``update_endpoint``;
* ``enable_auth`` after its database exists; ``disable_auth`` (only when allowed);
* ``deliver_connection_secret`` after all of the above that the secret uses. A secret is
  delivered when the ledger has no delivery of it, or when its shape (project, org, branch,
  endpoint, role, database, pooled) differs from the recorded one: an endpoint replaced, a
  transfer. A tenant whose details were not read this time (an incremental plan) keeps its
  recorded deliveries.

Nothing here holds a secret: steps name secrets, roles and databases, never passwords.
"""

from __future__ import annotations

from reconciler.core.access_rules import (
    NEW_PROJECT_CATALOG,
    diff_auth,
    diff_catalog,
    secret_shape,
    shape_fingerprint,
)
from reconciler.core.catalog import DEFAULT_BRANCH, BranchCompute, ConnectionSecretSpec
from reconciler.core.context import PlanContext
from reconciler.core.model import DesiredTenant, LiveEndpoint, LiveProject
from reconciler.core.plan import FieldChange, Step
from reconciler.core.plan_payloads import (
    CreateBranch,
    CreateDatabase,
    CreateEndpoint,
    CreateRole,
    DeleteDatabase,
    DeleteRole,
    DeliverConnectionSecret,
    DisableAuth,
    EnableAuth,
    Payload,
    UpdateDatabase,
    UpdateEndpoint,
)
from reconciler.core.planners.tenant_outcome import TRANSFER_PLACEHOLDER, TenantOutcome, step_id

#: Step ids planned here, by what they make: ``role:<name>``, ``database:<name>``,
#: ``branch:<name>`` (a create_branch), ``compute:<branch>`` (a create_endpoint).
Planned = dict[str, str]

NOT_OBSERVED = "databases and roles were not observed; they are left as they are"
_DESTROYS = "not declared (policy.prune_databases): deleting it DESTROYS ITS DATA"


def plan_access(
    ctx: PlanContext,
    tenant: DesiredTenant,
    project: LiveProject | None,
    base: str | None,
    out: TenantOutcome,
) -> None:
    """Add the access steps of ``tenant`` to ``out`` (see the module docstring)."""
    deps = (base,) if base else ()
    if out.transfer is not None:
        deps = (*deps, TRANSFER_PLACEHOLDER)
    planned: Planned = {
        f"branch:{s.payload.name}": s.id for s in out.steps if isinstance(s.payload, CreateBranch)
    }
    _plan_catalog(ctx, tenant, project, deps, planned, out)
    _plan_computes(tenant, project, deps, planned, out)
    _plan_auth(ctx, tenant, project, deps, planned, out)
    _plan_secrets(ctx, tenant, project, deps, planned, out)


def _add(
    out: TenantOutcome,
    tenant: DesiredTenant,
    payload: Payload,
    name: str | None,
    deps: tuple[str, ...],
    reason: str,
    changes: tuple[FieldChange, ...] = (),
) -> str:
    sid = step_id(tenant.name, payload.ACTION, name)
    out.steps.append(Step(sid, tenant.name, payload, tuple(dict.fromkeys(deps)), reason, changes))
    return sid


def _waits(planned: Planned, *keys: str) -> tuple[str, ...]:
    return tuple(planned[k] for k in keys if k in planned)


def _plan_catalog(
    ctx: PlanContext,
    tenant: DesiredTenant,
    project: LiveProject | None,
    deps: tuple[str, ...],
    planned: Planned,
    out: TenantOutcome,
) -> None:
    if tenant.databases is None and tenant.roles is None:
        return
    live = NEW_PROJECT_CATALOG if project is None else project.catalog
    if live is None:
        out.warnings.append(f"{tenant.name}: {NOT_OBSERVED}")
        return
    diff = diff_catalog(tenant, live, ctx.desired.fleet.policy)
    out.warnings.extend(diff.warnings)
    out.blockers.extend(diff.blockers)
    roles_from = tenant.roles.origin if tenant.roles else ""
    dbs_from = tenant.databases.origin if tenant.databases else ""
    for role in diff.create_roles:
        change = FieldChange(f"roles.{role}", None, role, roles_from)
        sid = _add(out, tenant, CreateRole(role), role, deps, "declared and missing", (change,))
        planned[f"role:{role}"] = sid
    for db in diff.create_databases:
        change = FieldChange(f"databases.{db.name}.owner", None, db.owner, dbs_from)
        waits = (*deps, *_waits(planned, f"role:{db.owner}"))
        created = CreateDatabase(db.name, db.owner)
        sid = _add(out, tenant, created, db.name, waits, "declared and missing", (change,))
        planned[f"database:{db.name}"] = sid
    for owned in diff.change_owners:
        change = FieldChange(f"databases.{owned.name}.owner", owned.old, owned.new, dbs_from)
        waits = (*deps, *_waits(planned, f"role:{owned.new}"))
        reason = "owner differs from the manifests"
        planned[f"owner:{owned.old}:{owned.name}"] = _add(
            out,
            tenant,
            UpdateDatabase(owned.name, owned.old, owned.new),
            owned.name,
            waits,
            reason,
            (change,),
        )
    for gone in diff.delete_databases:
        sid = _add(out, tenant, DeleteDatabase(gone.name, gone.owner), gone.name, deps, _DESTROYS)
        planned[f"owner:{gone.owner}:{gone.name}"] = sid
    for role in diff.delete_roles:
        waits = (*deps, *(v for k, v in planned.items() if k.startswith(f"owner:{role}:")))
        reason = "not declared (policy.prune_databases)"
        _add(out, tenant, DeleteRole(role), role, waits, reason)


def _plan_computes(
    tenant: DesiredTenant,
    project: LiveProject | None,
    deps: tuple[str, ...],
    planned: Planned,
    out: TenantOutcome,
) -> None:
    for spec in tenant.branches:
        if spec.compute is None:
            continue
        creating = planned.get(f"branch:{spec.name}")
        live_branch = None
        if project is not None and project.branches is not None:
            live_branch = next((b for b in project.branches if b.name == spec.name), None)
        if creating is None and live_branch is None:
            continue  # not observed, or a branch the branch planner reports
        if creating is None and project is not None and project.endpoints is None:
            out.warnings.append(f"{tenant.name}: endpoints were not observed; {spec.name!r} kept")
            continue
        endpoint = None
        if live_branch is not None and project is not None and project.endpoints is not None:
            endpoint = next(
                (
                    e
                    for e in project.endpoints
                    if e.branch_id == live_branch.id and e.type == "read_write"
                ),
                None,
            )
        if endpoint is None:
            payload = _create_endpoint(spec.name, spec.compute)
            waits = (*deps, *((creating,) if creating else ()))
            change = FieldChange(f"branches.{spec.name}.compute", None, payload.after_json())
            reason = "declared compute is missing"
            planned[f"compute:{spec.name}"] = _add(
                out, tenant, payload, spec.name, waits, reason, (change,)
            )
            continue
        _update_compute(tenant, spec.name, spec.compute, endpoint, deps, out)


def _create_endpoint(branch: str, compute: BranchCompute) -> CreateEndpoint:
    return CreateEndpoint(branch, compute.min_cu, compute.max_cu, compute.suspend_timeout)


def _update_compute(
    tenant: DesiredTenant,
    branch: str,
    compute: BranchCompute,
    endpoint: LiveEndpoint,
    deps: tuple[str, ...],
    out: TenantOutcome,
) -> None:
    wanted = {
        "autoscaling_limit_min_cu": compute.min_cu,
        "autoscaling_limit_max_cu": compute.max_cu,
        "suspend_timeout_seconds": compute.suspend_timeout,
    }
    new = {k: v for k, v in wanted.items() if v is not None and getattr(endpoint, k) != v}
    old = {k: getattr(endpoint, k) for k in new}
    if not new:
        return
    origin = f"tenant {tenant.name}"
    changes = tuple(
        FieldChange(f"branches.{branch}.compute.{k}", old[k], new[k], origin) for k in new
    )
    payload = UpdateEndpoint(endpoint.id, endpoint.branch_id, old=old, new=new)
    reason = "branch compute settings differ from the manifests; this restarts the compute"
    _add(out, tenant, payload, endpoint.id, deps, reason, changes)


def _plan_auth(
    ctx: PlanContext,
    tenant: DesiredTenant,
    project: LiveProject | None,
    deps: tuple[str, ...],
    planned: Planned,
    out: TenantOutcome,
) -> None:
    catalog = None if project is None else project.catalog
    observed = project is None or (catalog is not None and catalog.auth_observed)
    if not observed:
        return  # not read (incremental plan, or nothing declared nor delivered)
    live_database = catalog.auth_database if catalog is not None else None
    diff = diff_auth(tenant, live_database, ctx.desired.fleet.policy)
    if diff.blocker:
        out.blockers.append(diff.blocker)
    if diff.enable is not None:
        wanted = diff.enable
        origin = tenant.auth.origin if tenant.auth else ""
        changes = (
            FieldChange("auth.provider", None, wanted.provider, origin),
            FieldChange("auth.database", None, wanted.database, origin),
        )
        waits = (*deps, *_waits(planned, f"database:{wanted.database}"))
        payload = EnableAuth(wanted.provider, wanted.database)
        _add(out, tenant, payload, None, waits, "declared; its keys go to the secret sink", changes)
    if diff.disable is not None:
        reason = "no longer declared (policy.allow_auth_removal)"
        _add(out, tenant, DisableAuth(diff.disable), None, deps, reason)


def _plan_secrets(
    ctx: PlanContext,
    tenant: DesiredTenant,
    project: LiveProject | None,
    deps: tuple[str, ...],
    planned: Planned,
    out: TenantOutcome,
) -> None:
    if tenant.connection_secrets is None:
        return
    recorded = ctx.ledger.deliveries.get(tenant.name, {})
    origin = tenant.connection_secrets.origin
    for spec in tenant.connection_secrets.value:
        waits = _waits(
            planned,
            f"role:{spec.role}",
            f"database:{spec.database}",
            f"branch:{spec.branch}",
            f"compute:{spec.branch}",
        )
        if spec.name not in recorded:
            reason = "first delivery"
        elif waits or (deps and deps[-1] == TRANSFER_PLACEHOLDER):
            reason = "what it points at changes in this plan"
        else:
            shape = _live_shape(tenant, project, spec)
            if shape is None or shape_fingerprint(shape) == recorded[spec.name]:
                continue  # unchanged, or not observed this time: the delivery stands
            reason = "changed since it was delivered (endpoint, branch or org)"
        kind = "pooled" if spec.pooled else "direct"
        shown = f"{spec.role}@{spec.database} on {spec.branch} ({kind})"
        change = FieldChange(f"connection_secrets.{spec.name}", None, shown, origin)
        payload = DeliverConnectionSecret(
            spec.name, spec.role, spec.database, spec.branch, spec.pooled
        )
        _add(out, tenant, payload, spec.name, (*deps, *waits), reason, (change,))


def _live_shape(
    tenant: DesiredTenant, project: LiveProject | None, spec: ConnectionSecretSpec
) -> dict[str, object] | None:
    """The shape the secret would have now; None when the plan did not observe enough."""
    if project is None or project.branches is None or project.endpoints is None:
        return None
    if spec.branch == DEFAULT_BRANCH:
        branch = next((b for b in project.branches if b.default), None)
    else:
        branch = next((b for b in project.branches if b.name == spec.branch), None)
    if branch is None:
        return None
    endpoint = next(
        (e for e in project.endpoints if e.branch_id == branch.id and e.type == "read_write"),
        None,
    )
    if endpoint is None:
        return None
    return secret_shape(
        tenant.name,
        spec,
        project_id=project.id,
        org_id=tenant.org_id,
        branch_id=branch.id,
        endpoint_id=endpoint.id,
    )
