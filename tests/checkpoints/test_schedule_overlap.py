"""``schedule`` runs that overlap, and records a transfer stranded in ``creating``.

Both run against the in-process emulator on a fake clock, with the ledger on each backend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.app import planning
from reconciler.app.checkpoint_jobs import ScheduleReport, collect_garbage, schedule_checkpoints
from reconciler.app.checkpoints import Checkpoints, CreateOptions
from reconciler.core.branch_policies import CheckpointPolicy
from reconciler.core.model import DesiredFleet, OwnedTenant
from reconciler.emulator import Emulator
from reconciler.errors import NotFound
from reconciler.ledger import Ledger, open_ledger
from reconciler.ledger.checkpoints import CheckpointStatus
from reconciler.neon import NeonClient, Operation, RateLimiter
from reconciler.neon import snapshots as neon_snapshots
from reconciler.neon.mutators import NeonWriter
from tests.checkpoints.conftest import FakeClock
from tests.checkpoints.test_service import TestEnvironment
from tests.ledger.conftest import ledger_url, postgres_admin

__all__ = ["ledger_url", "postgres_admin"]  # fixtures used here

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"
TENANTS = ("cust-00042", "cust-00043")
SEED: dict[str, Any] = {
    "orgs": [{"id": "org-free-1", "plan": "agent"}, {"id": "org-paid-1", "plan": "agent"}],
    "keys": [
        {"token": "free-key", "kind": "org", "org": "org-free-1"},
        {"token": "paid-key", "kind": "org", "org": "org-paid-1"},
        {"token": "personal-key", "kind": "personal",
         "orgs": {"org-free-1": "admin", "org-paid-1": "admin"}},
    ],
    "projects": [
        {"id": "p-00043", "name": "t-cust-00043", "org": "org-free-1"},
        {"id": "p-00042", "name": "t-cust-00042", "org": "org-free-1"},
    ],
    "limits": {"requests_per_minute": 100000, "route_requests_per_second": 100000},
    "operation_duration_ms": 500,
}  # fmt: skip
HOURLY = CheckpointPolicy(every_seconds=3600)


class HoldSnapshotCreates(httpx.BaseTransport):
    """Holds every snapshot create until ``release`` is set, saying when the first arrives."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.arrived, self.release = threading.Event(), threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/snapshot"):
            self.arrived.set()
            self.release.wait(30)
        return self.inner.handle_request(request)


@pytest.fixture
def emulator_seed() -> dict[str, Any]:
    return SEED


@pytest.fixture
def desired() -> DesiredFleet:
    fleet = planning.validate(EXAMPLE)
    tenants = {name: replace(fleet.tenants[name], checkpoints=HOURLY) for name in TENANTS}
    return replace(fleet, tenants=tenants)


@pytest.fixture
def make_service(
    emu: Emulator, clock: FakeClock, ledger_url: str, desired: DesiredFleet
) -> Iterator[Callable[[httpx.BaseTransport | None], Checkpoints]]:
    """Services of separate "processes": each its own client and ledger connection."""
    opened: list[tuple[NeonClient, Ledger]] = []

    def make(transport: httpx.BaseTransport | None = None) -> Checkpoints:
        limiter = RateLimiter(
            account_per_minute=1e6, account_burst=1e6, route_per_second=1e6, route_burst=1e6
        )
        client = NeonWriter(
            "http://emulator.test/api/v2",
            transport=transport or httpx.WSGITransport(app=emu),
            limiter=limiter, sleep=clock.advance, clock=clock,
        )  # fmt: skip
        ledger = open_ledger(ledger_url, clock=lambda: datetime.fromtimestamp(clock.now, UTC))
        opened.append((client, ledger))
        return Checkpoints(TestEnvironment(desired, client, ledger), desired)

    yield make
    for client, ledger in opened:
        client.close()
        ledger.close()


def schedule(service: Checkpoints, clock: FakeClock) -> ScheduleReport:
    return schedule_checkpoints(
        service, source_rev="abc", parallelism=1, sleep=clock.advance, clock=clock
    )


