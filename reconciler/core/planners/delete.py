"""Planning tenants that are no longer declared (offboarding).

Only projects the ledger owns are ever deleted; a live project that merely carries a tenant-like
name is never touched. For every ledger tenant missing from the manifests whose project is live:

* without ``policy.prune``: no step; one warning lists them all;
* with ``policy.prune``: revoking the keys neon-fleet minted for it, then ``delete_project``
  (which depends on every revoke and drops the ledger record last, so the ledger never loses
  track of a live key), unless the ledger remembers ``prevent_destroy`` (a blocker), and never
  more than ``policy.max_deletes`` deletions per plan: the excess, in tenant order, become
  blockers.

A ledger tenant whose recorded project is gone from its (observed) org — deleted by a run whose
answer was lost, or behind neon-fleet's back — is offboarded the same way when ``policy.prune``
is on and ``prevent_destroy`` is off: its recorded keys are revoked and a ``delete_project`` of
the missing project (which finds nothing to delete) drops the record. Otherwise it is a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.context import PlanContext
from reconciler.core.fingerprint import fingerprint, project_keys
from reconciler.core.model import LiveProject, OwnedTenant
from reconciler.core.naming import api_key_prefix
from reconciler.core.plan import Action, Step
from reconciler.core.plan_payloads import DeleteProject, RevokeApiKey
from reconciler.core.planners.tenant_outcome import TenantOutcome, step_id
from reconciler.core.views import project_view

_LISTED = 20


def plan_removed_tenants(
    ctx: PlanContext, tenants: Sequence[str]
) -> tuple[list[TenantOutcome], list[str]]:
    """Outcomes for the removed ``tenants`` (sorted) and fleet-level warnings."""
    policy = ctx.desired.fleet.policy
    outcomes: list[TenantOutcome] = []
    kept: list[str] = []
    deletable: list[tuple[TenantOutcome, OwnedTenant, LiveProject | None]] = []
    for name in tenants:
        record = ctx.ledger.tenants[name]
        project = ctx.live.projects.get(record.project_id)
        out = TenantOutcome(name, fingerprint(project, project_keys(ctx.live, project, ctx.keys)))
        outcomes.append(out)
        if project is None:
            seen = record.org_id in ctx.live.observed_orgs
            if seen and policy.prune and not record.prevent_destroy:
                deletable.append((out, record, None))
                continue
            out.warnings.append(
                f"{name}: removed from the manifests; its recorded project {record.project_id} "
                + ("no longer exists, nothing to delete" if seen else "was not observed")
            )
        elif project.id in ctx.claimed_ids:
            out.warnings.append(
                f"{name}: removed from the manifests; its project {project.id} is bound by "
                f"tenant {ctx.claimed_ids[project.id]} and handed over, not deleted"
            )
        elif project.name in ctx.claimed_names:
            out.blockers.append(
                f"removed from the manifests, but its project {project.id} carries the name of "
                f"declared tenant {ctx.claimed_names[project.name]}: not deleted; bind it with "
                "project_id to hand it over, or rename one of them"
            )
        elif not policy.prune:
            kept.append(name)
        elif record.prevent_destroy:
            out.blockers.append(
                f"removed from the manifests, but lifecycle.prevent_destroy protects project "
                f"{project.id}; remove the protection in a manifest first"
            )
        else:
            deletable.append((out, record, project))
    for index, (out, record, project) in enumerate(deletable):
        if index < policy.max_deletes:
            _delete(ctx, out, record, project)
        else:
            out.blockers.append(
                f"deleting project {record.project_id} would exceed policy.max_deletes="
                f"{policy.max_deletes} ({len(deletable)} deletions wanted)"
            )
    warnings: list[str] = []
    if kept:
        listed = ", ".join(kept[:_LISTED]) + (
            f" and {len(kept) - _LISTED} more" if len(kept) > _LISTED else ""
        )
        warnings.append(
            f"{len(kept)} tenant(s) removed from the manifests still have projects; "
            f"policy.prune is off, so nothing is deleted: {listed}"
        )
    return outcomes, warnings


def _delete(
    ctx: PlanContext, out: TenantOutcome, record: OwnedTenant, project: LiveProject | None
) -> None:
    """Revoke the tenant's keys, then delete its project (and drop its record) last."""
    delete_id = step_id(out.tenant, Action.DELETE_PROJECT)
    keys = {k.key_id: (k.name, k.org_id) for k in record.keys.values()}
    observed = project_keys(ctx.live, project, ctx.keys)
    if project is not None and observed is not None:
        prefix = api_key_prefix(project.name)
        keys.update({k.id: (k.name, k.org_id) for k in observed if k.name.startswith(prefix)})
    revokes: list[str] = []
    for key_id in sorted(keys):
        name, org_id = keys[key_id]
        revoke_id = step_id(out.tenant, Action.REVOKE_API_KEY, str(key_id))
        revokes.append(revoke_id)
        out.steps.append(
            Step(
                id=revoke_id,
                tenant=out.tenant,
                payload=RevokeApiKey(key_id, name, org_id, record.project_id),
                reason="its project is deleted next",
            )
        )
    if project is None:
        payload = DeleteProject(record.project_id, None, record.org_id)
        reason = (
            "removed from the manifests and its project no longer exists: "
            "its keys are revoked and its ledger record dropped"
        )
    else:
        payload = DeleteProject.from_json(project_view(project), None, "project")
        reason = "removed from the manifests and policy.prune is on (recoverable for 7 days)"
    out.steps.append(
        Step(
            id=delete_id,
            tenant=out.tenant,
            payload=payload,
            # Every revoke first: the delete drops the ledger record, and a record must never
            # be dropped while a key it lists may still be live.
            depends_on=tuple(revokes),
            reason=reason,
        )
    )
