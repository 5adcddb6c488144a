"""``fleet import`` over loopback: 50 pre-existing projects become manifests, then plan is empty."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.ledger import open_ledger
from reconciler.manifests import load_fleet
from tests.e2e.conftest import Loopback
from tests.support.cli import Result, run_subprocess

pytestmark = pytest.mark.e2e

FREE_QUOTA = {
    "active_time_seconds": 36000,
    "compute_time_seconds": 9000,
    "written_data_bytes": 1073741824,
    "data_transfer_bytes": 5368709120,
    "logical_size_bytes": 536870912,
}
FREE_COMPUTE = {
    "autoscaling_limit_min_cu": 0.25,
    "autoscaling_limit_max_cu": 1,
    "suspend_timeout_seconds": 300,
}
PRO_QUOTA = {
    "active_time_seconds": 0,
    "compute_time_seconds": 360000,
    "written_data_bytes": 53687091200,
    "data_transfer_bytes": 0,
    "logical_size_bytes": 10737418240,
}
PRO_COMPUTE = {
    "autoscaling_limit_min_cu": 0.5,
    "autoscaling_limit_max_cu": 4,
    "suspend_timeout_seconds": 0,
}


#: The e2e emulator allows 6000 requests/min and 400/s per route (``e2e_seed``): tell the
#: client, whose default budget is Neon's 700/min, so reading 50 projects is not paced for 9 s.
RATE_BUDGET = {"NEON_FLEET_RATE_LIMIT": "6000/min", "NEON_FLEET_ROUTE_RATE_LIMIT": "400/s"}


def fleet(args: list[str], workdir: Path, env: dict[str, str], ledger_url: str) -> Result:
    return run_subprocess(["--ledger", ledger_url, *args], cwd=workdir, env={**env, **RATE_BUDGET})


def create(loopback: Loopback, key_env: str, body: dict[str, Any]) -> dict[str, Any]:
    with loopback.api(key_env) as api:
        answer = api.post("/projects", json={"project": body})
    assert answer.status_code == 201, answer.text
    project: dict[str, Any] = answer.json()["project"]
    return project


def seed_existing_fleet(loopback: Loopback) -> dict[str, str]:
    """50 projects nobody manages yet; returns name → expected tier."""
    expected: dict[str, str] = {}
    for n in range(40):
        quota = dict(FREE_QUOTA)
        compute = dict(FREE_COMPUTE)
        if n % 4 == 1:
            quota["compute_time_seconds"] = 18000 + n  # a tenant-level quota override
        if n % 4 == 2:
            compute["autoscaling_limit_max_cu"] = 2  # a compute override
        if n % 4 == 3:
            quota["data_transfer_bytes"] = 0
            compute["suspend_timeout_seconds"] = 60
        name = f"t-legacy-{n:03d}"
        create(
            loopback,
            "NEON_FREE_ORG_KEY",
            {"name": name, "settings": {"quota": quota}, "default_endpoint_settings": compute},
        )
        expected[name] = "free"
    for n in range(10):
        body: dict[str, Any] = {
            "name": f"t-paying-{n:02d}",
            "settings": {"quota": PRO_QUOTA},
            "default_endpoint_settings": PRO_COMPUTE,
        }
        if n % 2:
            body |= {"region_id": "aws-eu-central-1", "pg_version": 16}
        create(loopback, "NEON_PAID_ORG_KEY", body)
        expected[f"t-paying-{n:02d}"] = "pro"
    return expected


def add_branch_and_key(loopback: Loopback, name: str) -> str:
    """A ``dev`` branch and a fleet-named key on project ``name``; returns its id."""
    [project] = [
        p for p in loopback.projects("org-free-1", "NEON_FREE_ORG_KEY") if p["name"] == name
    ]
    with loopback.api("NEON_FREE_ORG_KEY") as api:
        branches = api.get(f"/projects/{project['id']}/branches").json()["branches"]
        [main] = [b for b in branches if b["default"]]
        for _ in range(50):  # the project's create operations must finish first (423 meanwhile)
            answer = api.post(
                f"/projects/{project['id']}/branches",
                json={"branch": {"name": "dev", "parent_id": main["id"]}},
            )
            if answer.status_code != 423:
                break
        assert answer.status_code == 201, answer.text
        answer = api.post(
            "/organizations/org-free-1/api_keys",
            json={"key_name": f"{name}:runtime", "project_id": project["id"]},
        )
        assert answer.status_code == 200, answer.text
    return str(project["id"])


def test_import_fifty_projects_then_plan_and_drift_are_empty(
    loopback: Loopback, workdir: Path, env: dict[str, str], ledger_url: str
) -> None:
    assert fleet(["apply", "fleet", "--auto-approve"], workdir, env, ledger_url).code == 0
    expected = seed_existing_fleet(loopback)
    keyed = add_branch_and_key(loopback, "t-legacy-005")

    free = fleet(
        ["import", "fleet", "--org", "free", "--out", "fleet/tenants/imported"],
        workdir,
        env,
        ledger_url,
    )
    assert free.code == 0, free.text
    paid = fleet(
        ["import", "fleet", "--org", "paid", "--match", "^t-paying-", "--out", "fleet/imported"],
        workdir,
        env,
        ledger_url,
    )
    assert paid.code == 0, paid.text
    assert "Import complete: 40 tenant(s)" in free.out
    assert "Import complete: 10 tenant(s)" in paid.out

    desired = load_fleet(workdir / "fleet")
    for name, tier in expected.items():
        tenant = desired.tenants[name.removeprefix("t-")]
        assert tenant.tier == tier, name
        assert tenant.project_id is None, name
    first_file = workdir / "fleet/tenants/imported/legacy-001.yaml"
    first = first_file.read_text()
    modeline = first.splitlines()[0]
    assert modeline.startswith("# yaml-language-server: $schema=")
    # No schemas/ above the output: the published $id, not this machine's package path.
    assert modeline.split("$schema=")[1] == "https://neon-fleet.dev/schemas/tenant.schema.json"
    legacy1 = yaml.safe_load(first.split("\n", 1)[1])
    assert legacy1["spec"] == {"tier": "free", "quota": {"compute_time_seconds": 18001}}
    legacy2 = yaml.safe_load((workdir / "fleet/tenants/imported/legacy-002.yaml").read_text())
    assert legacy2["spec"] == {"tier": "free", "compute": {"autoscaling_limit_max_cu": 2}}
    paying1 = yaml.safe_load((workdir / "fleet/imported/paying-01.yaml").read_text())
    assert paying1["spec"] == {"tier": "pro", "region": "aws-eu-central-1", "pg_version": 16}
    legacy5 = desired.tenants["legacy-005"]
    assert [b.name for b in legacy5.branches] == ["dev"]
    assert [k.name for k in legacy5.api_keys] == ["runtime"]

    plan = fleet(
        ["plan", "fleet", "--detailed-exitcode", "--format", "json"], workdir, env, ledger_url
    )
    assert plan.code == 0, plan.text
    assert json.loads(plan.out)["steps"] == []
    full = fleet(
        ["plan", "fleet", "--detailed-exitcode", "--refresh", "all"], workdir, env, ledger_url
    )
    assert full.code == 0, full.text
    drift = fleet(["drift", "fleet", "--detailed-exitcode"], workdir, env, ledger_url)
    assert drift.code == 0, drift.text

    with open_ledger(ledger_url, base_dir=workdir) as ledger:
        owned = ledger.view().tenants
        runs = ledger.runs(5)
    assert owned["legacy-005"].project_id == keyed
    assert [k.name for k in owned["legacy-005"].keys.values()] == ["t-legacy-005:runtime"]
    assert sum(1 for name in owned if name.startswith(("legacy-", "paying-"))) == 50
    assert [r.info.mode for r in runs[:2]] == ["import", "import"]
    assert runs[0].summary == {"succeeded": 10}

    history = fleet(["history", "--format", "json"], workdir, env, ledger_url)
    assert history.code == 0, history.text


def test_import_refuses_to_overwrite_and_skips_managed_projects(
    loopback: Loopback, workdir: Path, env: dict[str, str], ledger_url: str
) -> None:
    assert fleet(["apply", "fleet", "--auto-approve"], workdir, env, ledger_url).code == 0
    create(loopback, "NEON_FREE_ORG_KEY", {"name": "t-later-1"})
    out = workdir / "fleet" / "tenants" / "imported"
    out.mkdir(parents=True)
    (out / "later-1.yaml").write_text("# someone else's file\n")
    refused = fleet(
        ["import", "fleet", "--org", "free", "--out", str(out)], workdir, env, ledger_url
    )
    assert refused.code == 1
    assert "refusing to overwrite" in refused.err
    (out / "later-1.yaml").unlink()
    done = fleet(["import", "fleet", "--org", "free", "--out", str(out)], workdir, env, ledger_url)
    assert done.code == 0, done.text
    # The example's own tenants are already managed: only the new project was imported.
    assert "Import complete: 1 tenant(s)" in done.out
    assert done.out.count("skipped ") == 4
    spec = yaml.safe_load((out / "later-1.yaml").read_text())["spec"]
    # Emulator defaults differ from every tier: the closest tier plus explicit overrides.
    assert spec["tier"] == "free"
    assert spec["compute"] == {"autoscaling_limit_min_cu": 1, "suspend_timeout_seconds": 0}
    assert spec["quota"] == {k: 0 for k in FREE_QUOTA}
    again = fleet(["plan", "fleet", "--detailed-exitcode"], workdir, env, ledger_url)
    assert again.code == 0, again.text
    unknown = fleet(
        ["import", "fleet", "--org", "nope", "--out", str(out)], workdir, env, ledger_url
    )
    assert unknown.code == 1
    assert "unknown org alias 'nope'" in unknown.err


def test_names_outside_the_template_are_bound_by_project_id(
    loopback: Loopback, workdir: Path, env: dict[str, str], ledger_url: str
) -> None:
    assert fleet(["apply", "fleet", "--auto-approve"], workdir, env, ledger_url).code == 0
    odd = create(
        loopback,
        "NEON_FREE_ORG_KEY",
        {
            "name": "Shop (EU) v2",
            "settings": {"quota": FREE_QUOTA},
            "default_endpoint_settings": FREE_COMPUTE,
        },
    )
    out = workdir / "fleet" / "tenants" / "imported"
    done = fleet(["import", "fleet", "--org", "free", "--out", str(out)], workdir, env, ledger_url)
    assert done.code == 0, done.text
    assert f"imported {odd['id']} as tenant Shop-EU-v2 (bound by project_id)" in done.out
    spec = yaml.safe_load((out / "Shop-EU-v2.yaml").read_text())["spec"]
    assert spec == {
        "tier": "free",
        "project_id": odd["id"],
        "lifecycle": {"ignore_changes": ["project_name"]},
    }
    plan = fleet(
        ["plan", "fleet", "--detailed-exitcode", "--format", "json"], workdir, env, ledger_url
    )
    # The project keeps its name: nothing is renamed.
    assert plan.code == 0, plan.text
    names = [p["name"] for p in loopback.projects("org-free-1", "NEON_FREE_ORG_KEY")]
    assert "Shop (EU) v2" in names
