"""The snapshot client and the checkpoint use cases against the in-process emulator.

The emulator runs on a fake clock that the client's ``sleep`` moves forward, so waiting for
operations costs no real time. ``TestEnvironment`` hands the use cases this client, a SQLite
ledger and the seeded org keys instead of building them from the process environment.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.app import planning
from reconciler.app.checkpoint_hook import key_variables, run_hook
from reconciler.app.checkpoint_jobs import collect_garbage, schedule_checkpoints
from reconciler.app.checkpoints import (
    Checkpoints,
    CreateOptions,
    RestoreStep,
)
from reconciler.app.environment import Environment, GlobalOptions
from reconciler.app.source_revision import git_revision
from reconciler.core.branch_policies import CheckpointPolicy
from reconciler.core.model import DesiredFleet
from reconciler.credentials import Credentials
from reconciler.emulator import Emulator
from reconciler.errors import OutcomeUnknown, UnprocessableEntity, UsageError
from reconciler.ledger import Ledger, open_ledger
from reconciler.ledger.checkpoints import (
    Checkpoint,
    CheckpointStatus,
    NewCheckpoint,
    is_due,
    retention_candidates,
)
from reconciler.manifests import load_fleet
from reconciler.neon import NeonClient, RateLimiter
from reconciler.neon import snapshots as neon_snapshots
from reconciler.neon.mutators import NeonWriter
from tests.checkpoints.conftest import ContractTransport, FakeClock

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"
SEED: dict[str, Any] = {
    "orgs": [
        {"id": "org-free-1", "plan": "agent", "snapshot_limit": 3},
        {"id": "org-paid-1", "plan": "agent"},
    ],
    "keys": [
        {"token": "free-key", "kind": "org", "org": "org-free-1"},
        {"token": "paid-key", "kind": "org", "org": "org-paid-1"},
    ],
    "projects": [
        {"id": "p-00043", "name": "t-cust-00043", "org": "org-free-1"},
        {"id": "p-00042", "name": "t-cust-00042", "org": "org-free-1"},
    ],
    "limits": {"requests_per_minute": 100000, "route_requests_per_second": 100000},
    "operation_duration_ms": 500,
}


class LoseNextSnapshotAnswer(httpx.BaseTransport):
    """Breaks the connection of the next snapshot create, after it ran (``after``) or before
    it reached the server (``before``); the client cannot tell the two apart."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.armed = inner, ""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        hit = self.armed and request.url.path.endswith("/snapshot")
        mode, self.armed = (self.armed, "") if hit else ("", self.armed)
        if mode == "before":
            raise httpx.ReadError("connection reset")
        response = self.inner.handle_request(request)
        if mode == "after":
            raise httpx.ReadError("connection reset after the request was sent")
        return response


class TestEnvironment(Environment):
    """An ``Environment`` whose adapters are the test's own."""

    __test__ = False

    def __init__(self, desired: DesiredFleet, client: NeonClient, ledger: Ledger) -> None:
        super().__init__(GlobalOptions(environ={}), desired.fleet)
        self._test_client, self._test_ledger = client, ledger

    def client(self) -> NeonClient:
        return self._test_client

    def ledger(self) -> Ledger:
        return self._test_ledger

    def credentials(self) -> Credentials:
        return Credentials(org_keys={"org-free-1": "free-key", "org-paid-1": "paid-key"})


@pytest.fixture
def emulator_seed() -> dict[str, Any]:
    return SEED


@pytest.fixture
def lossy(emu: Emulator) -> LoseNextSnapshotAnswer:
    return LoseNextSnapshotAnswer(ContractTransport(httpx.WSGITransport(app=emu)))


@pytest.fixture
def client(lossy: LoseNextSnapshotAnswer, clock: FakeClock) -> Iterator[NeonWriter]:
    limiter = RateLimiter(
        account_per_minute=1e6, account_burst=1e6, route_per_second=1e6, route_burst=1e6
    )
    with NeonWriter(
        "http://emulator.test/api/v2",
        transport=lossy,
        limiter=limiter,
        sleep=clock.advance,
        clock=clock,
    ) as made:
        yield made


