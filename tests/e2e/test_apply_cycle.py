"""Plan → apply → re-plan over loopback, quota edits, stale plans and the apply lock."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.ledger import open_ledger
from tests.e2e.conftest import Loopback
from tests.support.cli import Result, run_subprocess

pytestmark = pytest.mark.e2e


def fleet(args: list[str], workdir: Path, env: dict[str, str]) -> Result:
    return run_subprocess(args, cwd=workdir, env=env)


def applied(workdir: Path, env: dict[str, str]) -> Result:
    result = fleet(["apply", "fleet", "--auto-approve"], workdir, env)
    assert result.code == 0, result.text
    return result


def test_apply_example_then_replan_is_empty(loopback: Loopback, workdir, env):
    result = applied(workdir, env)
    assert "Apply complete: 15 succeeded, 0 failed, 0 skipped" in result.out
    names = sorted(p["name"] for p in loopback.projects("org-free-1", "NEON_FREE_ORG_KEY"))
    assert names == ["t-agent-run-0001", "t-agent-run-0002", "t-cust-00042", "t-cust-00043"]
    replan = fleet(["plan", "fleet", "--detailed-exitcode"], workdir, env)
    assert replan.code == 0, replan.text
    assert "No changes." in replan.out
    # Tokens went to the sink, one 0600 file per key, and nowhere else.
    keys = sorted(p.relative_to(workdir) for p in (workdir / ".fleet" / "secrets").rglob("*.json"))
    assert [str(k) for k in keys] == [
        ".fleet/secrets/cust-00042/runtime.json",
        ".fleet/secrets/cust-00100/ci.json",
        ".fleet/secrets/cust-00100/runtime.json",
        ".fleet/secrets/cust-00101/runtime.json",
    ]
    token = json.loads((workdir / keys[0]).read_text())["token"]
    assert token not in result.text + replan.text


def test_quota_change_in_git_plans_exactly_that_change(loopback: Loopback, workdir, env):
    applied(workdir, env)
    tenant_file = workdir / "fleet" / "tenants" / "cust-00043.yaml"
    text = tenant_file.read_text()
    tenant_file.write_text(
        text.replace("tier: free", "tier: free\n  quota: {written_data_bytes: 2147483648}", 1)
    )
    plan = fleet(
        ["plan", "fleet", "--format", "json", "--detailed-exitcode", "-o", "p.json"], workdir, env
    )
    assert plan.code == 2, plan.text
    document = json.loads(plan.out)
    assert [(s["tenant"], s["action"]) for s in document["steps"]] == [
        ("cust-00043", "update_project")
    ]
    [change] = document["steps"][0]["changes"]
    assert change == {
        "path": "quota.written_data_bytes",
        "old": 1073741824,
        "new": 2147483648,
        "origin": "tenant cust-00043",
    }
    done = fleet(["apply", "p.json"], workdir, env)
    assert done.code == 0, done.text
    assert "1 succeeded" in done.out
    again = fleet(["plan", "fleet", "--detailed-exitcode"], workdir, env)
    assert again.code == 0, again.text


def test_plan_saved_before_an_out_of_band_change_is_refused_as_stale(
    loopback: Loopback, workdir, env
):
    applied(workdir, env)
    tenant_file = workdir / "fleet" / "tenants" / "cust-00043.yaml"
    tenant_file.write_text(
        tenant_file.read_text().replace(
            "tier: free", "tier: free\n  quota: {active_time_seconds: 7200}", 1
        )
    )
    assert fleet(["plan", "fleet", "-o", "p.json"], workdir, env).code == 0
    [project] = [
        p
        for p in loopback.projects("org-free-1", "NEON_FREE_ORG_KEY")
        if p["name"] == "t-cust-00043"
    ]
    with loopback.api("NEON_FREE_ORG_KEY") as client:
        quota = {**project["settings"]["quota"], "compute_time_seconds": 1}
        answer = client.patch(
            f"/projects/{project['id']}", json={"project": {"settings": {"quota": quota}}}
        )
        assert answer.status_code == 200, answer.text
    refused = fleet(["apply", "p.json"], workdir, env)
    assert refused.code == 3, refused.text
    assert "the plan is stale" in refused.err
    assert "cust-00043" in refused.err
    assert "Traceback" not in refused.err


def test_a_concurrent_apply_is_refused_by_the_lock(loopback: Loopback, workdir, env):
    ledger = open_ledger(f"sqlite:///{workdir}/.fleet/ledger.db")
    with ledger, ledger.apply_lock("ci-runner@build-7"):
        refused = fleet(["apply", "fleet", "--auto-approve"], workdir, env)
    assert refused.code == 1
    assert re.search(
        r"another apply holds the ledger lock: ci-runner@build-7 \(pid \d+\) since ",
        refused.err,
    )
    assert loopback.projects("org-free-1", "NEON_FREE_ORG_KEY") == []


def test_apply_without_tty_or_auto_approve_refuses(loopback: Loopback, workdir, env):
    result = fleet(["apply", "fleet"], workdir, env)
    assert result.code == 1
    assert "pass --auto-approve" in result.err
    assert loopback.projects("org-free-1", "NEON_FREE_ORG_KEY") == []


def test_history_shows_runs_and_their_steps(loopback: Loopback, workdir, env):
    applied(workdir, env)
    listing = fleet(["history", "-f", "fleet"], workdir, env)
    assert listing.code == 0, listing.text
    [line] = [row for row in listing.out.splitlines() if row.startswith("#")]
    assert re.match(r"#1 \S+ \S+Z succeeded\s+by \S+@\S+ \(v[\d.]+\) plan [0-9a-f]{12}", line)
    assert "succeeded 15" in line
    detail = fleet(["history", "1", "-f", "fleet", "--format", "json"], workdir, env)
    [run] = json.loads(detail.out)
    assert run["result"] == "succeeded"
    steps = {s["step_id"]: s for s in run["steps"]}
    assert steps["cust-00042/create_project"]["status"] == "succeeded"
    assert steps["cust-00042/create_project"]["resource_ids"]["project_id"]
    missing = fleet(["history", "99", "-f", "fleet"], workdir, env)
    assert missing.code == 1 and "Traceback" not in missing.err
