"""The drift store on SQLite and PostgreSQL: "since" carried, resolved, restarted; documents."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from reconciler.errors import LedgerError
from reconciler.ledger import Ledger
from reconciler.ledger.drift import DriftStore, Sighting
from tests.ledger.conftest import FakeClock

QUOTA = Sighting("cust-1/changed/quota.compute_time_seconds", "cust-1", "changed", "quota.x")
BRANCH = Sighting("cust-2/missing_branch/branches.dev", "cust-2", "missing_branch", "branches.dev")
UNMANAGED = Sighting("-/unmanaged_project/projects.x/p-1", None, "unmanaged_project", "projects.x")


def document(report_id: int, since: Mapping[str, datetime]) -> dict[str, Any]:
    return {"report_id": report_id, "since": {k: v.isoformat() for k, v in sorted(since.items())}}


def record(store: DriftStore, *sightings: Sighting) -> Any:
    return store.record(
        sightings, fleet="acme", manifest_digest="sha256:m", summary={"items": len(sightings)},
        document=document,
    )  # fmt: skip


def test_since_is_kept_while_an_item_drifts_and_restarts_after_it_healed(
    ledger: Ledger, clock: FakeClock
):
    store = ledger.drift
    start = clock.now
    first = record(store, QUOTA, UNMANAGED)
    clock.advance(3600)
    second = record(store, QUOTA, BRANCH, UNMANAGED)
    assert second.since == {
        QUOTA.item_id: start,
        BRANCH.item_id: clock.now,
        UNMANAGED.item_id: start,
    }
    assert second.report_id > first.report_id
    clock.advance(3600)
    record(store, BRANCH)  # QUOTA and UNMANAGED healed
    assert set(store.open_items()) == {BRANCH.item_id}
    clock.advance(3600)
    back = record(store, QUOTA, BRANCH)
    assert back.since[QUOTA.item_id] == clock.now  # a new episode, not the first sighting
    assert back.since[BRANCH.item_id] == start + timedelta(hours=1)


def test_reports_and_documents_are_stored(ledger: Ledger):
    store = ledger.drift
    empty = record(store)
    full = record(store, QUOTA)
    assert empty.since == {}
    listed = store.reports(5)
    assert [r.report_id for r in listed] == [full.report_id, empty.report_id]
    assert listed[0].item_count == 1 and listed[0].fleet == "acme"
    assert listed[0].summary == {"items": 1}
    assert store.document(full.report_id) == full.document
    assert full.document["report_id"] == full.report_id
    with pytest.raises(LedgerError, match="no drift report #999"):
        store.document(999)
    with pytest.raises(LedgerError, match="at least 1"):
        store.reports(0)


def test_a_secret_in_a_report_is_refused_and_nothing_is_stored(ledger: Ledger):
    store = ledger.drift
    with pytest.raises(LedgerError, match="refusing to store a secret"):
        store.record(
            [QUOTA],
            fleet="acme",
            manifest_digest="",
            summary={},
            document=lambda rid, since: {"token": "napi_abc"},
        )
    assert store.reports(5) == [] and store.open_items() == {}