@pytest.fixture
def service(client: NeonClient, tmp_path: Path, clock: FakeClock) -> Iterator[Checkpoints]:
    desired = planning.validate(EXAMPLE)
    # The ledger shares the emulator's clock, so expiry is judged on one timeline.
    with open_ledger(
        f"sqlite:///{tmp_path}/ledger.db", clock=lambda: datetime.fromtimestamp(clock.now, UTC)
    ) as ledger:
        yield Checkpoints(TestEnvironment(desired, client, ledger), desired)


def branch_names(client: NeonClient, project_id: str = "p-00043") -> dict[str, str]:
    return {b.name: b.id for b in client.list_branches("free-key", project_id)}


def test_client_calls_round_trip(client: NeonWriter, clock: FakeClock) -> None:
    main = branch_names(client)["main"]
    created = client.create_snapshot("free-key", "p-00043", main, name="a")
    client.wait_for_operations("free-key", "p-00043", created.operations)
    [listed] = neon_snapshots.list_snapshots(client, "free-key", "p-00043")
    assert listed.source_branch_id == main and listed.full_size == 0
    renamed = client.rename_snapshot("free-key", "p-00043", listed.id, "b")
    assert renamed.name == "b"
    preview = client.restore_snapshot("free-key", "p-00043", listed.id)
    assert preview.restore_status == "restored" and preview.restored_as == main
    assert len(preview.endpoints) == 1
    client.wait_for_operations("free-key", "p-00043", preview.operations)
    ops = client.finalize_restore("free-key", "p-00043", preview.branch.id)
    client.wait_for_operations("free-key", "p-00043", ops)
    assert branch_names(client)["main"] == preview.branch.id
    ops = client.delete_snapshot("free-key", "p-00043", listed.id)
    client.wait_for_operations("free-key", "p-00043", ops)
    assert neon_snapshots.list_snapshots(client, "free-key", "p-00043") == []


def test_create_resolves_by_project_name_and_reads_back_a_lost_answer(
    service: Checkpoints, lossy: LoseNextSnapshotAnswer
) -> None:
    lossy.armed = "after"
    record = service.create("cust-00043", CreateOptions(source_rev="abc", run_id="r-1"))
    assert record.status is CheckpointStatus.READY and record.snapshot_id
    assert record.project_id == "p-00043" and record.branch_name == "main"
    [snapshot] = neon_snapshots.list_snapshots(service.client, "free-key", "p-00043")
    assert snapshot.id == record.snapshot_id and snapshot.name == record.snapshot_name


def test_a_lost_create_that_did_not_happen_leaves_no_record(
    service: Checkpoints, lossy: LoseNextSnapshotAnswer
) -> None:
    lossy.armed = "before"
    with pytest.raises(OutcomeUnknown):
        service.create("cust-00043", CreateOptions(source_rev="abc"))
    assert service.list() == []
    assert neon_snapshots.list_snapshots(service.client, "free-key", "p-00043") == []


def test_limit_error_names_tenant_and_limit(service: Checkpoints) -> None:
    for _ in range(3):
        service.create("cust-00043", CreateOptions(source_rev="abc"))
    with pytest.raises(UnprocessableEntity) as caught:
        service.create("cust-00043", CreateOptions(source_rev="abc"))
    message = str(caught.value)
    assert "tenant cust-00043" in message and "limit of 3 snapshots" in message
    assert len(service.list("cust-00043")) == 3


def test_only_root_branches(service: Checkpoints, client: NeonWriter) -> None:
    client.create_branch("free-key", "p-00043", name="dev")
    with pytest.raises(UsageError, match="not a root branch"):
        service.create("cust-00043", CreateOptions(source_rev="abc", branch="dev"))
    with pytest.raises(UsageError, match="unknown tenant"):
        service.create("nobody", CreateOptions(source_rev="abc"))


def test_preview_restore_leaves_the_branch(service: Checkpoints, client: NeonWriter) -> None:
    record = service.create("cust-00043", CreateOptions(source_rev="abc"))
    steps: list[RestoreStep] = []
    outcome = service.restore(record.id, preview=True, on_step=steps.append)
    assert [s.name for s in steps] == ["rollback", "restore", "done"]
    assert outcome.checkpoint.status is CheckpointStatus.PREVIEWED
    names = branch_names(client)
    assert names["main"] == record.branch_id
    assert outcome.checkpoint.restored_branch_id in names.values()


