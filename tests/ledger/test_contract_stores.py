"""Contract: the satellite stores are part of the ``Ledger`` interface on every backend.

Callers reach checkpoints, usage samples, drift reports and history retention through the
interface (``ledger.checkpoints`` …), never by casting to a backend class; each store keeps
its writes across a reopen of the same ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from reconciler.ledger import Ledger
from reconciler.ledger.checkpoints import CheckpointStatus, CheckpointStore, NewCheckpoint
from reconciler.ledger.drift import DriftStore, Sighting
from reconciler.ledger.usage import UsageSample, UsageStore
from tests.ledger.conftest import FakeClock


def test_every_backend_serves_the_stores_through_the_interface(
    ledger: Ledger, open_at: Callable[..., Ledger], clock: FakeClock
) -> None:
    assert isinstance(ledger.checkpoints, CheckpointStore)
    assert isinstance(ledger.usage, UsageStore)
    assert isinstance(ledger.drift, DriftStore)
    begun = ledger.checkpoints.begin(
        NewCheckpoint("acme", "proj-1", "org-1", "main", "br-1", source_rev="abc")
    )
    start = clock.now
    ledger.usage.upsert(
        [UsageSample("proj-1", "compute", "hourly", start, start + timedelta(hours=1), 7, "org-1")]
    )
    ledger.drift.record(
        [Sighting("acme/x", "acme", "changed", "quota.x")],
        fleet="f", manifest_digest="d", summary={"items": 1},
        document=lambda rid, _since: {"report_id": rid},
    )  # fmt: skip
    again = open_at(clock=clock)
    assert again.checkpoints.get(begun.id).status is CheckpointStatus.CREATING
    assert again.usage.count() == 1
    assert list(again.drift.open_items()) == ["acme/x"]
    assert again.now() == clock.now
    assert again.prune_history(clock.now, dry_run=True).dry_run


def test_only_a_ledger_runners_can_share_has_rate_leases(ledger: Ledger, ledger_url: str) -> None:
    leases = ledger.rate_leases
    if ledger_url.startswith("sqlite"):
        assert leases is None
    else:
        assert leases is not None
        assert leases.lease_tokens("acct-contract", 3, per_second=1.0, capacity=10.0).granted == 3
