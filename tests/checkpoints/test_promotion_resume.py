"""``fleet promote run`` resumed after a kill at the worst moments, in process.

Each kill lands where Neon has done the work and the process has not yet written it down (as
the checkpoint restore tests do it): while dev's snapshot is created, right after Neon restored
onto production, and after everything but the promotion's own ``done``. The same command run
again must finish the same promotion: no second snapshot, no second restore.
"""

from __future__ import annotations

import sys

import pytest

from reconciler.app.checkpoints import Checkpoints, RestoreStep
from reconciler.app.promotion import PromoteOptions, Promotions
from reconciler.core.model import OwnedTenant
from reconciler.errors import UsageError
from reconciler.ledger.promotions import PromotionStatus
from reconciler.ledger.sql_promotions import SqlPromotionStore
from reconciler.neon.mutators import NeonWriter
from tests.apply.fleet_harness import Killed, performed_then
from tests.checkpoints.test_service import branch_names, client, emulator_seed, lossy, service

__all__ = ["client", "emulator_seed", "lossy", "service"]  # fixtures used here

pytestmark = pytest.mark.integration

TENANT, PROJECT = "cust-00043", "p-00043"
RESTORE_ROUTE = "POST /projects/{project_id}/snapshots/{snapshot_id}/restore"
SNAPSHOT_ROUTE = "POST /projects/{project_id}/branches/{branch_id}/snapshot"
OPTIONS = PromoteOptions(source_rev="abc")


def _bootstrapped(service: Checkpoints, client: NeonWriter) -> Promotions:
    main = branch_names(client)["main"]
    service.env.ledger().upsert_tenant(OwnedTenant(TENANT, PROJECT, "org-free-1", {"main": main}))
    promotions = Promotions(service.env, service.desired)
    promotions.bootstrap(TENANT, OPTIONS, lambda _step: None)
    return promotions


def _requests(client: NeonWriter, route: str) -> int:
    """Requests Neon carried out: every attempt but those answered 423 and retried (a
    restore right after a settled snapshot waits for that snapshot's operations this way)."""
    stats = client.stats.snapshot()
    return stats.requests.get(route, 0) - stats.retries.get(route, 0)


def _converged(promotions: Promotions, client: NeonWriter) -> None:
    """One promotion, done, with one rollback point, one dev snapshot and one restore."""
    ledger = promotions.ledger
    [run] = [p for p in promotions.store.list(TENANT) if p.kind.value == "run"]
    assert run.status is PromotionStatus.DONE
    live = branch_names(client)
    assert sorted(live) == ["dev", "main"] and run.new_branch_id == live["main"]
    owned = ledger.tenant(TENANT)
    assert owned is not None and owned.branch_ids["main"] == live["main"]
    assert _requests(client, RESTORE_ROUTE) == 2  # bootstrap's dev branch, then the promotion
    assert _requests(client, SNAPSHOT_ROUTE) == 3  # bootstrap's, the rollback point, dev's
    taken = [c for c in ledger.checkpoints.list(TENANT) if c.meta.get("promotion_id")]
    assert sorted(c.meta["promotion_role"] for c in taken if c.meta["promotion_id"] == str(
        run.id)) == ["rollback", "source"]  # fmt: skip
    assert {c.id for c in taken} >= {run.rollback_checkpoint_id, run.source_checkpoint_id}
    assert not ledger.pending_intents()


def test_a_run_killed_after_neon_restored_finishes_on_rerun(
    service: Checkpoints, client: NeonWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    promotions = _bootstrapped(service, client)
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "restore_snapshot", Killed)
        with pytest.raises(Killed):
            promotions.run(TENANT, OPTIONS, lambda _step: None)
    assert "main (old)" in branch_names(client)  # Neon restored; the ledger never knew
    promotions.run(TENANT, OPTIONS, lambda _step: None)
    _converged(promotions, client)