def test_old_branch_with_children_is_kept(service: Checkpoints, client: NeonWriter) -> None:
    record = service.create("cust-00043", CreateOptions(source_rev="abc"))
    client.create_branch("free-key", "p-00043", name="staging")
    # The branch create still runs: the restore meets 423 and the client retries it.
    outcome = service.restore(record.id)
    assert outcome.kept_old_reason == "it has child branches: staging"
    assert outcome.checkpoint.old_branch_deleted is False
    assert branch_names(client)["main (old)"] == record.branch_id


def test_a_restore_that_fails_midway_is_marked_failed(
    service: Checkpoints, client: NeonWriter
) -> None:
    record = service.create("cust-00043", CreateOptions(source_rev="abc"))
    client.update_branch("free-key", "p-00043", record.branch_id, name="renamed")
    with pytest.raises(UsageError, match="branch main no longer exists"):
        service.restore(record.id)
    failed = service.show(record.id)
    assert failed.status is CheckpointStatus.FAILED and "no longer exists" in failed.error
    assert failed.restore_started_at is not None and failed.restored_at is not None


def test_gc_collects_expired_checkpoints(service: Checkpoints, clock: FakeClock) -> None:
    kept = service.create("cust-00043", CreateOptions(source_rev="abc"))
    short = service.create("cust-00043", CreateOptions(source_rev="abc", expires_in_seconds=60))
    assert collect_garbage(service).collected == ()  # the free tier sets no retention
    clock.advance(120)
    dry = collect_garbage(service, dry_run=True)
    assert [(c.checkpoint.id, c.reason) for c in dry.collected] == [(short.id, "expired")]
    assert {c.id for c in service.list()} == {kept.id, short.id}
    report = collect_garbage(service, "cust-00043")
    [gone] = report.collected
    # Neon had already deleted the expired snapshot, so no size was reported for it.
    assert (gone.snapshot_existed, gone.freed_bytes, report.unsized) == (False, None, 1)
    assert [c.id for c in service.list()] == [kept.id]


def test_schedule_skips_tenants_without_projects(service: Checkpoints, clock: FakeClock) -> None:
    policy = CheckpointPolicy(every_seconds=3600)
    desired = service.desired
    tenants = {
        name: replace(t, checkpoints=policy)
        for name, t in desired.tenants.items()
        if name in ("cust-00042", "cust-00043", "cust-00100")
    }
    service.desired = replace(desired, tenants=tenants)
    paced: dict[str, Any] = {"sleep": clock.advance, "clock": clock, "max_per_minute": 600.0}
    report = schedule_checkpoints(service, source_rev="abc", parallelism=2, **paced)
    assert sorted(c.tenant for c in report.created) == ["cust-00042", "cust-00043"]
    assert list(report.failed) == ["cust-00100"]  # no project in the emulator
    again = schedule_checkpoints(service, source_rev="abc", parallelism=2, limit=1, **paced)
    assert again.created == () and again.not_due == ("cust-00042", "cust-00043")
    assert again.deferred == ()


NOW = datetime(2026, 3, 1, tzinfo=UTC)


def record(cid: int, age_days: float, status: str = "ready", expires: float | None = None) -> Any:
    created = NOW - timedelta(days=age_days)
    return Checkpoint(
        id=cid, tenant="t", project_id="p", org_id="o", branch_name="main", branch_id="b",
        snapshot_id=f"s{cid}", snapshot_name=f"n{cid}", source_rev="r", secrets_version=None,
        deploy_url=None, agent_run_id=None, meta={}, origin="manual",
        status=CheckpointStatus(status), created_at=created, updated_at=created,
        expires_at=None if expires is None else NOW + timedelta(days=expires),
    )  # fmt: skip


