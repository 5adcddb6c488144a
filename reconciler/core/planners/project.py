"""Planning one declared tenant: its project (create, adopt, update, transfer) and endpoints.

Rules, in the order they are applied:

* Matching (see ``matching``). A match by name or binding without a ledger record for that
  project becomes ``adopt_project`` (the applier records ownership); updates follow it.
  Two projects with the tenant's name are a blocker, never a guess.
* No project: ``create_project`` with name, org, region, pg_version, managed quota keys,
  managed compute keys as ``default_endpoint_settings`` and history retention. When the ledger
  had a project that is gone, a warning says so and the step's reason says "recreate"; when a
  crashed apply left a pending create, the reason says the earlier create did not land. A create
  in an org whose project list was not read completely is a blocker (it could duplicate).
* ``region_id`` and ``pg_version`` cannot change in place: a difference is a blocker that says
  why; neon-fleet never destroys and recreates a project silently.
* A different ``org_id`` (tier upgrade/downgrade) is a transfer request, batched fleet-wide by
  ``build_plan``; integration projects (Neon answers 422) and a missing personal key are
  blockers. The tenant's update steps and key re-issue depend on the transfer.
* ``update_project`` compares name, managed quota keys, managed compute defaults and history
  retention. Its ``after.quota`` is the FULL merged quota object (live values for unmanaged keys)
  because Neon's PATCH should get the whole object; ``changes`` lists only differing fields.
* ``update_endpoint``: one step per observed endpoint whose managed compute values differ.
  Endpoints not observed (``None``) are not compared and a warning says so.
* Quota and compute keys the tenant's tier leaves unmanaged but an earlier tier set (see
  ``released``) are planned back to Neon's defaults, or kept with a warning.
* ``lifecycle.ignore_changes`` paths (manifest paths: ``name``, ``region``, ``pg_version``,
  ``org``, ``quota.<key>``, ``compute.<key>``, ``history_retention_seconds``, ``branches...``,
  ``api_keys...``) are left as they are live.
* A tenant with any blocker gets no steps at all: its changes are held back and explained.

The two update rules (``update_project``, ``update_endpoint``) are in ``project_settings``.
"""

from __future__ import annotations

from reconciler.core.context import PlanContext, is_ignored
from reconciler.core.diff import field_changes
from reconciler.core.fingerprint import match_fingerprint
from reconciler.core.matching import MatchKind, ProjectMatch, match_project
from reconciler.core.model import DesiredTenant, LiveProject
from reconciler.core.plan import Action, Step
from reconciler.core.plan_payloads import AdoptProject, CreateProject
from reconciler.core.planners.access import plan_access
from reconciler.core.planners.branch import plan_branches
from reconciler.core.planners.key import plan_keys
from reconciler.core.planners.project_settings import (
    plan_endpoints,
    plan_update_project,
    settings_origins,
)
from reconciler.core.planners.tenant_outcome import (
    TenantOutcome,
    TransferRequest,
    step_id,
)
from reconciler.core.released import with_released_settings
from reconciler.core.views import project_view


def plan_declared_tenant(ctx: PlanContext, tenant: DesiredTenant) -> TenantOutcome:
    """Every step, blocker and warning for the declared ``tenant``."""
    match = match_project(
        tenant.name,
        tenant,
        ctx.live,
        ctx.ledger,
        by_name=ctx.by_name,
        managed_orgs=ctx.managed_orgs,
        owners=ctx.owners,
    )
    out = TenantOutcome(tenant.name, match_fingerprint(ctx.live, match, ctx.keys))
    if match.owned_by is not None and not _handover(ctx, match):
        project_id = match.project.id if match.project else "?"
        out.blockers.append(
            f"project {project_id} is recorded in the ledger for tenant {match.owned_by}: a "
            "project belongs to one tenant. To hand it over, remove that tenant from the "
            f"manifests and bind this one with project_id: {project_id}"
        )
        return out
    if match.ambiguous:
        ids = ", ".join(p.id for p in match.candidates)
        out.blockers.append(
            f"{len(match.candidates)} live projects are named {tenant.project_name!r} ({ids}): "
            "cannot tell which belongs to the tenant; rename or delete the extra ones, "
            "or bind one with `project_id`"
        )
        return out
    if match.binding_missing:
        out.blockers.append(
            f"the manifest binds project_id {tenant.project_id!r}, which does not exist live"
        )
        return out
    project = match.project
    if project is None:
        base = _plan_create(ctx, tenant, match, out)
    else:
        # Keys an earlier tier set and this one leaves unmanaged go back to Neon's defaults.
        moving = project.org_id != tenant.org_id
        tenant, kept = with_released_settings(ctx.desired.tiers, tenant, project, moving=moving)
        out.warnings.extend(kept)
        base = _plan_adopt(ctx, tenant, match, project, out)
        _plan_placement(ctx, tenant, project, base, out)
        plan_update_project(tenant, project, base, out)
        plan_endpoints(tenant, project, base, ctx.ledger.runtime_branches, out)
    plan_branches(ctx, tenant, project, base, out)
    plan_keys(ctx, tenant, project, match.record, base, out)
    plan_access(ctx, tenant, project, base, out)
    if out.blockers:
        out.steps.clear()
        out.transfer = None
    return out


def _handover(ctx: PlanContext, match: ProjectMatch) -> bool:
    """An explicit binding may take over the project of a tenant no longer declared."""
    return match.kind is MatchKind.BINDING and match.owned_by not in ctx.desired.tenants


