"""Planning a tenant's branches.

* A declared branch missing live → ``create_branch`` (its parent, by name, must exist live or be
  created in the same plan; the create then depends on the parent's create). For a project that
  is itself being created, live is taken to be just the default branch ``main``.
* A declared branch whose ``protected`` flag or expiry differs → ``update_branch``.
  Expiry: ``expires_at`` is compared as an instant. ``expires_in_seconds`` is relative and is
  resolved by the applier at run time (``now + expires_in_seconds``): it is planned as
  ``after.expires_in_seconds`` on create, and once the branch exists with *some* expiry it is
  not planned again (otherwise every plan would move the expiry forward). A declared branch with
  no expiry whose live copy expires gets its expiry removed (``expires_at: null``).
* Undeclared live branches are left alone, except: ``<name> (old)`` branches left by a
  finalized snapshot restore and older than ``policy.old_branch_max_age_seconds`` are deleted,
  and with ``policy.prune_branches`` every undeclared branch is. The default branch is never
  deleted, and neither is a branch whose children are not deleted too (Neon refuses that); a
  child's deletion precedes its parent's.
* Non-default branches (live − deleted + created) above the tier's ``max_branches`` → blocker.
* When the project's branches were not observed (``None``) nothing is compared and, if the
  tenant declares branches, a warning says so.
"""

from __future__ import annotations

from typing import Any

from reconciler.core.catalog import DEFAULT_BRANCH
from reconciler.core.context import PlanContext, is_ignored, parse_instant, same_instant
from reconciler.core.diff import field_changes
from reconciler.core.model import BranchSpec, DesiredTenant, LiveBranch, LiveProject
from reconciler.core.naming import is_old_branch
from reconciler.core.plan import Action, Step
from reconciler.core.plan_payloads import CreateBranch, DeleteBranch, UpdateBranch
from reconciler.core.planners.tenant_outcome import TenantOutcome, step_id
from reconciler.core.views import branch_view

_VIRTUAL_MAIN = LiveBranch(
    id="", name=DEFAULT_BRANCH, parent_id=None, protected=False, default=True, created_at=""
)


def plan_branches(
    ctx: PlanContext,
    tenant: DesiredTenant,
    project: LiveProject | None,
    base: str | None,
    out: TenantOutcome,
) -> None:
    """Add the branch steps (or blockers/warnings) of ``tenant`` to ``out``."""
    if is_ignored("branches", tenant.lifecycle.ignore_changes):
        return
    if project is not None and project.branches is None:
        if tenant.branches:
            out.warnings.append(
                f"{tenant.name}: branches were not observed; branch changes are not planned"
            )
        return
    live = (project.branches or ()) if project is not None else (_VIRTUAL_MAIN,)
    by_name: dict[str, LiveBranch] = {}
    for branch in sorted(live, key=lambda b: b.id):
        by_name.setdefault(branch.name, branch)
    declared = {spec.name: spec for spec in tenant.branches}
    creates = _plan_declared(tenant, by_name, declared, base, out)
    deletes = _plan_undeclared(ctx, tenant, live, declared, base, out)
    limit = tenant.max_branches
    if limit is not None:
        count = sum(1 for b in live if not b.default) - deletes + creates
        if count > limit:
            out.blockers.append(f"{count} branches would exceed the tier's max_branches of {limit}")


def _expiry_after(spec: BranchSpec) -> dict[str, Any]:
    if spec.expires_at is not None:
        return {"expires_at": spec.expires_at}
    if spec.expires_in_seconds is not None:
        return {"expires_in_seconds": spec.expires_in_seconds}
    return {}


def _plan_declared(
    tenant: DesiredTenant,
    by_name: dict[str, LiveBranch],
    declared: dict[str, BranchSpec],
    base: str | None,
    out: TenantOutcome,
) -> int:
    """Creates and updates of declared branches; returns the number of creates."""
    origin = f"tenant {tenant.name}"
    missing = {name for name in declared if name not in by_name}
    creates = 0
    for name in sorted(declared):
        spec = declared[name]
        live = by_name.get(name)
        if live is not None and live.default and _expiry_after(spec):
            out.blockers.append(f"branch {name!r} is the default branch: Neon forbids its expiry")
            continue
        if spec.protected and _expiry_after(spec):
            out.blockers.append(f"branch {name!r} is protected: Neon forbids expiry on it")
            continue
        if live is None:
            creates += _plan_create(tenant, spec, by_name, missing, base, out)
        else:
            _plan_update(tenant, spec, live, base, origin, out)
    return creates


