"""What ``fleet drift`` reads: branches of every matched project (restore leftovers and expired
branches are checked for all), endpoints only where a tenant manages compute."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from reconciler.app.drift import full_needs
from reconciler.core.model import LedgerView, LiveFleet, LiveProject, OwnedTenant
from reconciler.manifests import load_fleet

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


def _project(pid: str, name: str, org_id: str) -> LiveProject:
    return LiveProject(
        id=pid,
        name=name,
        org_id=org_id,
        region_id="aws-us-east-2",
        pg_version=17,
        created_at="2026-01-01T00:00:00Z",
        quota=None,
        default_endpoint_settings=None,
    )


def test_drift_reads_endpoints_only_for_tenants_that_manage_compute() -> None:
    desired = load_fleet(EXAMPLE)
    names = sorted(desired.tenants)
    plain, managed = names[0], names[1:]
    tenants = dict(desired.tenants)
    tenants[plain] = replace(tenants[plain], compute={})  # neither tier nor manifest sets any
    desired = replace(desired, tenants=tenants)
    projects = {
        f"p-{n}": _project(f"p-{n}", t.project_name, t.org_id) for n, t in tenants.items()
    }
    gone = _project("p-gone", "gone", tenants[plain].org_id)  # a removed tenant the ledger owns
    projects[gone.id] = gone
    live = LiveFleet(projects=projects, api_keys={}, observed_orgs=frozenset())
    ledger = LedgerView(tenants={"gone": OwnedTenant("gone", gone.id, gone.org_id)})

    needs = full_needs(desired, ledger, live)

    assert needs.branches == frozenset(projects)  # every matched project, the removed one too
    assert needs.endpoints == frozenset(f"p-{n}" for n in managed)
    assert needs.key_orgs == frozenset(org.id for org in desired.fleet.orgs.values())
