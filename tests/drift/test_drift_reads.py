"""What ``fleet drift`` reads: branches of every matched project (restore leftovers and expired
branches are checked for all), endpoints only where a tenant manages compute."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.app.drift import full_needs
from reconciler.core.model import LedgerView, LiveFleet, OwnedTenant
from reconciler.manifests import load_fleet
from tests.cli.example import example_workdir
from tests.core.factories import live_project_for
from tests.support.cli import run_in_process

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


def test_drift_reads_endpoints_only_for_tenants_that_manage_compute() -> None:
    desired = load_fleet(EXAMPLE)
    names = sorted(desired.tenants)
    plain, managed = names[0], names[1:]
    tenants = dict(desired.tenants)
    tenants[plain] = replace(tenants[plain], compute={})  # neither tier nor manifest sets any
    desired = replace(desired, tenants=tenants)
    projects = {f"p-{n}": live_project_for(t, project_id=f"p-{n}") for n, t in tenants.items()}
    # A removed tenant's project, which the ledger still owns.
    gone = replace(live_project_for(tenants[plain], project_id="p-gone"), name="gone")
    projects[gone.id] = gone
    live = LiveFleet(projects=projects, api_keys={}, observed_orgs=frozenset())
    ledger = LedgerView(tenants={"gone": OwnedTenant("gone", gone.id, gone.org_id)})

    needs = full_needs(desired, ledger, live)

    assert needs.branches == frozenset(projects)  # every matched project, the removed one too
    assert needs.endpoints == frozenset(f"p-{n}" for n in managed)
    assert needs.key_orgs == frozenset(org.id for org in desired.fleet.orgs.values())


@pytest.mark.integration
def test_drift_of_a_fleet_without_compute_costs_one_branch_list_per_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = example_workdir(tmp_path, monkeypatch)
    for path in [workdir / "fleet" / "tiers.yaml", *(workdir / "fleet" / "tenants").glob("*")]:
        path.write_text(re.sub(r"^  compute:\n(    .*\n)+", "", path.read_text(), flags=re.M))
    tenants = load_fleet(workdir / "fleet").tenants
    assert not any(t.compute for t in tenants.values())
    assert run_in_process(["--sandbox", "apply", "fleet", "--auto-approve"]).code == 0

    result = run_in_process(["--sandbox", "drift", "fleet"])

    assert result.code == 0, result.text
    # Two orgs: one project list page and one key list each, then one branch list per tenant
    # and no endpoint list at all (the old drift read both lists for everyone: 16 calls).
    assert f"{2 + 2 + len(tenants)} API call(s)" in result.err.splitlines()
