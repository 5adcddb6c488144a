"""Issue 18: offboarding and revokes under faults never lose track of a live key or a row.

* Prune revokes a tenant's keys first and drops its ledger record last, so a failed revoke or a
  kill in between leaves the tenant recorded (and planned again), never live untracked keys.
* Recovery finishes an offboarding whose run died after the project delete.
* A revoke or a delete whose answer was lost is read back, and the ledger follows Neon.
* A ledger row whose key or project is gone is healed by the next plan.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.apply.executor import Status
from reconciler.errors import ApiServerError
from reconciler.ledger import open_ledger
from reconciler.neon.mutators import NeonWriter
from tests.apply.fleet_harness import (
    ENVIRON,
    FleetHarness,
    Killed,
    TenantSpec,
    lost,
    performed_then,
    reasons,
)

pytestmark = pytest.mark.integration

BOTH = {"stay": TenantSpec(keys=("runtime",)), "gone": TenantSpec(keys=("runtime", "ci"))}
STAY = {"stay": BOTH["stay"]}


@pytest.fixture
def harness(tmp_path, monkeypatch, ledger_url: str) -> FleetHarness:
    return FleetHarness.applied(tmp_path, monkeypatch, ledger_url, BOTH)


def _keys_of(fleet: FleetHarness, tenant: str) -> set[int]:
    return {k.key_id for k in fleet.view().tenants[tenant].keys.values()}


def _tracked(fleet: FleetHarness) -> None:
    """Every live key is in the ledger: nothing was lost, whatever happened."""
    recorded = {k.key_id for t in fleet.view().tenants.values() for k in t.keys.values()}
    assert set(fleet.live_keys()) <= recorded


def test_prune_revokes_keys_before_forgetting_the_tenant(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone_keys = _keys_of(harness, "gone")
    harness.write(STAY)
    plan = harness.plan()
    delete = next(s for s in plan.steps if s.id == "gone/delete_project")
    assert set(delete.depends_on) == {f"gone/revoke_api_key/{k}" for k in gone_keys}
    revoke = NeonWriter.revoke_org_api_key
    failing = max(gone_keys)

    def one_fails(self: NeonWriter, key: str, org_id: str, key_id: int) -> Any:
        if key_id == failing:
            raise ApiServerError("emulated server error", status=500, method="DELETE")
        return revoke(self, key, org_id, key_id)

    with monkeypatch.context() as patch:
        # A 500 leaves the key live: the read-back sees it, so the revoke fails honestly.
        patch.setattr(NeonWriter, "revoke_org_api_key", one_fails)
        run = harness.apply()
    assert run.report is not None
    status = {r.id: r.status for r in run.report.results}
    assert status[f"gone/revoke_api_key/{failing}"] is Status.FAILED
    assert status["gone/delete_project"] is Status.SKIPPED
    assert harness.view().tenants["gone"].keys  # the record keeps the live key
    _tracked(harness)

    harness.apply_ok()
    assert "gone" not in harness.view().tenants
    harness.assert_settled(STAY)


def test_killed_offboarding_is_finished_by_recovery(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.write(STAY)
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "delete_project", Killed)
        with pytest.raises(Killed):
            harness.apply()
    _tracked(harness)
    # Even with prune switched off meanwhile, recovery finishes what the dead run started.
    harness.write(STAY, prune=False)
    run = harness.apply()
    assert run.recovered.closed == 1
    assert "gone" not in harness.view().tenants
    with open_ledger(harness.ledger_url) as ledger:
        [tombstone] = ledger.deleted_tenants()
    assert tombstone.tenant == "gone" and "recovery" in tombstone.note
    harness.assert_settled(STAY)


def test_a_revoke_whose_answer_was_lost_is_read_back(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    [ci] = [k.key_id for k in harness.view().tenants["gone"].keys.values() if "ci" in k.name]
    harness.write({**STAY, "gone": TenantSpec(keys=("runtime",))})
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "revoke_org_api_key", lost("DELETE"))
        harness.apply_ok()
    assert ci not in _keys_of(harness, "gone")
    harness.assert_settled({**STAY, "gone": TenantSpec(keys=("runtime",))})


def test_a_delete_whose_answer_was_lost_is_read_back(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.write(STAY)
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "delete_project", lost("DELETE"))
        harness.apply_ok()
    assert "gone" not in harness.view().tenants
    assert harness.open_intents() == 0
    harness.assert_settled(STAY)


def test_a_ledger_row_of_a_key_gone_from_neon_is_healed(harness: FleetHarness) -> None:
    """A declared key revoked behind neon-fleet's back is re-issued; an undeclared one's row
    is dropped (a revoke that finds nothing)."""
    gone = harness.view().tenants["gone"].keys
    runtime, ci = gone["t-gone:runtime"].key_id, gone["t-gone:ci"].key_id
    with harness.client as client:
        for key_id in (runtime, ci):
            client.revoke_org_api_key(ENVIRON["NEON_FREE_KEY"], "org-free", key_id)
    declared = {**STAY, "gone": TenantSpec(keys=("runtime",))}
    harness.write(declared)
    plan = harness.plan()
    assert reasons(plan) == {
        "gone/create_api_key/runtime": "declared and missing",
        f"gone/revoke_api_key/{ci}": "recorded in the ledger but gone from Neon: drop the record",
    }
    harness.apply_ok()
    harness.assert_settled(declared)


def test_a_ledger_row_of_a_vanished_project_is_forgotten_when_pruned(
    harness: FleetHarness,
) -> None:
    record = harness.view().tenants["gone"]
    with harness.client as client:
        client.delete_project(ENVIRON["NEON_FREE_KEY"], record.project_id)
    harness.write(STAY, prune=False)
    assert harness.plan().steps == ()  # without prune it is only a warning
    harness.write(STAY)
    plan = harness.plan()
    assert [s.id for s in plan.steps] == [
        *(f"gone/revoke_api_key/{k}" for k in sorted(_keys_of(harness, "gone"))),
        "gone/delete_project",
    ]
    harness.apply_ok()
    assert "gone" not in harness.view().tenants
    harness.assert_settled(STAY)


def test_a_project_created_by_a_killed_run_stays_tracked_when_its_tenant_is_removed(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a kill sweep: the create landed, the run died before recording it, and the
    tenant left the manifests before the next apply; nothing ever adopted the project."""
    fleet = FleetHarness(tmp_path, monkeypatch)
    fleet.write(STAY)
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "create_project", Killed)
        with pytest.raises(Killed):
            fleet.apply()
    fleet.write({}, prune=False)
    run = fleet.apply()
    assert run.recovered.closed == 1 and fleet.open_intents() == 0
    [project_id] = fleet.live_projects()
    assert fleet.view().tenants["stay"].project_id == project_id
    fleet.write({})  # with prune on, the recorded project is offboarded like any other
    fleet.apply_ok()
    assert fleet.live_projects() == {} and fleet.view().tenants == {}


def test_keys_of_a_project_deleted_behind_our_back_are_revoked_when_it_is_made_anew(
    harness: FleetHarness,
) -> None:
    record = harness.view().tenants["stay"]
    [old] = [k.key_id for k in record.keys.values()]
    with harness.client as client:
        client.delete_project(ENVIRON["NEON_FREE_KEY"], record.project_id)
    plan = harness.plan()
    assert reasons(plan)[f"stay/revoke_api_key/{old}"] == (
        f"recorded for project {record.project_id}, which the tenant no longer has"
    )
    harness.apply_ok()
    assert old not in harness.live_keys()
    assert harness.view().tenants["stay"].project_id != record.project_id
    harness.assert_settled(BOTH)
