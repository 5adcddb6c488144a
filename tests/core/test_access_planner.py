"""Planning roles, databases, Neon Auth, branch computes and connection-secret deliveries."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.access_rules import secret_shape, shape_fingerprint
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
from reconciler.core.model import BranchSpec, DesiredTenant, Lifecycle, LiveProject, Sourced
from reconciler.core.plan import Plan
from reconciler.core.planner import build_plan
from reconciler.render.text import render_text
from tests.core.factories import desired, ledger, live, live_project_for, options, owned, tenant

SECRET = ConnectionSecretSpec("app", "app_owner", "app", pooled=True)
NEON = LiveCatalog(
    "br-prj-cust-1-main",
    (LiveDatabase("neondb", "neondb_owner"),),
    (LiveRole("neondb_owner"),),
    auth_observed=True,
)


def app_tenant(**changes: object) -> DesiredTenant:
    t = replace(
        tenant("cust-1"),
        databases=Sourced((DatabaseSpec("app", "app_owner"),), "tier free"),
        roles=Sourced((RoleSpec("app_owner"),), "tier free"),
        connection_secrets=Sourced((SECRET,), "tier free"),
    )
    return replace(t, **changes)  # type: ignore[arg-type]


def plan_of(t: DesiredTenant, project: LiveProject | None, **policy: object) -> Plan:
    view = ledger(owned(t)) if project is not None else ledger()
    return build_plan(desired(t, **policy), live(*([project] if project else [])), view, options())


def test_a_new_project_gets_role_database_and_secret_in_order() -> None:
    plan = plan_of(app_tenant(), None)
    ids = [s.id for s in plan.steps]
    assert ids == [
        "cust-1/create_project",
        "cust-1/create_role/app_owner",
        "cust-1/create_database/app",
        "cust-1/deliver_connection_secret/app",
    ]
    deliver = plan.steps[-1]
    assert set(deliver.depends_on) == {
        "cust-1/create_project",
        "cust-1/create_role/app_owner",
        "cust-1/create_database/app",
    }
    assert plan.warnings == ("cust-1: database(s) neondb are not declared and are kept "
                             "(policy.prune_databases deletes them, with their data)",
                             "cust-1: role(s) neondb_owner are not declared and are kept "
                             "(policy.prune_databases deletes them)")  # fmt: skip
    text = render_text(plan, color=False)
    assert "+ create_database database app" in text and "(tier free)" in text
    assert "npg_" not in text


def test_pruning_deletes_after_the_new_owner_takes_over_and_says_it_destroys_data() -> None:
    project = replace(live_project_for(tenant("cust-1")), catalog=NEON)
    plan = plan_of(app_tenant(), project, prune_databases=True)
    by_id = {s.id: s for s in plan.steps}
    drop = by_id["cust-1/delete_database/neondb"]
    assert "DESTROYS ITS DATA" in drop.reason
    assert "cust-1/delete_database/neondb" in by_id["cust-1/delete_role/neondb_owner"].depends_on
    colored = render_text(plan, color=True)
    assert "\x1b[1;31m    # not declared (policy.prune_databases): deleting it DESTROYS" in colored


def test_prevent_destroy_turns_a_database_deletion_into_a_blocker() -> None:
    project = replace(live_project_for(tenant("cust-1")), catalog=NEON)
    t = app_tenant(lifecycle=Lifecycle(prevent_destroy=True))
    plan = plan_of(t, project, prune_databases=True)
    assert plan.steps == () and "destroy their data" in plan.blockers[0].message


def test_a_delivered_secret_is_delivered_again_only_when_its_shape_changes() -> None:
    t = app_tenant()
    catalog = replace(
        NEON,
        databases=(LiveDatabase("app", "app_owner"),),
        roles=(LiveRole("app_owner"),),
    )
    project = replace(live_project_for(t), catalog=catalog)
    shape = secret_shape(
        "cust-1",
        SECRET,
        project_id=project.id,
        org_id=project.org_id,
        branch_id="br-prj-cust-1-main",
        endpoint_id="ep-prj-cust-1",
    )
    view = replace(ledger(owned(t)), deliveries={"cust-1": {"app": shape_fingerprint(shape)}})
    same = build_plan(desired(t), live(project), view, options())
    assert same.steps == ()
    moved = replace(project, endpoints=(replace(project.endpoints[0], id="ep-new"),))  # type: ignore[index]
    again = build_plan(desired(t), live(moved), view, options())
    assert [s.id for s in again.steps] == ["cust-1/deliver_connection_secret/app"]
    assert "endpoint" in again.steps[0].reason
    unobserved = replace(moved, catalog=None, endpoints=None)
    quiet = build_plan(desired(t), live(unobserved), view, options())
    assert quiet.steps == ()  # an incremental plan keeps the recorded delivery


def test_auth_is_enabled_after_its_database_and_removal_is_a_blocker() -> None:
    project = replace(live_project_for(tenant("cust-1")), catalog=NEON)
    t = app_tenant(auth=Sourced(AuthSpec("better_auth", "app"), "tenant cust-1"))
    plan = plan_of(t, project)
    enable = next(s for s in plan.steps if s.id == "cust-1/enable_auth")
    assert "cust-1/create_database/app" in enable.depends_on
    on = replace(project, catalog=replace(NEON, auth_database="neondb"))
    blocked = plan_of(tenant("cust-1"), on)
    assert "allow_auth_removal" in blocked.blockers[0].message
    allowed = plan_of(tenant("cust-1"), on, allow_auth_removal=True)
    assert [s.id for s in allowed.steps] == ["cust-1/disable_auth"]


def test_a_branch_compute_is_created_after_its_branch_and_updated_when_it_differs() -> None:
    spec = BranchSpec("staging", compute=BranchCompute(0.25, 1, 300))
    t = tenant("cust-1", branches=[spec])
    fresh = live_project_for(tenant("cust-1"))
    plan = plan_of(t, fresh)
    create = next(s for s in plan.steps if s.id == "cust-1/create_endpoint/staging")
    assert "cust-1/create_branch/staging" in create.depends_on
    with_branch = live_project_for(t)
    branch_id = "br-prj-cust-1-staging"
    main_endpoint = with_branch.endpoints[0]  # type: ignore[index]
    small = replace(
        main_endpoint, id="ep-staging", branch_id=branch_id, autoscaling_limit_max_cu=2.0
    )
    project = replace(with_branch, endpoints=(main_endpoint, small))
    updated = plan_of(t, project)
    assert [s.id for s in updated.steps] == ["cust-1/update_endpoint/ep-staging"]
    change = updated.steps[0].changes[0]
    assert (change.path, change.old, change.new) == (
        "branches.staging.compute.autoscaling_limit_max_cu",
        2.0,
        1,
    )


def test_a_transfer_redelivers_after_the_move() -> None:
    t = replace(app_tenant(), tier="pro", org_alias="paid", org_id="org-paid-1")
    catalog = replace(
        NEON, databases=(LiveDatabase("app", "app_owner"),), roles=(LiveRole("app_owner"),)
    )
    project = replace(live_project_for(t, org_id="org-free-1"), catalog=catalog)
    shape = secret_shape(
        "cust-1",
        SECRET,
        project_id=project.id,
        org_id="org-free-1",
        branch_id="br-prj-cust-1-main",
        endpoint_id="ep-prj-cust-1",
    )
    view = replace(ledger(owned(t)), deliveries={"cust-1": {"app": shape_fingerprint(shape)}})
    plan = build_plan(desired(t), live(project), view, options())
    deliver = next(s for s in plan.steps if s.id == "cust-1/deliver_connection_secret/app")
    transfer = next(s for s in plan.steps if s.tenant is None)
    assert transfer.id in deliver.depends_on
