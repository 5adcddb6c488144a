"""Observation reads the orgs concurrently (each org its own budget), with deterministic results."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest

from reconciler import errors
from reconciler.core.model import LiveFleet
from reconciler.credentials import Credentials
from reconciler.neon import NeonClient, ProjectListItem
from reconciler.neon.responses import ProjectListing
from reconciler.observe import (
    DetailNeeds,
    fetch_details,
    list_orgs,
    project_from_wire,
    read_workers,
)

ORGS = ("org-a", "org-b", "org-c")
CREDENTIALS = Credentials(org_keys={org: f"key-{org}" for org in ORGS})


class StubClient:
    """Answers list calls from memory and notes which key each call used."""

    def __init__(
        self, barrier: threading.Barrier | None = None, fail: str = "", busy: float = 0.0
    ) -> None:
        #: ``busy``: how long each other endpoint read takes (so queued reads stay queued).
        self.barrier, self.fail, self.busy = barrier, fail, busy
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def list_projects(self, key: str, *, org_id: str, limit: int) -> ProjectListing:
        if self.barrier is not None:
            self.barrier.wait()  # every org's listing must be in flight at once
        with self.lock:
            self.calls.append((key, org_id))
        return ProjectListing(_items(org_id, 3))

    def list_endpoints(self, key: str, project_id: str) -> list[Any]:
        with self.lock:
            self.calls.append((key, project_id))
        if project_id == self.fail:
            raise errors.ApiError("boom", status=403)
        threading.Event().wait(self.busy)
        return []


def _items(org: str, count: int) -> tuple[ProjectListItem, ...]:
    return tuple(
        ProjectListItem(f"{org}-p{i}", f"{org}-p{i}", "aws-us-east-2", 17, "t", org)
        for i in range(count)
    )


def _live(per_org: int) -> LiveFleet:
    projects = {
        item.id: project_from_wire(item, org) for org in ORGS for item in _items(org, per_org)
    }
    return LiveFleet(projects=projects, api_keys={}, observed_orgs=frozenset(ORGS))


def test_list_pages_of_different_orgs_are_read_concurrently() -> None:
    stub = StubClient(barrier=threading.Barrier(len(ORGS), timeout=30))
    live = list_orgs(cast(NeonClient, stub), CREDENTIALS, reversed(ORGS))
    assert sorted(org for _, org in stub.calls) == sorted(ORGS)
    # Merged in sorted org order, whichever listing came back first.
    assert list(live.projects) == [f"{org}-p{i}" for org in ORGS for i in range(3)]
    assert live.observed_orgs == frozenset(ORGS)


def test_detail_reads_of_each_org_keep_their_order_and_merge_deterministically() -> None:
    stub = StubClient()
    live = _live(per_org=4)
    needs = DetailNeeds(endpoints=frozenset(live.projects))
    sequential = fetch_details(cast(NeonClient, stub), CREDENTIALS, live, needs, parallelism=1)
    # One read in flight per org: each org's reads follow each other in order.
    for org in ORGS:
        assert [pid for _, pid in stub.calls if pid.startswith(org)] == [
            f"{org}-p{i}" for i in range(4)
        ]
    assert all(key == f"key-{pid.rsplit('-', 1)[0]}" for key, pid in stub.calls)
    parallel = fetch_details(cast(NeonClient, StubClient()), CREDENTIALS, live, needs)
    assert parallel == sequential
    assert all(p.endpoints == () for p in parallel.projects.values())


def test_a_failed_read_drops_the_reads_still_queued() -> None:
    # Each other read takes a second: the failure reaches the caller, which cancels what is
    # still queued, long before the two other workers could take more (a wide margin on a
    # loaded machine; the run takes about a second, as the first reads finish).
    stub = StubClient(fail="org-a-p0", busy=1.0)
    live = _live(per_org=50)
    needs = DetailNeeds(endpoints=frozenset(live.projects))
    with pytest.raises(errors.ApiError, match="boom"):
        fetch_details(cast(NeonClient, stub), CREDENTIALS, live, needs, parallelism=1)
    # 3 workers: the failing read, the two beside it and perhaps one more; not all 150.
    assert len(stub.calls) <= 10


def test_read_workers_are_per_org_and_capped_by_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert read_workers(1, 8) == 8
    assert read_workers(3, 8) == 24
    assert read_workers(100, 8) == 32  # 16 per CPU
    assert read_workers(0, 0) == 1


class ThrottledOrg(StubClient):
    """Reads of org-a hang until released (its account throttled); other orgs answer at once."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()
        self.released = threading.Event()
        self.in_flight_a = self.peak_a = 0

    def list_endpoints(self, key: str, project_id: str) -> list[Any]:
        if not project_id.startswith("org-a"):
            with self.changed:
                self.calls.append((key, project_id))
                self.changed.notify_all()
            return []
        with self.changed:
            self.in_flight_a += 1
            self.peak_a = max(self.peak_a, self.in_flight_a)
            self.changed.notify_all()
        assert self.released.wait(30), "the test never released org-a"
        with self.changed:
            self.in_flight_a -= 1
            self.calls.append((key, project_id))
        return []


def test_a_throttled_org_holds_only_its_own_reads_in_flight() -> None:
    """With one pool shared by all orgs, org-a's hanging reads would take every worker in turn
    and org-b's reads would wait behind them; per org, org-b is read to the end meanwhile."""
    stub = ThrottledOrg()
    live = _live(per_org=12)
    needs = DetailNeeds(endpoints=frozenset(live.projects))
    box: list[LiveFleet] = []
    reader = threading.Thread(
        target=lambda: box.append(
            fetch_details(cast(NeonClient, stub), CREDENTIALS, live, needs, parallelism=2)
        ),
        daemon=True,
    )
    reader.start()
    others = [f"{org}-p{i}" for org in ORGS[1:] for i in range(12)]
    with stub.changed:
        # Progress, not time: the other orgs are read to the end while both of org-a's workers
        # hang (on a loaded machine org-a's second worker may start after the others finish).
        read_all = stub.changed.wait_for(
            lambda: (
                sorted(pid for _, pid in stub.calls) == sorted(others) and stub.in_flight_a == 2
            ),
            timeout=30,
        )
        peak = stub.peak_a
    stub.released.set()
    reader.join(30)
    assert read_all, f"only {len(stub.calls)} of org-b's and org-c's reads ran"
    assert peak == 2
    assert box and len(box[0].projects) == 36
