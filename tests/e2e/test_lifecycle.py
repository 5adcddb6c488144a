"""Tenant lifecycle over loopback: upgrades, downgrades, keys, branches and offboarding."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.e2e.conftest import KEYS, Loopback
from tests.e2e.lifecycle_support import (
    TRANSFER_ROUTE,
    branches_of,
    create_branch_out_of_band,
    edit_tenant,
    fleet,
    ok,
    project_named,
    remove_tenant,
    set_fleet_policy,
    sink_document,
)

pytestmark = pytest.mark.e2e

PRO_QUOTA = {
    "active_time_seconds": 0,
    "compute_time_seconds": 360000,
    "written_data_bytes": 53687091200,
    "logical_size_bytes": 10737418240,
}


def test_upgrade_three_tenants_in_one_transfer_call(loopback: Loopback, workdir, env):
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    old_key = sink_document(workdir, "cust-00042", "runtime")
    for tenant in ("cust-00042", "cust-00043", "agent-run-0002"):
        edit_tenant(workdir, tenant, "tier: free", "tier: pro")
    plan = ok(["plan", "fleet", "--format", "json"], workdir, env)
    steps = json.loads(plan.out)["steps"]
    transfers = [s for s in steps if s["action"] == "transfer_projects"]
    assert len(transfers) == 1
    assert transfers[0]["after"]["tenants"] == ["agent-run-0002", "cust-00042", "cust-00043"]
    before = loopback.emulator.stats().requests.get(TRANSFER_ROUTE, 0)

    result = ok(["apply", "fleet", "--auto-approve"], workdir, env)
    assert "0 failed" in result.out
    assert loopback.emulator.stats().requests[TRANSFER_ROUTE] - before == 1
    for tenant, compute_quota in (
        ("cust-00042", 18000),  # the tenant's own override survives the tier change
        ("cust-00043", 360000),
        ("agent-run-0002", 360000),
    ):
        project = project_named(loopback, f"t-{tenant}")
        assert project["org_id"] == "org-paid-1"
        quota = project["settings"]["quota"]
        assert quota["compute_time_seconds"] == compute_quota
        assert quota["logical_size_bytes"] == PRO_QUOTA["logical_size_bytes"]
        assert project["default_endpoint_settings"]["autoscaling_limit_max_cu"] == 4
    new_key = sink_document(workdir, "cust-00042", "runtime")
    assert new_key["org_id"] == "org-paid-1" and new_key["key_id"] != old_key["key_id"]
    project = project_named(loopback, "t-cust-00042")
    with httpx.Client(base_url=loopback.url, timeout=10) as client:
        headers = {"Authorization": f"Bearer {old_key['token']}"}
        assert client.get(f"/projects/{project['id']}", headers=headers).status_code in (401, 403)
        headers = {"Authorization": f"Bearer {new_key['token']}"}
        assert client.get(f"/projects/{project['id']}", headers=headers).status_code == 200
    assert ok(["plan", "fleet", "--detailed-exitcode"], workdir, env).code == 0


def test_downgrade_and_integration_blocker(loopback: Loopback, workdir, env):
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    edit_tenant(workdir, "cust-00101", "tier: pro", "tier: free")
    edit_tenant(workdir, "cust-00100", "tier: pro", "tier: free")
    blocked = project_named(loopback, "t-cust-00100")
    with httpx.Client(base_url=loopback.url.replace("/api/v2", ""), timeout=10) as admin:
        answer = admin.patch(f"/_emulator/projects/{blocked['id']}", json={"integration": "vercel"})
        assert answer.status_code == 200, answer.text
    plan = fleet(["plan", "fleet", "--detailed-exitcode"], workdir, env)
    assert plan.code == 2
    assert "vercel integration (Neon answers 422)" in plan.out
    # The unblocked downgrade is applied; the blocked tenant makes the run exit 5.
    applied = fleet(["apply", "fleet", "--auto-approve"], workdir, env)
    assert applied.code == 5, applied.text
    assert "blocked tenant(s) left unchanged: cust-00100" in applied.err
    moved = project_named(loopback, "t-cust-00101")
    assert moved["org_id"] == "org-free-1"
    assert moved["settings"]["quota"]["compute_time_seconds"] == 9000
    assert project_named(loopback, "t-cust-00100")["org_id"] == "org-paid-1"


def test_missing_or_org_transfer_key_is_a_blocker_before_anything_runs(
    loopback: Loopback, workdir, env
):
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    edit_tenant(workdir, "cust-00043", "tier: free", "tier: pro")
    wrong = {**env, "NEON_PERSONAL_KEY": KEYS["NEON_FREE_ORG_KEY"]}
    plan = fleet(["plan", "fleet"], workdir, wrong)
    assert "transfer needs a personal API key (NEON_PERSONAL_KEY" in plan.out
    assert "holds a key of kind api_key_org" in plan.out
    unset = {k: v for k, v in env.items() if k != "NEON_PERSONAL_KEY"}
    unset["NEON_PERSONAL_KEY"] = ""
    plan = fleet(["plan", "fleet"], workdir, unset)
    assert "personal_api_key_env NEON_PERSONAL_KEY is not set" in plan.out
    result = fleet(["apply", "fleet", "--auto-approve"], workdir, unset)
    assert result.code == 5, result.text
    assert "Nothing to apply" in result.out and "! cust-00043: " in result.out
    assert project_named(loopback, "t-cust-00043")["org_id"] == "org-free-1"


def test_key_rotation_delivers_then_revokes(loopback: Loopback, workdir, env):
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    old = sink_document(workdir, "cust-00101", "runtime")
    result = ok(["keys", "rotate", "fleet", "cust-00101"], workdir, env)
    assert "2 succeeded" in result.out
    new = sink_document(workdir, "cust-00101", "runtime")
    assert new["key_id"] != old["key_id"]
    with httpx.Client(base_url=loopback.url, timeout=10) as client:
        project = f"/projects/{new['project_id']}"
        assert (
            client.get(project, headers={"Authorization": f"Bearer {old['token']}"}).status_code
            == 401
        )
        assert (
            client.get(project, headers={"Authorization": f"Bearer {new['token']}"}).status_code
            == 200
        )
    assert ok(["plan", "fleet", "--detailed-exitcode"], workdir, env).code == 0
    unknown = fleet(["keys", "rotate", "fleet", "cust-00101", "--key", "nope"], workdir, env)
    assert unknown.code == 1 and "declares no API key named nope" in unknown.err


def test_branches_update_expire_gc_and_max_branches(loopback: Loopback, workdir, env):
    set_fleet_policy(workdir, "old_branch_max_age: 7d", "old_branch_max_age: 1s")
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    project = project_named(loopback, "t-cust-00042")
    branches = branches_of(loopback, project)
    assert branches["preview-pr-7"]["expires_at"]
    assert branches["staging"]["protected"] is False
    edit_tenant(
        workdir,
        "cust-00042",
        "{name: staging, parent: main}",
        "{name: staging, parent: main, protected: true}",
    )
    # A restore leaves "main (old)" behind; policy old_branch_max_age deletes it once old.
    create_branch_out_of_band(loopback, project, "main (old)")
    time.sleep(1.5)
    plan = ok(["plan", "fleet", "--format", "json"], workdir, env)
    actions = {(s["action"], s["id"]) for s in json.loads(plan.out)["steps"]}
    assert ("update_branch", "cust-00042/update_branch/staging") in actions
    assert any(a == "delete_branch" for a, _ in actions)
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    branches = branches_of(loopback, project)
    assert branches["staging"]["protected"] is True
    assert "main (old)" not in branches
    # Over the tier's max_branches (5 besides main): a blocker, nothing applied.
    for n in range(4):
        create_branch_out_of_band(loopback, project, f"x{n}")
    edit_tenant(
        workdir,
        "cust-00042",
        "{name: staging, parent: main, protected: true}",
        "{name: staging, parent: main, protected: true}\n    - {name: extra, parent: main}",
    )
    plan = fleet(["plan", "fleet", "--detailed-exitcode"], workdir, env)
    assert plan.code == 2
    assert "would exceed the tier's max_branches of 5" in plan.out


def test_offboarding_with_and_without_prune(loopback: Loopback, workdir, env):
    ok(["apply", "fleet", "--auto-approve"], workdir, env)
    for tenant in ("agent-run-0001", "agent-run-0002", "cust-00043", "cust-00042"):
        remove_tenant(workdir, tenant)
    plan = ok(["plan", "fleet", "--format", "json"], workdir, env)
    document = json.loads(plan.out)
    assert not [s for s in document["steps"] if s["action"] == "delete_project"]
    assert any("prune" in w for w in document["warnings"])

    set_fleet_policy(workdir, "prune: false", "prune: true")
    plan = fleet(["plan", "fleet", "--format", "json", "--detailed-exitcode"], workdir, env)
    document = json.loads(plan.out)
    deletes = [s["tenant"] for s in document["steps"] if s["action"] == "delete_project"]
    blockers = {b["tenant"]: b["message"] for b in document["blockers"]}
    assert len(deletes) == 2  # max_deletes: 2
    assert "prevent_destroy" in blockers["cust-00042"]
    assert any("max_deletes" in m for t, m in blockers.items() if t != "cust-00042")

    result = fleet(["apply", "fleet", "--auto-approve"], workdir, env)
    assert result.code == 5, result.text  # prevent_destroy and max_deletes blocked tenants
    assert "can be recovered until" in result.out
    assert "cust-00042" in result.err.splitlines()[-1]
    names = {p["name"] for p in loopback.projects("org-free-1", "NEON_FREE_ORG_KEY")}
    assert len({f"t-{t}" for t in deletes} & names) == 0
    assert "t-cust-00042" in names
