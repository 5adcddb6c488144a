"""Issue 18: an interrupted ``fleet keys rotate`` must never revoke the key the sink holds.

The rotation mints the new key, delivers it, records it (replacing the old key's ledger row) and
only then revokes the old key. Whatever stops it — a 500 on that revoke, a kill before it, a kill
between delivery and recording — the next apply must leave exactly one live key per declared
name, recorded in the ledger, whose token is the one in the sink.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.apply.executor import Status
from reconciler.apply.secrets import FileSink
from reconciler.errors import ApiServerError
from reconciler.neon.mutators import NeonWriter
from tests.apply.fleet_harness import (
    FleetHarness,
    Killed,
    TenantSpec,
    lost,
    performed_then,
    reasons,
)

pytestmark = pytest.mark.integration

TENANTS = {"cust": TenantSpec(keys=("runtime",))}


@pytest.fixture
def harness(tmp_path, monkeypatch, ledger_url: str) -> FleetHarness:
    return FleetHarness.applied(tmp_path, monkeypatch, ledger_url, TENANTS)


def _kill_rotation_after_delivery(fleet: FleetHarness, monkeypatch: pytest.MonkeyPatch) -> int:
    """Rotate, dying once the new token is in the sink but the ledger still has the old key."""
    with monkeypatch.context() as patch:
        performed_then(patch, FileSink, "deliver", Killed)
        with pytest.raises(Killed):
            fleet.rotate("cust")
    delivered = fleet.sink_document("cust", "runtime")["key_id"]
    assert isinstance(delivered, int) and fleet.open_intents() == 1
    return delivered


def _only_the_sink_key_is_live(fleet: FleetHarness) -> dict[str, object]:
    document = fleet.sink_document("cust", "runtime")
    assert fleet.token_works(document)
    assert fleet.live_keys().keys() == {document["key_id"]}
    fleet.assert_settled(TENANTS)
    return document


def _old_key_id(fleet: FleetHarness) -> int:
    record = fleet.view().tenants["cust"]
    [key] = record.keys.values()
    return key.key_id


@pytest.mark.parametrize("how", ["revoke answered 500", "killed before the revoke"])
def test_interrupted_rotation_revokes_the_old_key_not_the_new_one(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    old = _old_key_id(harness)

    def interrupted(self: NeonWriter, key: str, org_id: str, key_id: int) -> Any:
        if how == "killed before the revoke":
            raise Killed
        raise ApiServerError("emulated server error", status=500, method="DELETE")

    with monkeypatch.context() as patch:
        patch.setattr(NeonWriter, "revoke_org_api_key", interrupted)
        if how == "killed before the revoke":
            with pytest.raises(Killed):
                harness.rotate("cust")
        else:
            report = harness.rotate("cust")
            assert [r.status for r in report.results] == [Status.SUCCEEDED, Status.FAILED]
    new = harness.sink_document("cust", "runtime")["key_id"]
    assert new != old and harness.view().tenants["cust"].keys["t-cust:runtime"].key_id == new

    plan = harness.plan()
    # The old key is the duplicate now: the ledger (and the sink) hold the new one.
    assert reasons(plan) == {f"cust/revoke_api_key/{old}": f"a duplicate of the recorded key {new}"}
    harness.apply_ok()
    assert _only_the_sink_key_is_live(harness)["key_id"] == new


def test_rotation_killed_between_delivery_and_record_reissues_the_key(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _old_key_id(harness)
    delivered = _kill_rotation_after_delivery(harness, monkeypatch)
    assert delivered != old
    run = harness.apply_ok()
    # Recovery cannot know which token the sink holds, so both keys go and a fresh one is issued.
    assert run.recovered.closed == 1 and run.report is not None
    assert _only_the_sink_key_is_live(harness)["key_id"] not in (old, delivered)


def test_a_rotation_create_whose_answer_was_lost_keeps_the_old_key(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lost create's key is revoked at once; the old key (and the sink) stay as they were."""
    old = _old_key_id(harness)
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "create_org_api_key", lost("POST"))
        report = harness.rotate("cust")
    assert [r.status for r in report.results] == [Status.FAILED, Status.SKIPPED]
    assert harness.live_keys().keys() == {old}
    assert harness.sink_document("cust", "runtime")["key_id"] == old
    harness.assert_settled(TENANTS)


def test_recovery_that_dies_half_way_still_reissues_the_key(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recovery killed after revoking the replaced key must not trust it on the next run."""
    old = _old_key_id(harness)
    _kill_rotation_after_delivery(harness, monkeypatch)
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "revoke_org_api_key", Killed)
        with pytest.raises(Killed):
            harness.apply()  # recovery dies right after its first revoke
    assert old not in harness.live_keys()
    harness.apply_ok()
    _only_the_sink_key_is_live(harness)
