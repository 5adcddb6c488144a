"""Incremental plans against the sandbox emulator: cheap, quiet, and applicable.

fleet.example is applied once; after that an incremental plan reads only the list pages (and
the org key lists) for tenants whose manifests did not change, yet stays applicable: apply
re-observes with the plan's ``DetailNeeds`` and the fingerprints match.
"""

from __future__ import annotations

from reconciler.app.applying import apply_plan, apply_session
from reconciler.app.planning import PlanResult, make_plan
from reconciler.core.model import DesiredFleet
from reconciler.core.plan import Action
from reconciler.core.plan_contract import RefreshMode
from tests.observe.conftest import SandboxFleet


def _plan(fleet: SandboxFleet, desired: DesiredFleet, refresh: RefreshMode) -> PlanResult:
    with fleet.environment(desired) as env:
        return make_plan(env, desired, refresh=refresh)


def _apply_fresh(fleet: SandboxFleet, refresh: RefreshMode) -> PlanResult:
    """Plan and apply in one session, as ``fleet apply PATH`` does."""
    desired = fleet.desired()
    with fleet.environment(desired) as env, apply_session(env):
        result = make_plan(env, desired, refresh=refresh)
        outcome = apply_plan(env, result.plan)
    assert outcome.report.ok
    return result


def test_an_unchanged_fleet_plans_empty_and_quiet_from_list_pages(
    sandbox_fleet: SandboxFleet,
) -> None:
    first = _apply_fresh(sandbox_fleet, "changed")
    assert first.plan.contract.to_json()["refreshed_tenants"] == len(first.desired.tenants)
    desired = sandbox_fleet.desired()
    full = _plan(sandbox_fleet, desired, "all")
    incremental = _plan(sandbox_fleet, desired, "changed")
    assert full.plan.steps == ()
    assert incremental.plan.steps == ()
    assert incremental.plan.warnings == full.plan.warnings
    assert incremental.plan.contract.to_json()["refresh_mode"] == "changed"
    assert incremental.plan.contract.to_json()["refreshed_tenants"] == 0
    assert incremental.plan.contract.to_json()["list_only_tenants"] == len(desired.tenants)
    assert incremental.plan.contract.to_json()["observed"]["endpoints"] == []
    assert incremental.plan.contract.to_json()["observed"]["branches"] == []
    orgs = len(desired.fleet.orgs)
    # One list page per org, plus at most one key list per org.
    assert incremental.api_calls <= 2 * orgs
    assert full.api_calls > incremental.api_calls + len(desired.tenants)


def test_an_edited_tenant_alone_is_refreshed_and_its_plan_applies(
    sandbox_fleet: SandboxFleet,
) -> None:
    _apply_fresh(sandbox_fleet, "changed")
    tenant_file = sandbox_fleet.manifests / "tenants" / "cust-00043.yaml"
    tenant_file.write_text(
        tenant_file.read_text() + "  quota:\n    compute_time_seconds: 12345\n"
        "  compute:\n    autoscaling_limit_max_cu: 2\n"
    )
    desired = sandbox_fleet.desired()
    planned = _plan(sandbox_fleet, desired, "changed").plan
    assert planned.contract.to_json()["refreshed_tenants"] == 1
    assert {s.tenant for s in planned.steps} == {"cust-00043"}
    assert {s.action for s in planned.steps} == {Action.UPDATE_PROJECT, Action.UPDATE_ENDPOINT}
    assert len(planned.contract.to_json()["observed"]["endpoints"]) == 1
    # Apply the saved plan in a new session, as ``fleet apply PLANFILE`` would.
    with sandbox_fleet.environment(desired) as env, apply_session(env):
        outcome = apply_plan(env, planned)
    assert outcome.report.ok
    after = _plan(sandbox_fleet, desired, "changed").plan
    assert after.steps == ()
    assert after.contract.to_json()["refreshed_tenants"] == 0  # the apply recorded the new digest


def test_list_page_drift_is_seen_incrementally_compute_drift_needs_a_full_refresh(
    sandbox_fleet: SandboxFleet,
) -> None:
    _apply_fresh(sandbox_fleet, "changed")
    desired = sandbox_fleet.desired()
    target = desired.tenants["cust-00043"]
    with sandbox_fleet.environment(desired) as env:
        client, key = env.client(), env.credentials().org_key(target.org_id)
        listing = client.list_projects(key, org_id=target.org_id)
        project = next(p for p in listing.projects if p.name == target.project_name)
        endpoint = client.list_endpoints(key, project.id)[0]
        client.update_endpoint(key, project.id, endpoint.id, autoscaling_limit_max_cu=2)
        quota = {k: v.value for k, v in target.quota.items()}
        client.update_project(key, project.id, quota={**quota, "compute_time_seconds": 1})
    incremental = _plan(sandbox_fleet, desired, "changed").plan
    assert [(s.tenant, s.action) for s in incremental.steps] == [
        ("cust-00043", Action.UPDATE_PROJECT)
    ]
    full = _plan(sandbox_fleet, desired, "all").plan
    assert sorted((s.tenant or "", s.action) for s in full.steps) == [
        ("cust-00043", Action.UPDATE_ENDPOINT),
        ("cust-00043", Action.UPDATE_PROJECT),
    ]
    # The incremental plan still applies: the fingerprint of a list-only tenant is stable.
    with sandbox_fleet.environment(desired) as env, apply_session(env):
        assert apply_plan(env, incremental).report.ok
