"""``fleet import``'s decisions: tenant names, the closest tier, overrides, branches and keys."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.core.catalog import (
    AuthSpec,
    DatabaseSpec,
    LiveCatalog,
    LiveDatabase,
    LiveRole,
    RoleSpec,
)
from reconciler.core.model import LiveApiKey, LiveBranch, LiveEndpoint, LiveProject
from reconciler.manifests.export import (
    build_manifest,
    choose_tier,
    sanitized_tenant,
    tenant_from_name,
)
from tests.core.factories import TIERS, fleet_config, live_project_for, tenant

pytestmark = pytest.mark.unit


def branches_of(project: LiveProject) -> tuple[LiveBranch, ...]:
    assert project.branches is not None
    return project.branches


def endpoints_of(project: LiveProject) -> tuple[LiveEndpoint, ...]:
    assert project.endpoints is not None
    return project.endpoints


FREE = TIERS["free"]
PAID = TIERS["paid"]


def test_tenant_names_come_from_the_template_when_the_name_fits():
    assert tenant_from_name("t-{tenant}", "t-cust-42") == "cust-42"
    assert tenant_from_name("{tenant}.prod", "shop.prod") == "shop"
    assert tenant_from_name("t-{tenant}", "cust-42") is None
    assert tenant_from_name("t-{tenant}", "t-bad name") is None
    assert tenant_from_name("{tenant}", "x" * 64) is None  # tenant names stop at 63
    assert sanitized_tenant("Shop (EU) v2", "p-1") == "Shop-EU-v2"
    assert sanitized_tenant("((()))", "round-snow-123") == "round-snow-123"


def test_the_exact_tier_needs_no_override_and_the_closest_gets_explicit_ones():
    quota = {"compute_time_seconds": 18000, "logical_size_bytes": 536870912}
    compute = dict(FREE.compute)
    exact = choose_tier([PAID, FREE], quota, compute)
    assert (exact.tier, exact.override_count) == ("free", 0)
    closest = choose_tier(
        [PAID, FREE],
        {**quota, "compute_time_seconds": 1},
        {**compute, "autoscaling_limit_max_cu": 4},
    )
    assert (closest.tier, dict(closest.quota), dict(closest.compute)) == (
        "free",
        {"compute_time_seconds": 1},
        {"autoscaling_limit_max_cu": 4},
    )


def test_an_unmanaged_value_equal_to_another_tiers_is_imported_as_an_override():
    # pro leaves compute_time_seconds unmanaged; the project's value is free's, which the
    # planner would take for free's leftover and reset unless the manifest pins it.
    pro = replace(PAID, quota={"logical_size_bytes": PAID.quota["logical_size_bytes"]})
    quota = {
        "compute_time_seconds": FREE.quota["compute_time_seconds"],
        "logical_size_bytes": PAID.quota["logical_size_bytes"],
    }
    choice = choose_tier([pro, FREE], quota, dict(PAID.compute))
    assert (choice.tier, dict(choice.quota)) == ("paid", {"compute_time_seconds": 18000})
    unrelated = choose_tier([pro, FREE], {**quota, "compute_time_seconds": 7}, dict(PAID.compute))
    assert (unrelated.tier, dict(unrelated.quota)) == ("paid", {})  # a value no tier sets


def test_manifest_reproduces_placement_and_binds_names_outside_the_template():
    project = replace(
        live_project_for(tenant("x")),
        name="Shop (EU) v2",
        hipaa=True,
        region_id="aws-eu-central-1",
        pg_version=16,
    )
    made = build_manifest(fleet_config(), [FREE], project, "Shop-EU-v2", bound=True)
    spec = made.document["spec"]
    assert spec == {
        "tier": "free",
        "project_id": project.id,
        "region": "aws-eu-central-1",
        "pg_version": 16,
        "hipaa": True,
        "lifecycle": {"ignore_changes": ["project_name"]},
    }


def test_endpoints_that_disagree_are_left_alone_with_a_note():
    project = live_project_for(tenant("cust-1"))
    odd = replace(endpoints_of(project)[0], id="ep-2", autoscaling_limit_max_cu=3.0)
    project = replace(project, endpoints=(*endpoints_of(project), odd))
    made = build_manifest(fleet_config(), [FREE], project, "cust-1", bound=False)
    assert made.document["spec"] == {
        "tier": "free",
        "lifecycle": {"ignore_changes": ["compute.autoscaling_limit_max_cu"]},
    }
    assert made.notes == (
        "endpoints disagree on autoscaling_limit_max_cu: left as it is (ignore_changes)",
    )


def test_branches_and_fleet_named_keys_are_declared_others_noted():
    project = live_project_for(tenant("cust-1"))
    main = branches_of(project)[0]
    dev = LiveBranch("br-dev", "dev", main.id, True, False, "2026-01-01T00:00:00Z")
    feature = LiveBranch("br-f", "feature/x", "br-dev", False, False, "2026-01-01T00:00:00Z")
    preview = replace(feature, id="br-p", name="preview", expires_at="2026-12-01T00:00:00Z")
    old = replace(feature, id="br-o", name="main (old)", parent_id=None)
    project = replace(project, branches=(main, dev, feature, preview, old))
    keys = [
        LiveApiKey(3, "cust-1:runtime", "org-free-1", project.id),
        LiveApiKey(4, "cust-1:runtime", "org-free-1", project.id),
        LiveApiKey(5, "someone's key", "org-free-1", project.id),
        LiveApiKey(6, "cust-1:ci", "org-free-1", "another-project"),
    ]
    made = build_manifest(fleet_config(), [FREE], project, "cust-1", bound=False, keys=keys)
    spec = made.document["spec"]
    assert spec["branches"] == [
        {"name": "dev", "parent": "main", "protected": True},
        {"name": "feature/x", "parent": "dev"},
    ]
    assert made.branch_ids == {"dev": "br-dev", "feature/x": "br-f"}
    assert spec["api_keys"] == [{"name": "runtime"}]
    assert [k.id for k in made.keys] == [3]
    assert made.notes == (
        "branch 'main (old)' expires or is a restore leftover: not declared",
        "branch 'preview' expires or is a restore leftover: not declared",
        "key 'cust-1:runtime' (4) duplicates key 3",
    )


def test_databases_roles_and_auth_are_imported_where_they_differ_from_the_tier():
    project = live_project_for(tenant("cust-1"))
    neon_default = LiveCatalog(
        "br-main",
        (LiveDatabase("neondb", "neondb_owner"),),
        (LiveRole("neondb_owner"), LiveRole("cloud_admin", protected=True)),
        auth_observed=True,
    )
    plain = build_manifest(
        fleet_config(), [FREE], replace(project, catalog=neon_default), "cust-1", bound=False
    )
    assert plain.document["spec"] == {"tier": "free"}  # Neon's defaults stay unmanaged
    app = replace(
        neon_default,
        databases=(LiveDatabase("app", "app_owner"),),
        roles=(LiveRole("app_owner"),),
        auth_database="app",
    )
    made = build_manifest(
        fleet_config(), [FREE], replace(project, catalog=app), "cust-1", bound=False
    )
    assert made.document["spec"] == {
        "tier": "free",
        "databases": [{"name": "app", "owner": "app_owner"}],
        "roles": [{"name": "app_owner"}],
        "auth": {"provider": "better_auth", "database": "app"},
    }
    declaring = replace(
        FREE,
        databases=(DatabaseSpec("app", "app_owner"),),
        roles=(RoleSpec("app_owner"),),
        auth=AuthSpec("better_auth", "app"),
    )
    same = build_manifest(
        fleet_config(), [declaring], replace(project, catalog=app), "cust-1", bound=False
    )
    assert same.document["spec"] == {
        "tier": "free",
        "auth": {"provider": "better_auth", "database": "app"},
    }
    noted = build_manifest(
        fleet_config(), [declaring], replace(project, catalog=neon_default), "cust-1", bound=False
    )
    assert "declares Neon Auth" in noted.notes[-1]