def test_retention_rules() -> None:
    records = [record(5, 1), record(4, 2, "creating"), record(3, 3, expires=-1), record(2, 40),
               record(1, 50, "restoring")]  # fmt: skip
    keep_two = retention_candidates(records, CheckpointPolicy(keep_last=2), NOW)
    assert [(r.id, why) for r, why in keep_two] == [(3, "expired")]
    by_age = retention_candidates(records, CheckpointPolicy(max_age_seconds=30 * 86400), NOW)
    assert [(r.id, why) for r, why in by_age] == [
        (3, "expired"), (2, f"older than max_age {30 * 86400}s"),
    ]  # fmt: skip
    keep_one = retention_candidates(records, CheckpointPolicy(keep_last=1), NOW)
    assert [r.id for r, _ in keep_one] == [3, 2]
    assert [r.id for r, _ in retention_candidates(records, None, NOW)] == [3]


def test_due_rules() -> None:
    daily = CheckpointPolicy(every_seconds=86400)
    assert is_due(None, daily, NOW)
    assert not is_due(NOW - timedelta(hours=23), daily, NOW)
    assert is_due(NOW - timedelta(hours=24), daily, NOW)
    assert not is_due(None, CheckpointPolicy(keep_last=3), NOW)
    assert not is_due(None, None, NOW)


def test_hook_gets_the_record_and_its_failure_is_explained(tmp_path: Path) -> None:
    item = record(7, 0)
    echo = f"{sys.executable} -c 'import sys, json; print(json.load(sys.stdin)[\"id\"])'"
    assert run_hook(echo, item) == {"exit_code": 0, "output": "7"}
    failing = f"{sys.executable} -c 'import sys; print(\"db busy\", file=sys.stderr); sys.exit(2)'"
    with pytest.raises(UsageError, match=r"exit code 2 \(db busy\); checkpoint #7 was not"):
        run_hook(failing, item)
    with pytest.raises(UsageError, match="could not run"):
        run_hook(str(tmp_path / "missing-hook"), item)
    with pytest.raises(UsageError, match="empty"):
        run_hook("  ", item)


def test_git_revision(tmp_path: Path) -> None:
    assert git_revision(tmp_path) is None
    revision = git_revision(EXAMPLE)  # the repository's HEAD (None in an exported tree)
    assert revision is None or (len(revision) == 40 and int(revision, 16) >= 0)


def test_gc_settles_records_a_crashed_create_left(service: Checkpoints, clock: FakeClock) -> None:
    base: dict[str, Any] = {"tenant": "cust-00043", "project_id": "p-00043", "org_id": "org-free-1",
            "branch_name": "main", "source_rev": "abc"}  # fmt: skip
    main = branch_names(service.client)["main"]
    # Crashed before the request: no snapshot. Crashed after it: the snapshot exists.
    before = service.store.begin(NewCheckpoint(**base, branch_id=main))
    after = service.store.begin(NewCheckpoint(**base, branch_id=main))
    NeonWriter.over(service.client).create_snapshot(
        "free-key", "p-00043", main, name=after.snapshot_name
    )
    assert collect_garbage(service).settled == {}  # too recent: a create may still run
    clock.advance(16 * 60)
    report = collect_garbage(service)
    assert report.settled == {before.id: "discarded", after.id: "ready"}
    [kept] = service.list()
    assert kept.id == after.id and kept.status is CheckpointStatus.READY and kept.snapshot_id


def test_restore_hook_does_not_see_the_fleets_neon_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEON_FREE_ORG_KEY", "org-free-secret")
    monkeypatch.setenv("NEON_PERSONAL_KEY", "personal-secret")
    monkeypatch.setenv("DEPLOY_TOKEN", "deploy-token")
    show = (
        f"{sys.executable} -c 'import os; "
        'print(sorted(k for k in ("NEON_FREE_ORG_KEY", "NEON_PERSONAL_KEY", "DEPLOY_TOKEN") '
        "if k in os.environ))'"
    )
    ran = run_hook(show, record(7, 0), key_variables=["NEON_FREE_ORG_KEY", "NEON_PERSONAL_KEY"])
    assert ran["output"] == "['DEPLOY_TOKEN']"  # the caller's own token passes, Neon keys do not


def test_key_variables_name_every_org_key_and_the_personal_key() -> None:
    fleet = load_fleet(EXAMPLE).fleet
    expected = {org.api_key_env for org in fleet.orgs.values()} | {fleet.personal_api_key_env}
    assert set(key_variables(fleet)) == expected and None not in expected