def _plan_create(
    ctx: PlanContext, tenant: DesiredTenant, match: ProjectMatch, out: TenantOutcome
) -> str | None:
    unobserved = sorted(ctx.managed_orgs - ctx.live.observed_orgs)
    if unobserved:
        # The project may exist in any managed org (a transfer in flight, say), so every one of
        # them must have been listed completely before creating it.
        out.blockers.append(
            f"org(s) {', '.join(unobserved)} were not fully observed: creating project "
            f"{tenant.project_name!r} could duplicate one that exists"
        )
        return None
    if match.ledger_project_missing and match.record is not None:
        if match.record.org_id not in ctx.live.observed_orgs:
            out.blockers.append(
                f"the ledger records project {match.record.project_id} in org "
                f"{match.record.org_id}, which was not fully observed: cannot tell whether it "
                "still exists, so it is not created again"
            )
            return None
        out.warnings.append(
            f"{tenant.name}: the ledger records project {match.record.project_id}, which no "
            "longer exists live; it will be created again"
        )
        reason = f"recreate: recorded project {match.record.project_id} no longer exists"
    elif tenant.name in ctx.ledger.pending_creates:
        reason = (
            f"an earlier create did not land (no project named {tenant.project_name!r} "
            "exists); create again"
        )
    else:
        reason = "new tenant"
    hrs = tenant.history_retention_seconds
    payload = CreateProject(
        name=tenant.project_name,
        org_id=tenant.org_id,
        region_id=tenant.region.value,
        pg_version=tenant.pg_version.value,
        quota={k: tenant.quota[k].value for k in sorted(tenant.quota)},
        compute={k: tenant.compute[k].value for k in sorted(tenant.compute)},
        history_retention_seconds=None if hrs is None else hrs.value,
        # A create reports every field of ``after`` (server-managed ones included, as it does
        # for org_id and region_id), so hipaa needs only its origin, not a second change.
        hipaa=bool(tenant.hipaa),
    )
    sid = step_id(tenant.name, Action.CREATE_PROJECT)
    out.steps.append(
        Step(
            id=sid,
            tenant=tenant.name,
            payload=payload,
            reason=reason,
            changes=field_changes(None, payload.after_json(), settings_origins(tenant)),
        )
    )
    return sid


def _plan_adopt(
    ctx: PlanContext,
    tenant: DesiredTenant,
    match: ProjectMatch,
    project: LiveProject,
    out: TenantOutcome,
) -> str | None:
    if match.record is not None and match.record.project_id == project.id:
        return None
    if match.ledger_project_missing and match.record is not None:
        out.warnings.append(
            f"{tenant.name}: the ledger records project {match.record.project_id}, which no "
            f"longer exists; project {project.id} with the tenant's name is adopted instead"
        )
    if match.owned_by is not None:
        reason = (
            f"the manifest binds project {project.id}, owned until now by the removed tenant "
            f"{match.owned_by}: handed over, not deleted"
        )
    elif match.kind is MatchKind.BINDING:
        reason = f"the manifest binds project {project.id}; it is recorded as this tenant's"
    elif tenant.name in ctx.ledger.pending_creates:
        reason = "an earlier create landed but its outcome was not recorded; adopted"
    else:
        reason = (
            f"project {project.id} already carries the tenant's name {project.name!r} and "
            "neon-fleet has no record of it: adopted, never duplicated"
        )
    sid = step_id(tenant.name, Action.ADOPT_PROJECT)
    out.steps.append(
        Step(
            id=sid,
            tenant=tenant.name,
            payload=AdoptProject(
                project_id=project.id,
                name=project.name,
                org_id=project.org_id,
                live=project_view(project),
                handover_from=match.owned_by or None,
            ),
            reason=reason,
        )
    )
    return sid


def _plan_placement(
    ctx: PlanContext,
    tenant: DesiredTenant,
    project: LiveProject,
    base: str | None,
    out: TenantOutcome,
) -> None:
    ignore = tenant.lifecycle.ignore_changes
    for field, live_value, wanted in (
        ("region_id", project.region_id, tenant.region),
        ("pg_version", project.pg_version, tenant.pg_version),
    ):
        manifest_path = "region" if field == "region_id" else field
        if live_value != wanted.value and not is_ignored(manifest_path, ignore):
            out.blockers.append(
                f"{field} differs ({live_value} live, {wanted.value} from {wanted.origin}): "
                f"Neon cannot change {field} in place, and neon-fleet never destroys and "
                "recreates a project silently; migrate the data yourself, or add "
                f"{manifest_path!r} to lifecycle.ignore_changes"
            )
    if project.org_id == tenant.org_id or is_ignored("org", ignore):
        return
    if project.integrations:
        names = ", ".join(project.integrations)
        out.blockers.append(
            f"transfer to {tenant.org_id} is impossible: project {project.id} has the "
            f"{names} integration (Neon answers 422); disconnect it first"
        )
    if not ctx.options.transfer_key_available:
        env = ctx.desired.fleet.personal_api_key_env or "personal_api_key_env"
        problem = ctx.options.transfer_key_problem or f"personal_api_key_env {env} is not set"
        out.blockers.append(f"transfer needs a personal API key ({problem})")
    out.transfer = TransferRequest(
        tenant=tenant.name,
        project_id=project.id,
        source_org_id=project.org_id,
        destination_org_id=tenant.org_id,
        depends_on=(base,) if base else (),
        origin=f"tier {tenant.tier}",
    )