def _plan_create(
    tenant: DesiredTenant,
    spec: BranchSpec,
    by_name: dict[str, LiveBranch],
    missing: set[str],
    base: str | None,
    out: TenantOutcome,
) -> int:
    deps = [base] if base else []
    if spec.parent in missing:
        if _parent_chain_loops(spec.name, tenant):
            out.blockers.append(f"branch {spec.name!r}: its parents form a cycle")
            return 0
        deps.append(step_id(tenant.name, Action.CREATE_BRANCH, spec.parent))
    elif spec.parent not in by_name:
        out.blockers.append(
            f"branch {spec.name!r}: parent {spec.parent!r} neither exists nor is declared"
        )
        return 0
    payload = CreateBranch(
        name=spec.name,
        parent=spec.parent,
        protected=spec.protected,
        expires_at=spec.expires_at,
        expires_in_seconds=None if spec.expires_at is not None else spec.expires_in_seconds,
    )
    out.steps.append(
        Step(
            id=step_id(tenant.name, Action.CREATE_BRANCH, spec.name),
            tenant=tenant.name,
            payload=payload,
            depends_on=tuple(deps),
            reason="declared and missing",
            changes=field_changes(
                None,
                payload.after_json(),
                {},
                prefix=f"branches.{spec.name}.",
                default_origin=f"tenant {tenant.name}",
            ),
        )
    )
    return 1


def _parent_chain_loops(name: str, tenant: DesiredTenant) -> bool:
    parents = {spec.name: spec.parent for spec in tenant.branches}
    seen = {name}
    current = parents.get(name)
    while current is not None and current in parents:
        if current in seen:
            return True
        seen.add(current)
        current = parents[current]
    return False


def _plan_update(
    tenant: DesiredTenant,
    spec: BranchSpec,
    live: LiveBranch,
    base: str | None,
    origin: str,
    out: TenantOutcome,
) -> None:
    ignore = tenant.lifecycle.ignore_changes
    prefix = f"branches.{spec.name}"
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if live.protected != spec.protected and not is_ignored(f"{prefix}.protected", ignore):
        before["protected"], after["protected"] = live.protected, spec.protected
    if not is_ignored(f"{prefix}.expires_at", ignore) and not is_ignored(
        f"{prefix}.expires_in", ignore
    ):
        if spec.expires_at is not None:
            if not same_instant(live.expires_at, spec.expires_at):
                before["expires_at"], after["expires_at"] = live.expires_at, spec.expires_at
        elif spec.expires_in_seconds is not None:
            # Relative expiry: resolved at apply time; any live expiry counts as in place.
            if live.expires_at is None:
                before["expires_in_seconds"] = None
                after["expires_in_seconds"] = spec.expires_in_seconds
        elif live.expires_at is not None:
            before["expires_at"], after["expires_at"] = live.expires_at, None
    if not after:
        return
    out.steps.append(
        Step(
            id=step_id(tenant.name, Action.UPDATE_BRANCH, spec.name),
            tenant=tenant.name,
            payload=UpdateBranch(spec.name, live.id or None, old=before, new=after),
            depends_on=(base,) if base else (),
            reason="branch settings differ from the manifests",
            changes=field_changes(before, after, {}, prefix=prefix + ".", default_origin=origin),
        )
    )


def _plan_undeclared(
    ctx: PlanContext,
    tenant: DesiredTenant,
    live: tuple[LiveBranch, ...],
    declared: dict[str, BranchSpec],
    base: str | None,
    out: TenantOutcome,
) -> int:
    """Deletions of undeclared branches; returns how many."""
    policy = ctx.desired.fleet.policy
    runtime = ctx.ledger.runtime_branches.get(tenant.name, frozenset())
    reasons: dict[str, str] = {}
    for branch in live:
        if branch.default or branch.name in declared or branch.name in runtime or not branch.id:
            continue
        if is_old_branch(branch.name) and _older_than(
            ctx, branch, policy.old_branch_max_age_seconds
        ):
            reasons[branch.id] = (
                "left by a snapshot restore and older than policy.old_branch_max_age_seconds"
            )
        elif policy.prune_branches:
            reasons[branch.id] = "not declared, and policy.prune_branches is on"
    children: dict[str, list[LiveBranch]] = {}
    for branch in live:
        if branch.parent_id is not None:
            children.setdefault(branch.parent_id, []).append(branch)
    changed = True
    while changed:  # a branch with a surviving child cannot be deleted: drop it, repeat
        changed = False
        for branch_id in list(reasons):
            if any(child.id not in reasons for child in children.get(branch_id, ())):
                del reasons[branch_id]
                changed = True
    name_counts: dict[str, int] = {}
    for branch in live:
        name_counts[branch.name] = name_counts.get(branch.name, 0) + 1

    def delete_id(branch: LiveBranch) -> str:
        # Branch names are normally unique; a repeated name gets the branch id appended.
        suffix = branch.name if name_counts[branch.name] == 1 else f"{branch.name}#{branch.id}"
        return step_id(tenant.name, Action.DELETE_BRANCH, suffix)

    for branch in sorted(live, key=lambda b: (b.name, b.id)):
        if branch.id not in reasons:
            continue
        deps = [base] if base else []
        deps += sorted(delete_id(child) for child in children.get(branch.id, ()))
        out.steps.append(
            Step(
                id=delete_id(branch),
                tenant=tenant.name,
                payload=DeleteBranch.from_json(branch_view(branch), None, "branch"),
                depends_on=tuple(deps),
                reason=reasons[branch.id],
            )
        )
    return len(reasons)


def _older_than(ctx: PlanContext, branch: LiveBranch, seconds: int | None) -> bool:
    if seconds is None or not branch.created_at:
        return False
    try:
        age = (ctx.now - parse_instant(branch.created_at)).total_seconds()
    except ValueError:
        return False
    return age > seconds
