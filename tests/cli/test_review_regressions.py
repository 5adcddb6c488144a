"""Regressions found in review, over the sandbox (in-process emulator, real CLI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from reconciler.ledger import open_ledger
from tests.support.cli import run_in_process

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "fleet", ignore=shutil.ignore_patterns("ci"))
    monkeypatch.chdir(tmp_path)
    assert run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"]).code == 0
    return tmp_path / "fleet"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _ledger(fleet: Path):
    return open_ledger(f"sqlite:///{fleet.parent}/.fleet/sandbox-ledger.db")


def test_prevent_destroy_added_later_still_protects_the_removed_tenant(fleet: Path):
    _edit(fleet / "fleet.yaml", "prune: false", "prune: true")
    tenant = fleet / "tenants" / "cust-00043.yaml"
    _edit(tenant, "tier: free", "tier: free\n  lifecycle: {prevent_destroy: true}")
    result = run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"])
    assert result.code == 0, result.text  # no step, but the ledger learns the protection
    with _ledger(fleet) as ledger:
        record = ledger.tenant("cust-00043")
        assert record is not None and record.prevent_destroy
    tenant.unlink()
    plan = run_in_process(["--sandbox", "plan", "fleet", "--format", "json"])
    document = json.loads(plan.out)
    assert not [s for s in document["steps"] if s["action"] == "delete_project"]
    assert (
        "prevent_destroy" in {b["tenant"]: b["message"] for b in document["blockers"]}["cust-00043"]
    )


def test_a_saved_transfer_plan_is_stale_when_the_moved_project_changed(fleet: Path):
    # The free tier's exact quota and compute, but in the paid org: a transfer and nothing else.
    (fleet / "tier-free-paid.yaml").write_text(
        "apiVersion: neon-fleet/v1\nkind: Tier\nmetadata: {name: free-paid}\nspec:\n"
        "  org: paid\n"
        "  quota: {active_time_seconds: 36000, compute_time_seconds: 9000,\n"
        "          written_data_bytes: 1073741824, data_transfer_bytes: 5368709120,\n"
        "          logical_size_bytes: 536870912}\n"
        "  compute: {autoscaling_limit_min_cu: 0.25, autoscaling_limit_max_cu: 1,\n"
        "            suspend_timeout_seconds: 300}\n"
        "  max_branches: 5\n"
    )
    _edit(fleet / "tenants" / "cust-00043.yaml", "tier: free", "tier: free-paid")
    saved = run_in_process(["--sandbox", "plan", "fleet", "-o", "p.json", "--format", "json"])
    assert saved.code == 0, saved.text
    steps = json.loads(saved.out)["steps"]
    assert {s["action"] for s in steps} == {"transfer_projects"}
    keys = json.loads((fleet.parent / ".fleet" / "sandbox-keys.json").read_text())
    with _ledger(fleet) as ledger:
        record = ledger.tenant("cust-00043")
        assert record is not None
    from reconciler.app.sandbox import Sandbox  # the sandbox's own emulator, out of band
    from reconciler.manifests import load_fleet

    sandbox = Sandbox(fleet.parent / ".fleet", load_fleet(fleet).fleet)
    with httpx.Client(transport=sandbox.transport(), base_url=sandbox.base_url) as client:
        answer = client.patch(
            f"/projects/{record.project_id}",
            headers={"Authorization": f"Bearer {keys['org-free-1']}"},
            json={"project": {"settings": {"quota": {"compute_time_seconds": 1}}}},
        )
        assert answer.status_code == 200, answer.text
    sandbox.close()
    refused = run_in_process(["--sandbox", "apply", "p.json"])
    assert refused.code == 3, refused.text
    assert "cust-00043" in refused.err
