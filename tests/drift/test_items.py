"""Drift items from plans and live state: one item per cause, stable ids, the extra checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from reconciler.core.catalog import (
    AuthSpec,
    BranchCompute,
    ConnectionSecretSpec,
    DatabaseSpec,
    LiveCatalog,
    LiveDatabase,
    LiveRole,
    RoleSpec,
)
from reconciler.core.drift_items import derive_items
from reconciler.core.drift_model import DriftItem, DriftKind, manifest_path
from reconciler.core.model import (
    BranchSpec,
    DesiredFleet,
    LedgerView,
    LiveBranch,
    LiveEndpoint,
    LiveFleet,
    LiveProject,
    Sourced,
)
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

pytestmark = pytest.mark.unit


def branches_of(project: LiveProject) -> tuple[LiveBranch, ...]:
    assert project.branches is not None
    return project.branches


def endpoints_of(project: LiveProject) -> tuple[LiveEndpoint, ...]:
    assert project.endpoints is not None
    return project.endpoints


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def items(d: DesiredFleet, lv: LiveFleet, view: LedgerView) -> list[DriftItem]:
    plan = build_plan(d, lv, view, options())
    return derive_items(plan, d, lv, view, NOW)


def triples(found: list[DriftItem]) -> list[tuple[str | None, str, str]]:
    return [(i.tenant, i.kind.value, i.path) for i in found]


def test_a_converged_fleet_has_no_items():
    t = tenant("cust-1", branches=[BranchSpec("dev")], api_keys=["runtime"])
    key = key_for(t, "runtime", 7)
    assert (
        items(desired(t), live(live_project_for(t), keys=[key]), ledger(owned(t, keys=[key]))) == []
    )


def test_changed_fields_carry_live_desired_and_origin_in_manifest_paths():
    t = tenant("cust-1", quota={"compute_time_seconds": 100})
    project = live_project_for(t)
    drifted = replace(
        project,
        quota={**(project.quota or {}), "compute_time_seconds": 5, "logical_size_bytes": 1},
        default_endpoint_settings={
            **(project.default_endpoint_settings or {}),
            "suspend_timeout_seconds": 60,
        },
        endpoints=(replace(endpoints_of(project)[0], autoscaling_limit_max_cu=2.0),),
    )
    found = items(desired(t), live(drifted), ledger(owned(t)))
    assert triples(found) == [
        ("cust-1", "changed", "compute.autoscaling_limit_max_cu"),
        ("cust-1", "changed", "compute.suspend_timeout_seconds"),
        ("cust-1", "changed", "quota.compute_time_seconds"),
        ("cust-1", "changed", "quota.logical_size_bytes"),
    ]
    endpoint, defaults, quota, _ = found
    assert endpoint.resource == endpoints_of(project)[0].id
    assert endpoint.id == f"cust-1/changed/compute.autoscaling_limit_max_cu/{endpoint.resource}"
    assert (defaults.live, defaults.desired, defaults.origin) == (60, 300, "tier free")
    assert (quota.live, quota.desired, quota.origin) == (5, 100, "tenant cust-1")
    assert defaults.id == "cust-1/changed/compute.suspend_timeout_seconds"


def test_missing_project_wrong_org_and_missing_branch():
    gone = tenant("cust-gone", branches=[BranchSpec("main", protected=True)], api_keys=["ci"])
    moved = tenant("cust-moved", branches=[BranchSpec("dev")])
    moved_project = live_project_for(moved, org_id=ORG_PAID)
    no_dev = replace(moved_project, branches=branches_of(moved_project)[:1])
    found = items(desired(gone, moved), live(no_dev), ledger(owned(moved)))
    assert triples(found) == [
        ("cust-gone", "missing_project", "project"),
        ("cust-moved", "wrong_org", "org"),
        ("cust-moved", "missing_branch", "branches.dev"),
    ]
    wrong = found[1]
    assert (wrong.live, wrong.desired, wrong.origin) == (ORG_PAID, ORG_FREE, "tier free")


def test_unmanaged_projects_are_those_no_tenant_claims_in_managed_orgs():
    t = tenant("cust-1")
    stranger = replace(live_project_for(tenant("x")), id="prj-stranger", name="hand-made")
    elsewhere = replace(stranger, id="prj-elsewhere", org_id="org-not-ours")
    found = items(desired(t), live(live_project_for(t), stranger, elsewhere), ledger(owned(t)))
    assert triples(found) == [(None, "unmanaged_project", "projects.hand-made")]
    assert found[0].id == "-/unmanaged_project/projects.hand-made/prj-stranger"


def test_keys_that_stopped_working_or_that_no_manifest_declares():
    t = tenant("cust-1", api_keys=["runtime"])
    runtime = key_for(t, "runtime", 7)
    stray = key_for(t, "old-ci", 8)
    # The ledger also records a key whose project was moved to another org behind our back.
    other = tenant("cust-2")
    moved_key = replace(key_for(other, "runtime", 9), org_id=ORG_FREE)
    other_project = live_project_for(other, org_id=ORG_PAID)
    found = items(
        desired(t, other),
        live(live_project_for(t), other_project, keys=[runtime, stray]),
        ledger(owned(t, keys=[runtime]), owned(other, keys=[moved_key])),
    )
    assert triples(found) == [
        ("cust-1", "undeclared_key", "api_keys.old-ci"),
        ("cust-2", "wrong_org", "org"),
        ("cust-2", "broken_key", "api_keys.runtime"),
    ]
    assert found[0].resource == "8"
    assert "moved to org-paid-1" in found[2].message


def test_old_and_expired_branches_are_reported_whatever_the_policy():
    t = tenant("cust-1")
    project = live_project_for(t)
    main = branches_of(project)[0]
    old = LiveBranch("br-old", "main (old)", None, False, False, "2026-11-25T00:00:00Z")
    expired = LiveBranch(
        "br-pr", "preview-1", main.id, False, False, "2026-11-01T00:00:00Z", "2026-11-20T00:00:00Z"
    )
    future = replace(expired, id="br-pr2", name="preview-2", expires_at="2026-12-20T00:00:00Z")
    found = items(
        desired(t), live(replace(project, branches=(main, old, expired, future))), ledger(owned(t))
    )
    assert triples(found) == [
        ("cust-1", "old_branch", "branches.main (old)"),
        ("cust-1", "expired_branch", "branches.preview-1"),
    ]


def test_old_branch_deleted_by_policy_is_one_item_not_two():
    t = tenant("cust-1")
    project = live_project_for(t)
    old = LiveBranch("br-old", "main (old)", None, False, False, "2026-01-01T00:00:00Z")
    d = desired(t, old_branch_max_age_seconds=3600)
    lv = live(replace(project, branches=(branches_of(project)[0], old)))
    plan = build_plan(d, lv, ledger(owned(t)), options())
    assert [s.action.value for s in plan.steps] == ["delete_branch"]
    assert triples(derive_items(plan, d, lv, ledger(owned(t)), NOW)) == [
        ("cust-1", "old_branch", "branches.main (old)")
    ]


def test_blockers_are_items_with_a_stable_id():
    t = tenant("cust-1", region="aws-eu-central-1")
    project = replace(live_project_for(t), region_id="aws-us-east-2")
    first = items(desired(t), live(project), ledger(owned(t)))
    again = items(desired(t), live(project), ledger(owned(t)))
    assert triples(first) == [("cust-1", "blocker", "blocker")]
    assert first[0].id == again[0].id
    assert "region_id differs" in first[0].message


def test_removed_tenant_with_prune_and_an_unrecorded_project():
    kept = tenant("cust-1")
    found = items(
        desired(kept, prune=True, max_deletes=5),
        live(live_project_for(kept), live_project_for(tenant("cust-old"))),
        ledger(owned("cust-old")),
    )
    assert triples(found) == [
        ("cust-1", "unrecorded_project", "project"),
        ("cust-old", "removed_tenant", "project"),
    ]


def test_manifest_paths():
    assert manifest_path("default_endpoint_settings.suspend_timeout_seconds") == (
        "compute.suspend_timeout_seconds"
    )
    assert manifest_path("name") == "project_name"
    assert manifest_path("quota.written_data_bytes") == "quota.written_data_bytes"
    assert manifest_path("branches.dev.protected") == "branches.dev.protected"
    assert DriftItem(DriftKind.BLOCKER, None, "blocker").id == "-/blocker/blocker"


def test_databases_roles_auth_computes_and_outdated_deliverys_are_drift_items() -> None:
    t = replace(
        tenant("cust-1", branches=[BranchSpec("staging", compute=BranchCompute(0.25, 1, 300))]),
        databases=Sourced((DatabaseSpec("app", "app_owner"),), "tier free"),
        roles=Sourced((RoleSpec("app_owner"),), "tier free"),
        connection_secrets=Sourced((ConnectionSecretSpec("s", "app_owner", "app"),), "tier free"),
        auth=Sourced(AuthSpec("better_auth", "app"), "tier free"),
    )
    catalog = LiveCatalog(
        "br-prj-cust-1-main",
        (LiveDatabase("app", "someone"), LiveDatabase("old", "someone")),
        (LiveRole("someone"),),
        auth_observed=True,
    )
    project = replace(live_project_for(t), catalog=catalog)
    project = replace(project, endpoints=project.endpoints[:1])  # type: ignore[index]
    fleet = desired(t, prune_databases=True)
    plan = build_plan(fleet, live(project), ledger(owned(t)), options())
    items = derive_items(plan, fleet, live(project), ledger(owned(t)), NOW)
    found = {(i.kind, i.path) for i in items}
    assert {
        (DriftKind.MISSING_ROLE, "roles.app_owner"),
        (DriftKind.CHANGED, "databases.app.owner"),
        (DriftKind.UNDECLARED_DATABASE, "databases.old"),
        (DriftKind.UNDECLARED_ROLE, "roles.someone"),
        (DriftKind.MISSING_AUTH, "auth"),
        (DriftKind.MISSING_COMPUTE, "branches.staging.compute"),
        (DriftKind.OUTDATED_DELIVERY, "connection_secrets.s"),
    } <= found