def test_a_run_killed_while_dev_was_snapshotted_settles_the_snapshot_on_rerun(
    service: Checkpoints, client: NeonWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    promotions = _bootstrapped(service, client)
    original = NeonWriter.create_snapshot
    calls = []

    def second_is_killed(self: NeonWriter, *args: object, **kwargs: object) -> object:
        made = original(self, *args, **kwargs)  # type: ignore[arg-type]
        calls.append(1)
        if len(calls) == 2:  # the rollback point was taken; dev's snapshot exists on Neon
            raise Killed()
        return made

    with monkeypatch.context() as patch:
        patch.setattr(NeonWriter, "create_snapshot", second_is_killed)
        with pytest.raises(Killed):
            promotions.run(TENANT, OPTIONS, lambda _step: None)
    promotions.run(TENANT, OPTIONS, lambda _step: None)
    _converged(promotions, client)


def test_a_run_killed_before_its_record_said_done_does_not_restore_again(
    service: Checkpoints, client: NeonWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    promotions = _bootstrapped(service, client)
    with monkeypatch.context() as patch:
        patch.setattr(SqlPromotionStore, "finish", lambda *_args: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            promotions.run(TENANT, OPTIONS, lambda _step: None)
    steps: list[RestoreStep] = []
    promotions.run(TENANT, OPTIONS, steps.append)
    [restore] = [s for s in steps if s.name == "restore"]
    assert restore.detail["resumed"] is True  # the recorded restore was not sent again
    _converged(promotions, client)


def test_a_rollback_killed_after_its_restore_finishes_without_restoring_again(
    service: Checkpoints, client: NeonWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    promotions = _bootstrapped(service, client)
    promotions.run(TENANT, OPTIONS, lambda _step: None)
    restores = _requests(client, RESTORE_ROUTE)
    with monkeypatch.context() as patch:
        patch.setattr(SqlPromotionStore, "finish", lambda *_args: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            promotions.rollback(TENANT, OPTIONS, lambda _step: None)
    [run] = [p for p in promotions.store.list(TENANT) if p.kind.value == "run"]
    assert run.status is PromotionStatus.ROLLING_BACK
    done = promotions.rollback(TENANT, OPTIONS, lambda _step: None)
    assert done.status is PromotionStatus.ROLLED_BACK and done.rolled_back_at is not None
    assert _requests(client, RESTORE_ROUTE) == restores + 1
    owned = promotions.ledger.tenant(TENANT)
    assert owned is not None and owned.branch_ids["main"] == branch_names(client)["main"]
    assert not promotions.ledger.pending_intents()


def test_a_failing_rollback_hook_changes_nothing_and_an_unfinished_run_blocks_rollback(
    service: Checkpoints, client: NeonWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    promotions = _bootstrapped(service, client)
    promotions.run(TENANT, OPTIONS, lambda _step: None)
    before = branch_names(client)
    failing = PromoteOptions(hook=f"{sys.executable} -c 'import sys; sys.exit(4)'")
    with pytest.raises(UsageError, match="nothing was rolled back and nothing was changed"):
        promotions.rollback(TENANT, failing, lambda _step: None)
    [run] = [p for p in promotions.store.list(TENANT) if p.kind.value == "run"]
    assert run.status is PromotionStatus.DONE and branch_names(client) == before

    with monkeypatch.context() as patch:  # a second run, killed before its first snapshot
        patch.setattr(NeonWriter, "create_snapshot", lambda *_a, **_k: (_ for _ in ()).throw(
            Killed()))  # fmt: skip
        with pytest.raises(Killed):
            promotions.run(TENANT, OPTIONS, lambda _step: None)
    with pytest.raises(UsageError, match="is unfinished; run `fleet promote run` again"):
        promotions.rollback(TENANT, OPTIONS, lambda _step: None)


def test_a_bootstrap_killed_after_neon_made_dev_keeps_that_branch_and_its_snapshot(
    service: Checkpoints, client: NeonWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = branch_names(client)["main"]
    service.env.ledger().upsert_tenant(OwnedTenant(TENANT, PROJECT, "org-free-1", {"main": main}))
    promotions = Promotions(service.env, service.desired)
    with monkeypatch.context() as patch:
        performed_then(patch, NeonWriter, "restore_snapshot", Killed)
        with pytest.raises(Killed):
            promotions.bootstrap(TENANT, OPTIONS, lambda _step: None)
    made = branch_names(client)["dev"]
    done = promotions.bootstrap(TENANT, OPTIONS, lambda _step: None)
    assert done.status is PromotionStatus.DONE and branch_names(client) == {
        "main": main, "dev": made,
    }  # fmt: skip
    assert _requests(client, RESTORE_ROUTE) == 1 and _requests(client, SNAPSHOT_ROUTE) == 1
    assert not promotions.ledger.pending_intents()
