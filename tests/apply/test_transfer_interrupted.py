"""A run killed between Neon moving a project and the ledger saying so (found by the fault soak).

Before transfers were write-ahead intents, the ledger kept the old org for ever: the planner
found the project by id and planned nothing, key rotations asked the old org and failed with
404, and revokes built from that org forgot keys that were still live.
"""

from __future__ import annotations

import pytest

from reconciler.neon.mutators import NeonWriter
from tests.apply.fleet_harness import FleetHarness, Killed, TenantSpec, performed_then

pytestmark = pytest.mark.integration

FREE = {"mover": TenantSpec(keys=("runtime",)), "stay": TenantSpec(keys=("runtime",))}
UPGRADED = {**FREE, "mover": TenantSpec(tier="pro", keys=("runtime",))}


@pytest.fixture
def harness(tmp_path, monkeypatch, ledger_url: str) -> FleetHarness:
    return FleetHarness.applied(tmp_path, monkeypatch, ledger_url, FREE)


def _recorded_org(harness: FleetHarness, tenant: str) -> str:
    return harness.view().tenants[tenant].org_id


def test_a_transfer_killed_before_the_ledger_recorded_it_is_read_back_by_recovery(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    free_org = _recorded_org(harness, "mover")
    harness.write(UPGRADED)
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "transfer_projects", Killed)
        with pytest.raises(Killed):
            harness.apply()
    moved_to = harness.live_orgs()[harness.view().tenants["mover"].project_id]
    assert moved_to != free_org  # Neon moved it; the dead run never told the ledger
    assert _recorded_org(harness, "mover") == free_org and harness.open_intents() == 1

    run = harness.apply_ok()

    assert run.recovered.closed == 1
    assert _recorded_org(harness, "mover") == moved_to
    harness.assert_settled(UPGRADED)
    rotation = harness.rotate("mover")  # asks the org the project is really in
    assert rotation.ok, rotation
    harness.assert_settled(UPGRADED)


def test_a_transfer_that_never_landed_closes_its_intent_and_is_planned_again(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    free_org = _recorded_org(harness, "mover")
    harness.write(UPGRADED)

    def killed_before_sending(*_args: object, **_kwargs: object) -> None:
        raise Killed()

    with monkeypatch.context() as patch:
        patch.setattr(NeonWriter, "transfer_projects", killed_before_sending)
        with pytest.raises(Killed):
            harness.apply()
    assert _recorded_org(harness, "mover") == free_org and harness.open_intents() == 1

    run = harness.apply_ok()

    assert run.recovered.closed == 1
    assert _recorded_org(harness, "mover") != free_org  # the re-planned transfer moved it
    harness.assert_settled(UPGRADED)
