"""Keys a new tier leaves unmanaged but an earlier tier set (issue 12): the plan resets them to
Neon's default and says why, or keeps them with a warning when Neon has no default."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from reconciler.core.context import parse_instant
from reconciler.core.model import DesiredFleet, DesiredTenant, Lifecycle, LiveProject
from reconciler.core.plan import Action, FieldChange, Plan, Step
from reconciler.core.planner import build_plan
from reconciler.manifests import load_fleet
from tests.core import factories as f
from tests.core.factories import NOW
from tests.core.simulate import apply_plan

CAP = 5368709120  # free's data transfer cap: 5 GiB
SUSPEND = 60  # free computes suspend after a minute
FREE = replace(
    f.TIERS["free"],
    quota={**f.TIERS["free"].quota, "data_transfer_bytes": CAP},
    compute={**f.TIERS["free"].compute, "suspend_timeout_seconds": SUSPEND},
)
#: paid leaves data transfer, the suspend timeout and the max CU unmanaged.
PAID = replace(f.TIERS["paid"], compute={"autoscaling_limit_min_cu": 0.25})
TIERS = {"free": FREE, "paid": PAID}
RESET = (
    "no longer managed: tier paid leaves it unset and this is tier free's value; "
    "reset to Neon's default"
)


def free_tenant() -> DesiredTenant:
    return f.tenant(
        "cust-1",
        "free",
        quota={"data_transfer_bytes": CAP},
        compute={"suspend_timeout_seconds": SUSPEND},
    )


def paid_tenant(ignore_changes: tuple[str, ...] = ()) -> DesiredTenant:
    t = f.tenant("cust-1", "paid")
    return replace(
        t,
        compute={"autoscaling_limit_min_cu": t.compute["autoscaling_limit_min_cu"]},
        lifecycle=Lifecycle(ignore_changes=ignore_changes),
    )


def plan_for(tenant: DesiredTenant, project: LiveProject) -> Plan:
    fleet = f.desired(tenant)
    fleet = DesiredFleet(fleet.fleet, TIERS, fleet.tenants, fleet.digest)
    return build_plan(fleet, f.live(project), f.ledger(f.owned(free_tenant())), f.options())


def step(plan: Plan, action: Action) -> Step:
    [found] = [s for s in plan.steps if s.action is action]
    return found


def test_upgrade_free_to_pro_resets_the_transfer_cap_the_pro_tier_leaves_unmanaged():
    plan = plan_for(paid_tenant(), f.live_project_for(free_tenant()))
    update = step(plan, Action.UPDATE_PROJECT)
    [change] = [c for c in update.changes if c.path == "quota.data_transfer_bytes"]
    assert change == FieldChange("quota.data_transfer_bytes", CAP, 0, f"{RESET} (0 = unlimited)")
    assert update.after is not None and update.after["quota"]["data_transfer_bytes"] == 0
    assert update.depends_on == ("transfer/org-free-1->org-paid-1/1",)


def test_a_transfer_that_landed_without_its_update_is_still_reset():
    # The transfer succeeded, the quota update did not (a kill, a 423): no transfer is planned
    # any more, and the free cap must still not survive.
    project = f.live_project_for(free_tenant(), org_id=f.ORG_PAID)
    update = step(plan_for(paid_tenant(), project), Action.UPDATE_PROJECT)
    assert update.after is not None and update.after["quota"]["data_transfer_bytes"] == 0
    assert not update.depends_on


def test_suspend_timeout_resets_everywhere_and_the_max_cu_is_kept_with_a_warning():
    plan = plan_for(paid_tenant(), f.live_project_for(free_tenant()))
    update = step(plan, Action.UPDATE_PROJECT)
    suspend = "default_endpoint_settings.suspend_timeout_seconds"
    assert FieldChange(suspend, SUSPEND, 0, f"{RESET} (0 = 300 s)") in update.changes
    assert not [c for c in update.changes if c.path.endswith("autoscaling_limit_max_cu")]
    endpoint = step(plan, Action.UPDATE_ENDPOINT)
    assert endpoint.after is not None and endpoint.after["suspend_timeout_seconds"] == 0
    assert "autoscaling_limit_max_cu" not in endpoint.after
    assert (
        "cust-1: compute.autoscaling_limit_max_cu stays 1, the value tier free sets; tier paid "
        "does not manage it and Neon has no fixed default for it"
    ) in plan.warnings[0]


def test_a_value_no_tier_sets_is_left_alone():
    # Set by hand (support raised it): not a tier's leftover, so not managed, as before.
    project = f.live_project_for(free_tenant(), org_id=f.ORG_PAID)
    quota = {**(project.quota or {}), "data_transfer_bytes": 7 * CAP}
    settings = {**(project.default_endpoint_settings or {}), "suspend_timeout_seconds": 600}
    endpoint = replace(project.endpoints[0], suspend_timeout_seconds=600)  # type: ignore[index]
    project = replace(
        project, quota=quota, default_endpoint_settings=settings, endpoints=(endpoint,)
    )
    plan = plan_for(paid_tenant(), project)
    update = step(plan, Action.UPDATE_PROJECT)
    paths = {c.path for c in update.changes}
    assert "quota.data_transfer_bytes" not in paths
    assert "default_endpoint_settings.suspend_timeout_seconds" not in paths
    assert not [s for s in plan.steps if s.action is Action.UPDATE_ENDPOINT]


def test_ignore_changes_keeps_a_released_value():
    ignoring = ("quota.data_transfer_bytes", "compute")
    plan = plan_for(paid_tenant(ignore_changes=ignoring), f.live_project_for(free_tenant()))
    update = step(plan, Action.UPDATE_PROJECT)
    assert not [c for c in update.changes if "data_transfer" in c.path or "suspend" in c.path]
    assert not plan.warnings


def test_once_reset_the_plan_is_empty():
    project = f.live_project_for(free_tenant(), org_id=f.ORG_PAID)
    reset_quota = {**(project.quota or {}), "data_transfer_bytes": 0}
    reset_quota.update({k: v.value for k, v in paid_tenant().quota.items()})
    settings = {"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 4.0}
    endpoint = replace(
        project.endpoints[0],  # type: ignore[index]
        suspend_timeout_seconds=0,
        autoscaling_limit_max_cu=4.0,
    )
    converged = replace(
        project,
        quota=reset_quota,
        default_endpoint_settings={**settings, "suspend_timeout_seconds": 0},
        endpoints=(endpoint,),
    )
    plan = plan_for(paid_tenant(), converged)
    assert not plan.steps and not plan.warnings


def test_example_fleet_upgrade_converges_without_the_free_transfer_cap(tmp_path):
    # The case end to end: fleet.example's free tier caps data transfer, pro leaves it
    # out on purpose. Create cust-00043 on free, upgrade it to pro, apply, plan again.
    example = Path(__file__).resolve().parents[2] / "fleet.example"
    fleet = tmp_path / "fleet"
    shutil.copytree(example, fleet)
    start = f.live(observed_orgs=("org-free-1", "org-paid-1"), key_orgs=())
    before = load_fleet(fleet, now=parse_instant(NOW))
    created = build_plan(before, start, f.ledger(), f.options(targets=("cust-00043",)))
    live, ledger = apply_plan(created, start, f.ledger())
    [project] = live.projects.values()
    assert project.quota is not None and project.quota["data_transfer_bytes"] == 5368709120
    manifest = fleet / "tenants" / "cust-00043.yaml"
    manifest.write_text(manifest.read_text().replace("tier: free", "tier: pro"))
    after = load_fleet(fleet, now=parse_instant(NOW))
    upgrade = build_plan(after, live, ledger, f.options(targets=("cust-00043",)))
    assert [s.action for s in upgrade.steps][:2] == [
        Action.TRANSFER_PROJECTS,
        Action.UPDATE_PROJECT,
    ]
    live, ledger = apply_plan(upgrade, live, ledger)
    [project] = live.projects.values()
    assert project.quota is not None and project.quota["data_transfer_bytes"] == 0
    again = build_plan(after, live, ledger, f.options(targets=("cust-00043",)))
    assert not again.steps


def test_a_kept_autoscaling_limit_is_warned_about_only_when_the_project_moves():
    # After the move the kept limit is the tenant's state; repeating the warning on every
    # plan would be noise (0.25 CU is also what Neon itself sets).
    project = f.live_project_for(free_tenant(), org_id=f.ORG_PAID)
    assert not plan_for(paid_tenant(), project).warnings


def test_a_suspend_timeout_of_300_is_already_neons_default_and_not_reset():
    # 0 means 300 s: "resetting" 300 would change nothing but restart the computes.
    tiers = {**TIERS, "free": replace(FREE, compute=f.TIERS["free"].compute)}
    fleet = f.desired(paid_tenant())
    fleet = DesiredFleet(fleet.fleet, tiers, fleet.tenants, fleet.digest)
    project = f.live_project_for(f.tenant("cust-1", "free"), org_id=f.ORG_PAID)
    plan = build_plan(fleet, f.live(project), f.ledger(f.owned(free_tenant())), f.options())
    assert not [c for s in plan.steps for c in s.changes if "suspend" in c.path]
    assert not [s for s in plan.steps if s.action is Action.UPDATE_ENDPOINT]
