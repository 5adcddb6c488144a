"""Named planner scenarios shared by the planner, codec and renderer tests (and golden files).

Each scenario is a function returning ``(desired, live, ledger, options)``; ``SCENARIOS`` maps
the golden-file name to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from reconciler.core.model import (
    BranchSpec,
    DesiredFleet,
    LedgerView,
    Lifecycle,
    LiveBranch,
    LiveFleet,
)
from reconciler.core.options import PlanOptions
from reconciler.core.plan import Plan
from reconciler.core.planner import build_plan
from tests.core.factories import (
    ORG_FREE,
    ORG_PAID,
    desired,
    key_for,
    ledger,
    live,
    live_project_for,
    options,
    owned,
    tenant,
)

Inputs = tuple[DesiredFleet, LiveFleet, LedgerView, PlanOptions]


def new_tenant() -> Inputs:
    t = tenant(
        "cust-00001",
        branches=[BranchSpec("dev"), BranchSpec("preview", parent="dev", expires_in_seconds=86400)],
        api_keys=["app"],
        history_retention_seconds=21600,
    )
    return desired(t), live(), ledger(), options()


def quota_change() -> Inputs:
    t = tenant("cust-00002", quota={"compute_time_seconds": 36000}, api_keys=["app"])
    before = tenant("cust-00002", api_keys=["app"], compute={"autoscaling_limit_max_cu": 0.5})
    key = key_for(t, "app", 101)
    project = live_project_for(before)
    return desired(t), live(project, keys=[key]), ledger(owned(t, keys=[key])), options()


def tier_upgrade() -> Inputs:
    free = tenant("cust-00003", "free", api_keys=["app", "ci"])
    paid = tenant("cust-00003", "paid", api_keys=["app", "ci"])
    keys = [key_for(free, "app", 201), key_for(free, "ci", 202)]
    project = live_project_for(free)
    return (
        desired(paid),
        live(project, keys=keys),
        ledger(owned(free, keys=keys)),
        options(),
    )


def downgrade() -> Inputs:
    paid = tenant("cust-00004", "paid", api_keys=["app"])
    free = tenant("cust-00004", "free", api_keys=["app"])
    keys = [key_for(paid, "app", 301)]
    project = live_project_for(paid)
    return (
        desired(free),
        live(project, keys=keys),
        ledger(owned(paid, org_id=ORG_PAID, keys=keys)),
        options(),
    )


def _removed(prune: bool) -> Inputs:
    kept = tenant("cust-00010")
    gone = [tenant(f"cust-0002{i}", api_keys=["app"]) for i in range(3)]
    keys = [key_for(g, "app", 400 + i) for i, g in enumerate(gone)]
    projects = [live_project_for(kept), *(live_project_for(g) for g in gone)]
    records = [owned(kept)]
    records += [
        owned(g, keys=[k], prevent_destroy=(i == 2))
        for i, (g, k) in enumerate(zip(gone, keys, strict=True))
    ]
    fleet = desired(kept, prune=prune, max_deletes=1)
    return fleet, live(*projects, keys=keys), ledger(*records), options()


def removed_without_prune() -> Inputs:
    return _removed(prune=False)


def removed_with_prune() -> Inputs:
    return _removed(prune=True)


def adoption() -> Inputs:
    found = tenant("cust-00005", quota={"compute_time_seconds": 7200})
    pending = tenant("cust-00006")
    project = live_project_for(tenant("cust-00005"))
    landed = live_project_for(pending)
    return (
        desired(found, pending),
        live(project, landed),
        ledger(pending=["cust-00006"]),
        options(),
    )


def blockers() -> Inputs:
    moved = tenant("cust-00007", region="aws-eu-central-1", pg_version=16)
    integ = tenant("cust-00008", "paid")
    twin = tenant("cust-00009")
    return (
        desired(moved, integ, twin),
        live(
            live_project_for(tenant("cust-00007")),
            live_project_for(tenant("cust-00008"), integrations=("github",)),
            live_project_for(twin, project_id="prj-twin-a"),
            live_project_for(twin, project_id="prj-twin-b"),
        ),
        ledger(owned(moved), owned(integ)),
        options(),
    )


def ignore_changes() -> Inputs:
    t = tenant(
        "cust-00011",
        quota={"compute_time_seconds": 99999, "written_data_bytes": 1000},
        region="aws-eu-central-1",
        lifecycle=Lifecycle(ignore_changes=("quota.compute_time_seconds", "region")),
    )
    project = live_project_for(tenant("cust-00011"))
    return desired(t), live(project), ledger(owned(t)), options()


def no_op() -> Inputs:
    t = tenant(
        "cust-00012",
        branches=[BranchSpec("dev", protected=True), BranchSpec("tmp", expires_in_seconds=3600)],
        api_keys=["app"],
    )
    paid = tenant("cust-00013", "paid")
    key = key_for(t, "app", 501)
    projects = [live_project_for(t), live_project_for(paid)]
    return (
        desired(t, paid),
        live(*projects, keys=[key]),
        ledger(owned(t, keys=[key]), owned(paid, org_id=ORG_PAID)),
        options(),
    )


def branches() -> Inputs:
    t = tenant(
        "cust-00014",
        branches=[BranchSpec("dev", protected=True), BranchSpec("qa", parent="dev")],
    )
    project = live_project_for(tenant("cust-00014", branches=[BranchSpec("dev")]))
    old = LiveBranch(
        id="br-old",
        name="main (old)",
        parent_id=None,
        protected=False,
        default=False,
        created_at="2026-10-01T00:00:00Z",
    )
    assert project.branches is not None
    stray = replace(old, id="br-stray", name="experiment", parent_id=project.branches[0].id)
    project = replace(project, branches=(*project.branches, old, stray))
    return (
        desired(t, old_branch_max_age_seconds=7 * 86400),
        live(project),
        ledger(owned(t, org_id=ORG_FREE)),
        options(),
    )


SCENARIOS: dict[str, Callable[[], Inputs]] = {
    "new_tenant": new_tenant,
    "quota_change": quota_change,
    "tier_upgrade": tier_upgrade,
    "downgrade": downgrade,
    "removed_without_prune": removed_without_prune,
    "removed_with_prune": removed_with_prune,
    "adoption": adoption,
    "blockers": blockers,
    "ignore_changes": ignore_changes,
    "no_op": no_op,
    "branches": branches,
}


def plan_for(name: str) -> Plan:
    """Build the plan of scenario ``name``."""
    return build_plan(*SCENARIOS[name]())
