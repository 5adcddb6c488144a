"""Checkpoint changes run through the applier: recorded runs, intents, and kills that converge.

A kill is simulated the way the apply fault tests do it (``Killed`` is not an ``Exception``, so
no handler of the run catches it) at exactly the moment Neon has done the work and the process
has not yet written it down: the worst moment for a duplicate.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.app.checkpoint_jobs import ScheduleReport, schedule_checkpoints
from reconciler.app.checkpoints import Checkpoints, CreateOptions
from reconciler.apply.restore_steps import RESTORE_INTENT
from reconciler.apply.snapshot_steps import CREATE_SNAPSHOT_INTENT
from reconciler.core.branch_policies import CheckpointPolicy
from reconciler.core.model import OwnedTenant
from reconciler.errors import LockHeldError, UnprocessableEntity
from reconciler.ledger import open_ledger
from reconciler.ledger.checkpoints import CheckpointStatus
from reconciler.neon import snapshots as neon_snapshots
from reconciler.neon.mutators import NeonWriter
from tests.apply.fleet_harness import Killed, performed_then
from tests.checkpoints.conftest import FakeClock
from tests.checkpoints.test_service import branch_names, client, emulator_seed, lossy, service

__all__ = ["client", "emulator_seed", "lossy", "service"]  # fixtures used here

pytestmark = pytest.mark.integration

TENANT, PROJECT = "cust-00043", "p-00043"


def _own(service: Checkpoints, client: NeonWriter) -> str:
    """Record the tenant in the ledger (as an apply would); return its main branch id."""
    main = branch_names(client)["main"]
    service.env.ledger().upsert_tenant(OwnedTenant(TENANT, PROJECT, "org-free-1", {"main": main}))
    return main


def _open(service: Checkpoints, action: str) -> int:
    return sum(1 for i in service.env.ledger().pending_intents() if i.action == action)


def _requests(client: NeonWriter, route: str) -> int:
    return client.stats.snapshot().requests.get(route, 0)


def test_create_and_restore_are_recorded_as_runs_with_their_steps(
    service: Checkpoints, client: NeonWriter
) -> None:
    main = _own(service, client)
    record = service.create(TENANT, CreateOptions(source_rev="abc"))
    outcome = service.restore(record.id)
    ledger = service.env.ledger()
    restore_run, create_run = ledger.runs(2)
    assert {restore_run.info.mode, create_run.info.mode} == {"checkpoint"}
    assert create_run.result == restore_run.result == "succeeded"
    [taken] = ledger.run(create_run.run_id).steps or ()
    assert (taken.step_id, taken.action, taken.tenant) == (
        f"checkpoint/{TENANT}/create/{record.id}", "create_snapshot", TENANT,
    )  # fmt: skip
    assert taken.resource_ids["snapshot_id"] == record.snapshot_id
    steps = ledger.run(restore_run.run_id).steps or ()
    assert [s.action for s in steps] == ["restore_snapshot", "record_branch", "delete_old_branch"]
    new_id = outcome.checkpoint.restored_branch_id
    assert steps[0].resource_ids["from_branch_id"] == main
    assert steps[0].resource_ids["new_branch_id"] == new_id
    assert not ledger.pending_intents()


def test_a_restore_killed_after_neon_restored_finishes_on_rerun_without_a_second_restore(
    service: Checkpoints, client: NeonWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = _own(service, client)
    record = service.create(TENANT, CreateOptions(source_rev="abc"))
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "restore_snapshot", Killed)
        with pytest.raises(Killed):
            service.restore(record.id)
    restored = branch_names(client)
    assert restored["main"] != main and restored["main (old)"] == main  # Neon restored ...
    owned = service.env.ledger().tenant(TENANT)
    assert owned is not None and owned.branch_ids["main"] == main  # ... the ledger never knew
    assert _open(service, RESTORE_INTENT) == 1

    outcome = service.restore(record.id)

    assert branch_names(client) == {"main": restored["main"]}  # no second restore, old gone
    assert _requests(client, "POST /projects/{project_id}/snapshots/{snapshot_id}/restore") == 1
    done = outcome.checkpoint
    assert done.status is CheckpointStatus.RESTORED and done.restored_branch_id == restored["main"]
    assert done.old_branch_id == main and done.old_branch_deleted
    owned = service.env.ledger().tenant(TENANT)
    assert owned is not None and owned.branch_ids["main"] == restored["main"]
    assert not service.env.ledger().pending_intents()


def test_a_restore_killed_before_neon_heard_of_it_restores_once_on_rerun(
    service: Checkpoints, client: NeonWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = _own(service, client)
    record = service.create(TENANT, CreateOptions(source_rev="abc"))

    def killed_before_sending(*_args: Any, **_kwargs: Any) -> None:
        raise Killed()

    with monkeypatch.context() as patch:
        patch.setattr(NeonWriter, "restore_snapshot", killed_before_sending)
        with pytest.raises(Killed):
            service.restore(record.id)
    assert branch_names(client) == {"main": main} and _open(service, RESTORE_INTENT) == 1

    outcome = service.restore(record.id)

    [new_id] = branch_names(client).values()
    assert new_id != main and outcome.checkpoint.restored_branch_id == new_id
    assert _requests(client, "POST /projects/{project_id}/snapshots/{snapshot_id}/restore") == 1
    assert not service.env.ledger().pending_intents()


def test_a_restore_whose_cleanup_failed_resumes_on_rerun_and_a_later_one_restores_afresh(
    service: Checkpoints, client: NeonWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = _own(service, client)
    record = service.create(TENANT, CreateOptions(source_rev="abc"))
    refused = UnprocessableEntity("branch is busy", status=422)

    def busy(*_args: Any, **_kwargs: Any) -> None:
        raise refused

    with monkeypatch.context() as patch:
        patch.setattr(NeonWriter, "delete_branch", busy)
        with pytest.raises(UnprocessableEntity):
            service.restore(record.id)
    failed = service.show(record.id)
    assert failed.status is CheckpointStatus.FAILED and "branch is busy" in failed.error
    restored = branch_names(client)
    assert restored["main (old)"] == main

    resumed = service.restore(record.id)  # the ledger step and the cleanup, no second restore

    route = "POST /projects/{project_id}/snapshots/{snapshot_id}/restore"
    assert _requests(client, route) == 1
    assert branch_names(client) == {"main": restored["main"]}
    assert resumed.checkpoint.status is CheckpointStatus.RESTORED
    assert not service.env.ledger().pending_intents()

    again = service.restore(record.id)  # done before: this one is a new restore

    assert _requests(client, route) == 2
    assert again.checkpoint.old_branch_id == restored["main"]
    assert set(branch_names(client)) == {"main"} and branch_names(client)["main"] not in (
        main, restored["main"],
    )  # fmt: skip


def _hourly(service: Checkpoints) -> None:
    tenant = replace(
        service.desired.tenants[TENANT], checkpoints=CheckpointPolicy(every_seconds=3600)
    )
    service.desired = replace(service.desired, tenants={TENANT: tenant})


def _schedule(service: Checkpoints, clock: FakeClock) -> ScheduleReport:
    return schedule_checkpoints(
        service, source_rev="abc", parallelism=1, sleep=clock.advance, clock=clock
    )


def test_a_schedule_killed_mid_create_converges_without_a_second_snapshot(
    service: Checkpoints, client: NeonWriter, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _own(service, client)
    _hourly(service)
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "create_snapshot", Killed)
        with pytest.raises(Killed):
            _schedule(service, clock)
    [stranded] = service.store.list()
    assert stranded.status is CheckpointStatus.CREATING and stranded.snapshot_id is None
    assert _open(service, CREATE_SNAPSHOT_INTENT) == 1
    [made] = neon_snapshots.list_snapshots(client, "free-key", PROJECT)
    assert made.name == stranded.snapshot_name

    # Soon after, the creating record may still belong to a live run: left alone.
    soon = _schedule(service, clock)
    assert soon.created == () and soon.taken_elsewhere == (TENANT,)
    clock.advance(16 * 60)
    later = _schedule(service, clock)

    assert later.settled == {stranded.id: "ready"} and later.created == ()
    assert [s.id for s in neon_snapshots.list_snapshots(client, "free-key", PROJECT)] == [made.id]
    [kept] = service.store.list()
    assert kept.status is CheckpointStatus.READY and kept.snapshot_id == made.id
    assert not service.env.ledger().pending_intents()


def test_a_checkpoint_change_is_refused_while_an_apply_holds_the_lock(
    service: Checkpoints, client: NeonWriter, tmp_path: Path
) -> None:
    other = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    with other, other.apply_lock("alice@ci"), pytest.raises(LockHeldError, match="alice@ci"):
        service.create(TENANT, CreateOptions(source_rev="abc"))
    assert service.store.list() == []
    assert neon_snapshots.list_snapshots(client, "free-key", PROJECT) == []
    assert service.create(TENANT, CreateOptions(source_rev="abc")).status is CheckpointStatus.READY
