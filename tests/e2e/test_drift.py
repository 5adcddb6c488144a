"""``fleet drift`` over loopback: five out-of-band changes, three formats, heal, ignore rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.render.drift import validate_drift_dict
from tests.e2e.conftest import Loopback
from tests.e2e.test_import import RATE_BUDGET
from tests.support.cli import Result, run_subprocess

pytestmark = pytest.mark.e2e


def fleet(args: list[str], workdir: Path, env: dict[str, str], ledger_url: str) -> Result:
    return run_subprocess(["--ledger", ledger_url, *args], cwd=workdir, env={**env, **RATE_BUDGET})


def project_named(loopback: Loopback, name: str) -> dict[str, Any]:
    everything = loopback.projects("org-free-1", "NEON_FREE_ORG_KEY") + loopback.projects(
        "org-paid-1", "NEON_PAID_ORG_KEY"
    )
    [project] = [p for p in everything if p["name"] == name]
    return project


def org_key_of(project: dict[str, Any]) -> str:
    return "NEON_FREE_ORG_KEY" if project["org_id"] == "org-free-1" else "NEON_PAID_ORG_KEY"


def change_out_of_band(loopback: Loopback) -> None:
    """The five changes of the issue, made with org keys (and the personal key to transfer)."""
    # 1. a quota, with the org key
    cust42 = project_named(loopback, "t-cust-00042")
    with loopback.api("NEON_FREE_ORG_KEY") as api:
        quota = {**cust42["settings"]["quota"], "compute_time_seconds": 99}
        answer = api.patch(
            f"/projects/{cust42['id']}", json={"project": {"settings": {"quota": quota}}}
        )
        assert answer.status_code == 200, answer.text
        # 2. a compute limit of the agent's endpoint
        agent = project_named(loopback, "t-agent-run-0002")
        [endpoint] = api.get(f"/projects/{agent['id']}/endpoints").json()["endpoints"]
        answer = api.patch(
            f"/projects/{agent['id']}/endpoints/{endpoint['id']}",
            json={"endpoint": {"autoscaling_limit_max_cu": 2}},
        )
        assert answer.status_code == 200, answer.text
        # 4. an unmanaged project in a managed org
        answer = api.post("/projects", json={"project": {"name": "hand-made-app"}})
        assert answer.status_code == 201, answer.text
    # 3. a declared branch deleted
    cust100 = project_named(loopback, "t-cust-00100")
    with loopback.api("NEON_PAID_ORG_KEY") as api:
        branches = api.get(f"/projects/{cust100['id']}/branches").json()["branches"]
        [analytics] = [b for b in branches if b["name"] == "analytics"]
        answer = api.delete(f"/projects/{cust100['id']}/branches/{analytics['id']}")
        assert answer.status_code == 200, answer.text
    # 5. a project moved to the other org, with the personal key
    cust43 = project_named(loopback, "t-cust-00043")
    with loopback.api("NEON_PERSONAL_KEY") as api:
        answer = api.post(
            "/organizations/org-free-1/projects/transfer",
            json={"destination_org_id": "org-paid-1", "project_ids": [cust43["id"]]},
        )
        assert answer.status_code == 200, answer.text


EXPECTED = [
    ("agent-run-0002", "changed", "compute.autoscaling_limit_max_cu"),
    ("cust-00042", "changed", "quota.compute_time_seconds"),
    ("cust-00043", "wrong_org", "org"),
    ("cust-00100", "missing_branch", "branches.analytics"),
    (None, "unmanaged_project", "projects.hand-made-app"),
]


def items_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [i for s in document["tenants"] for i in s["items"]]
    return found + list(document["unmanaged"])


def test_drift_reports_exactly_the_five_changes_then_apply_heals(
    loopback: Loopback, workdir: Path, env: dict[str, str], ledger_url: str
) -> None:
    assert fleet(["apply", "fleet", "--auto-approve"], workdir, env, ledger_url).code == 0
    clean = fleet(["drift", "fleet", "--detailed-exitcode"], workdir, env, ledger_url)
    assert clean.code == 0, clean.text
    assert "No drift." in clean.out

    change_out_of_band(loopback)
    as_json = fleet(
        ["drift", "fleet", "--detailed-exitcode", "--format", "json", "--out", "drift.json"],
        workdir,
        env,
        ledger_url,
    )
    assert as_json.code == 2, as_json.text
    document = json.loads(as_json.out)
    validate_drift_dict(document)
    assert json.loads((workdir / "drift.json").read_text()) == document
    assert next(iter(document)) == "summary"
    found = [(i["tenant"], i["kind"], i["path"]) for i in items_of(document)]
    assert found == EXPECTED
    assert document["summary"]["items"] == 5
    assert document["summary"]["tenants"] == 4
    assert document["summary"]["unmanaged_projects"] == 1
    by_path = {i["path"]: i for i in items_of(document)}
    assert by_path["quota.compute_time_seconds"]["live"] == 99
    assert by_path["quota.compute_time_seconds"]["desired"] == 18000
    assert by_path["quota.compute_time_seconds"]["origin"] == "tenant cust-00042"
    assert by_path["compute.autoscaling_limit_max_cu"]["live"] == 2
    assert by_path["compute.autoscaling_limit_max_cu"]["origin"] == "tier free"
    assert by_path["org"]["live"] == "org-paid-1"
    assert by_path["org"]["desired"] == "org-free-1"
    first_since = {i["id"]: i["since"] for i in items_of(document)}

    as_text = fleet(["drift", "fleet", "--detailed-exitcode"], workdir, env, ledger_url)
    assert as_text.code == 2, as_text.text
    assert "Drift: 5 item(s) in 4 tenant(s), 1 unmanaged project(s)" in as_text.out
    assert "quota.compute_time_seconds: 99 live → 18000 desired  (tenant cust-00042)" in as_text.out
    as_markdown = fleet(
        ["drift", "fleet", "--detailed-exitcode", "--format", "markdown"], workdir, env, ledger_url
    )
    assert as_markdown.code == 2, as_markdown.text
    assert as_markdown.out.startswith("### neon-fleet drift report: `acme`")
    for _tenant, kind, path in EXPECTED:
        assert f"{kind} {path}" in as_markdown.out
        assert f"{kind} {path}" in as_text.out
    # The ledger remembers since when each item drifts.
    again = json.loads(fleet(["drift", "fleet", "--format", "json"], workdir, env, ledger_url).out)
    assert {i["id"]: i["since"] for i in items_of(again)} == first_since
    assert again["report_id"] > document["report_id"]

    # Drift reads every detail; an incremental apply would trust the list pages for tenants
    # whose manifests did not change and miss the endpoint and the branch: heal with a full one.
    healed = fleet(
        ["apply", "fleet", "--auto-approve", "--refresh", "all"], workdir, env, ledger_url
    )
    assert healed.code == 0, healed.text
    after = fleet(
        ["drift", "fleet", "--detailed-exitcode", "--format", "json"], workdir, env, ledger_url
    )
    assert after.code == 2, after.text
    left = json.loads(after.out)
    assert [(i["tenant"], i["kind"], i["path"]) for i in items_of(left)] == [EXPECTED[-1]]


def test_fleetignore_silences_accepted_drift(
    loopback: Loopback, workdir: Path, env: dict[str, str], ledger_url: str
) -> None:
    assert fleet(["apply", "fleet", "--auto-approve"], workdir, env, ledger_url).code == 0
    change_out_of_band(loopback)
    (workdir / "fleet" / ".fleetignore").write_text(
        "# accepted drift\n"
        "cust-00042 quota.compute_time_seconds\n"
        "agent-run-* compute.*   # agents may scale themselves\n"
        "projects.hand-made-*\n"
    )
    result = fleet(
        ["drift", "fleet", "--detailed-exitcode", "--format", "json"], workdir, env, ledger_url
    )
    assert result.code == 2, result.text
    document = json.loads(result.out)
    assert [(i["tenant"], i["kind"], i["path"]) for i in items_of(document)] == [
        ("cust-00043", "wrong_org", "org"),
        ("cust-00100", "missing_branch", "branches.analytics"),
    ]
    assert document["summary"]["ignored"] == 3
    assert len(document["ignored"]) == 3


def test_drift_needs_no_personal_key_and_never_writes(
    loopback: Loopback, workdir: Path, env: dict[str, str], ledger_url: str
) -> None:
    assert fleet(["apply", "fleet", "--auto-approve"], workdir, env, ledger_url).code == 0
    change_out_of_band(loopback)
    before = loopback.projects("org-paid-1", "NEON_PAID_ORG_KEY")
    org_keys_only = {k: v for k, v in env.items() if k != "NEON_PERSONAL_KEY"}
    result = fleet(["drift", "fleet", "--detailed-exitcode"], workdir, org_keys_only, ledger_url)
    assert result.code == 2, result.text
    assert "wrong_org org" in result.out
    assert loopback.projects("org-paid-1", "NEON_PAID_ORG_KEY") == before
