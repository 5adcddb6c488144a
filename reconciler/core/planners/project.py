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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.context import PlanContext, is_ignored
from reconciler.core.diff import field_changes
from reconciler.core.fingerprint import match_fingerprint
from reconciler.core.matching import MatchKind, ProjectMatch, match_project
from reconciler.core.model import COMPUTE_KEYS, DesiredTenant, LiveProject, Sourced
from reconciler.core.plan import Action, FieldChange, Step
from reconciler.core.plan_payloads import AdoptProject, CreateProject, UpdateEndpoint, UpdateProject
from reconciler.core.planners.access import plan_access
from reconciler.core.planners.branch import plan_branches
from reconciler.core.planners.key import plan_keys
from reconciler.core.planners.tenant_outcome import (
    TRANSFER_PLACEHOLDER,
    TenantOutcome,
    TransferRequest,
    step_id,
)
from reconciler.core.released import with_released_settings
from reconciler.core.views import endpoint_view, project_view

_RESTART_NOTE = "changing autoscaling limits or suspend timeout restarts the compute"


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
        _plan_update_project(tenant, project, base, out)
        _plan_endpoints(tenant, project, base, ctx.ledger.runtime_branches, out)
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
            changes=field_changes(None, payload.after_json(), _origins(tenant)),
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


def _origins(tenant: DesiredTenant) -> dict[str, str]:
    origins = {
        "name": "fleet project_name",
        "org_id": f"tier {tenant.tier}",
        "region_id": tenant.region.origin,
        "pg_version": tenant.pg_version.origin,
    }
    origins.update({f"quota.{k}": v.origin for k, v in tenant.quota.items()})
    origins.update({f"default_endpoint_settings.{k}": v.origin for k, v in tenant.compute.items()})
    if tenant.history_retention_seconds is not None:
        origins["history_retention_seconds"] = tenant.history_retention_seconds.origin
    if tenant.hipaa is not None:
        origins["hipaa"] = f"tenant {tenant.name}"
    return origins


def _deps(base: str | None, transfer: bool) -> tuple[str, ...]:
    deps = (base,) if base else ()
    return (*deps, TRANSFER_PLACEHOLDER) if transfer else deps


def _plan_update_project(
    tenant: DesiredTenant, project: LiveProject, base: str | None, out: TenantOutcome
) -> None:
    ignore = tenant.lifecycle.ignore_changes
    live_quota, quota = _merged_settings(project.quota, tenant.quota, "quota", ignore)
    live_compute, compute = _merged_settings(
        project.default_endpoint_settings, tenant.compute, "compute", ignore
    )
    before = {
        "name": project.name,
        "quota": live_quota,
        "default_endpoint_settings": live_compute,
        "history_retention_seconds": project.history_retention_seconds,
    }
    after = {
        # ``project_name`` is the manifest path (IGNORABLE_PATHS); fleet import writes it for
        # projects bound by id whose names do not fit the template.
        "name": project.name if is_ignored("project_name", ignore) else tenant.project_name,
        "quota": quota if tenant.quota else live_quota,
        "default_endpoint_settings": compute if tenant.compute else live_compute,
        "history_retention_seconds": project.history_retention_seconds,
    }
    hrs = tenant.history_retention_seconds
    if hrs is not None and not is_ignored("history_retention_seconds", ignore):
        after["history_retention_seconds"] = hrs.value
    changes = field_changes(before, after, _origins(tenant))
    wants_hipaa = tenant.hipaa is not None and not is_ignored("hipaa", ignore)
    if wants_hipaa and tenant.hipaa != project.hipaa:
        if project.hipaa:
            out.blockers.append(
                f"HIPAA is enabled on project {project.id} and Neon cannot turn it off; set "
                "hipaa: true, or add hipaa to lifecycle.ignore_changes"
            )
            return
        before["hipaa"], after["hipaa"] = False, True
        changes += (FieldChange("hipaa", False, True, f"tenant {tenant.name}"),)
    if not changes:
        return
    touched = sorted({c.path.split(".", 1)[0] for c in changes})
    out.steps.append(
        Step(
            id=step_id(tenant.name, Action.UPDATE_PROJECT),
            tenant=tenant.name,
            payload=UpdateProject(
                project_id=project.id,
                old={k: before[k] for k in touched},
                new={k: after[k] for k in touched},
            ),
            depends_on=_deps(base, out.transfer is not None),
            reason=_update_reason(touched, out.transfer is not None),
            changes=changes,
        )
    )


def _merged_settings(
    live: Mapping[str, Any] | None,
    desired: Mapping[str, Sourced[Any]],
    path: str,
    ignore: Sequence[str],
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the live settings, the live settings with the desired ones not ignored laid over)."""
    live_copy = dict(live) if live is not None else None
    merged = dict(live_copy or {})
    merged.update({k: v.value for k, v in desired.items() if not is_ignored(f"{path}.{k}", ignore)})
    return live_copy, merged


def _update_reason(touched: list[str], transferring: bool) -> str:
    what = ", ".join(touched)
    if "hipaa" in touched:
        return (
            f"{what} differ from the manifests; enabling HIPAA cannot be undone and restarts "
            "every compute of the project"
        )
    if transferring:
        return f"the tier moved to another org: after the transfer, set {what} of the new tier"
    return f"{what} {'differs' if len(touched) == 1 else 'differ'} from the manifests"


def _plan_endpoints(
    tenant: DesiredTenant,
    project: LiveProject,
    base: str | None,
    runtime_branches: Mapping[str, frozenset[str]],
    out: TenantOutcome,
) -> None:
    ignore = tenant.lifecycle.ignore_changes
    wanted = {
        k: v.value
        for k, v in tenant.compute.items()
        if k in COMPUTE_KEYS and not is_ignored(f"compute.{k}", ignore)
    }
    if not wanted:
        return
    if project.endpoints is None:
        out.warnings.append(
            f"{tenant.name}: endpoints were not observed; only default_endpoint_settings "
            "are compared, existing computes keep their settings"
        )
        return
    origins = {k: v.origin for k, v in tenant.compute.items()}
    # A declared branch with its own ``compute`` is planned by the access planner; the computes
    # of previews and promotion dev branches keep what ``fleet preview``/``promote`` gave them.
    own = {s.name for s in tenant.branches if s.compute is not None}
    own |= runtime_branches.get(tenant.name, frozenset())
    skip = {b.id for b in project.branches or () if b.name in own}
    for endpoint in sorted(project.endpoints, key=lambda e: e.id):
        if endpoint.branch_id in skip:
            continue
        live_view = endpoint_view(endpoint)
        before = {k: live_view[k] for k in wanted}
        changes = field_changes(before, wanted, origins)
        if not changes:
            continue
        out.steps.append(
            Step(
                id=step_id(tenant.name, Action.UPDATE_ENDPOINT, endpoint.id),
                tenant=tenant.name,
                payload=UpdateEndpoint(endpoint.id, endpoint.branch_id, old=before, new=wanted),
                depends_on=_deps(base, out.transfer is not None),
                reason=f"compute settings differ from the manifests; {_RESTART_NOTE}",
                changes=changes,
            )
        )