def test_overlapping_schedule_runs_checkpoint_each_tenant_once(
    make_service: Callable[[httpx.BaseTransport | None], Checkpoints],
    emu: Emulator,
    clock: FakeClock,
) -> None:
    held = HoldSnapshotCreates(httpx.WSGITransport(app=emu))
    first, second = make_service(held), make_service(None)
    reports: dict[str, ScheduleReport] = {}
    running = threading.Thread(target=lambda: reports.update(first=schedule(first, clock)))
    running.start()
    try:
        assert held.arrived.wait(30)  # the first run has claimed a tenant and is mid-create
        reports["second"] = schedule(second, clock)
    finally:
        held.release.set()
        running.join(60)
    assert not running.is_alive()
    taken = sorted(c.tenant for report in reports.values() for c in report.created)
    assert taken == list(TENANTS)
    elsewhere = sorted(t for report in reports.values() for t in report.taken_elsewhere)
    assert elsewhere == list(TENANTS)  # each run left the other's tenant alone
    for project_id in ("p-00042", "p-00043"):
        assert len(neon_snapshots.list_snapshots(first.client, "free-key", project_id)) == 1
    assert len(first.store.list()) == 2


def test_schedule_settles_a_record_a_transfer_stranded_in_creating(
    make_service: Callable[[httpx.BaseTransport | None], Checkpoints], clock: FakeClock
) -> None:
    service = make_service(None)
    client, ledger = service.client, service.env.ledger()
    main = {b.name: b.id for b in client.list_branches("free-key", "p-00043")}["main"]
    ledger.upsert_tenant(OwnedTenant("cust-00043", "p-00043", "org-free-1", {"main": main}))

    def transfer_then_wait(key: str, project_id: str, operations: Sequence[Operation]) -> None:
        # The project moves to the paid org while its snapshot is being taken.
        NeonWriter.over(client).transfer_projects(
            "personal-key", "org-free-1", "org-paid-1", [project_id]
        )
        client.wait_for_operations(key, project_id, operations)

    with pytest.raises(NotFound):
        service.create("cust-00043", CreateOptions(source_rev="abc"), wait=transfer_then_wait)
    [stranded] = service.store.list()
    assert stranded.status is CheckpointStatus.CREATING and stranded.snapshot_id
    clock.advance(16 * 60)
    # Until the move is recorded no managed key can read the project: left, not guessed.
    unread = collect_garbage(service).settled
    assert unread == {stranded.id: "unsettled: project p-00043 not found with the keys of "
                                   "org-free-1"}  # fmt: skip
    assert service.store.get(stranded.id).status is CheckpointStatus.CREATING
    owned = ledger.tenant("cust-00043")
    assert owned is not None
    ledger.upsert_tenant(replace(owned, org_id="org-paid-1"))  # what the apply records

    report = schedule(service, clock)
    assert report.settled == {stranded.id: "ready"}  # read with the paid org's key
    settled = service.store.get(stranded.id)
    assert settled.status is CheckpointStatus.READY
    assert "cust-00043" not in {c.tenant for c in report.created}  # it has a recent one now
    assert len(neon_snapshots.list_snapshots(client, "paid-key", "p-00043")) == 1


class DeleteFirstElsewhere(httpx.BaseTransport):
    """Lets "another gc run" delete each snapshot just before this run's delete arrives."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.raced = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE" and "/snapshots/" in request.url.path:
            self.inner.handle_request(request).read()  # the other run's identical delete
            self.raced += 1
        return self.inner.handle_request(request)


def test_overlapping_gc_runs_tolerate_a_snapshot_the_other_deleted(
    make_service: Callable[[httpx.BaseTransport | None], Checkpoints],
    emu: Emulator,
    clock: FakeClock,
) -> None:
    service = make_service(None)
    older = service.create("cust-00043", CreateOptions(source_rev="abc"))
    clock.advance(60)
    newer = service.create("cust-00043", CreateOptions(source_rev="abc"))
    racing = DeleteFirstElsewhere(httpx.WSGITransport(app=emu))
    collector = make_service(racing)
    tenant = collector.desired.tenants["cust-00043"]
    keep_one = replace(tenant, checkpoints=CheckpointPolicy(keep_last=1))
    collector.desired = replace(collector.desired, tenants={"cust-00043": keep_one})
    report = collect_garbage(collector)
    assert racing.raced == 1
    assert [(c.checkpoint.id, c.reason) for c in report.collected] == [
        (older.id, "beyond keep_last 1")
    ]
    assert [c.id for c in service.store.list()] == [newer.id]
