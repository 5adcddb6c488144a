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
from reconciler.apply.secrets import FileSink, MintedKey
from reconciler.errors import ApiServerError, OutcomeUnknown
from reconciler.neon import NeonClient
from tests.apply.fleet_harness import FleetHarness, Killed, TenantSpec, reasons

pytestmark = pytest.mark.integration

TENANTS = {"cust": TenantSpec(keys=("runtime",))}


@pytest.fixture
def harness(tmp_path, monkeypatch) -> FleetHarness:
    fleet = FleetHarness(tmp_path, monkeypatch)
    fleet.write(TENANTS)
    run = fleet.apply()
    assert run.report is not None and run.report.ok
    return fleet


def _old_key_id(fleet: FleetHarness) -> int:
    record = fleet.view().tenants["cust"]
    [key] = record.keys.values()
    return key.key_id


@pytest.mark.parametrize("how", ["revoke answered 500", "killed before the revoke"])
def test_interrupted_rotation_revokes_the_old_key_not_the_new_one(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    old = _old_key_id(harness)

    def interrupted(self: NeonClient, key: str, org_id: str, key_id: int) -> Any:
        if how == "killed before the revoke":
            raise Killed
        raise ApiServerError("emulated server error", status=500, method="DELETE")

    with monkeypatch.context() as patch:
        patch.setattr(NeonClient, "revoke_org_api_key", interrupted)
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
    run = harness.apply()
    assert run.report is not None and run.report.ok
    assert harness.live_keys().keys() == {new}
    assert harness.token_works(harness.sink_document("cust", "runtime"))
    assert harness.plan().steps == ()
    assert harness.audit(TENANTS).clean


def test_rotation_killed_between_delivery_and_record_reissues_the_key(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _old_key_id(harness)
    deliver = FileSink.deliver

    def deliver_then_die(self: FileSink, key: MintedKey) -> None:
        deliver(self, key)
        raise Killed  # the new token is in the sink; the ledger still records the old key

    with monkeypatch.context() as patch:
        patch.setattr(FileSink, "deliver", deliver_then_die)
        with pytest.raises(Killed):
            harness.rotate("cust")
    delivered = harness.sink_document("cust", "runtime")["key_id"]
    assert delivered != old and harness.open_intents() == 1

    run = harness.apply()
    # Recovery cannot know which token the sink holds, so both keys go and a fresh one is issued.
    assert run.recovered.closed == 1
    assert run.report is not None and run.report.ok
    document = harness.sink_document("cust", "runtime")
    assert document["key_id"] not in (old, delivered)
    assert harness.token_works(document)
    assert harness.live_keys().keys() == {document["key_id"]}
    assert harness.plan().steps == ()
    assert harness.audit(TENANTS).clean


def test_a_rotation_create_whose_answer_was_lost_keeps_the_old_key(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lost create's key is revoked at once; the old key (and the sink) stay as they were."""
    old = _old_key_id(harness)
    create = NeonClient.create_org_api_key

    def performed_but_lost(self: NeonClient, *args: Any, **kwargs: Any) -> Any:
        create(self, *args, **kwargs)
        raise OutcomeUnknown("answer lost", method="POST")

    with monkeypatch.context() as patch:
        patch.setattr(NeonClient, "create_org_api_key", performed_but_lost)
        report = harness.rotate("cust")
    assert [r.status for r in report.results] == [Status.FAILED, Status.SKIPPED]
    assert harness.live_keys().keys() == {old}
    assert harness.sink_document("cust", "runtime")["key_id"] == old
    assert harness.plan().steps == ()
    assert harness.audit(TENANTS).clean


def test_recovery_that_dies_half_way_still_reissues_the_key(
    harness: FleetHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recovery killed after revoking the replaced key must not trust it on the next run."""
    old = _old_key_id(harness)
    deliver, revoke = FileSink.deliver, NeonClient.revoke_org_api_key

    def deliver_then_die(self: FileSink, key: MintedKey) -> None:
        deliver(self, key)
        raise Killed

    def revoke_then_die(self: NeonClient, key: str, org_id: str, key_id: int) -> Any:
        revoke(self, key, org_id, key_id)
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(FileSink, "deliver", deliver_then_die)
        with pytest.raises(Killed):
            harness.rotate("cust")
    with monkeypatch.context() as patch:
        patch.setattr(NeonClient, "revoke_org_api_key", revoke_then_die)
        with pytest.raises(Killed):
            harness.apply()  # recovery dies right after its first revoke
    assert old not in harness.live_keys()
    run = harness.apply()
    assert run.report is not None and run.report.ok
    document = harness.sink_document("cust", "runtime")
    assert harness.token_works(document)
    assert harness.plan().steps == ()
    assert harness.audit(TENANTS).clean
