"""Contract: the promotion store (migration 0009) on every backend.

A promotion is found again while ``running`` (a killed ``fleet promote`` resumes it), keeps the
ids its steps attach across a reopen, and ``last_run`` is what ``rollback`` undoes.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.errors import LedgerError
from reconciler.ledger import Ledger
from reconciler.ledger.promotions import NewPromotion, PromotionKind, PromotionStatus
from tests.ledger.conftest import FakeClock


def _new(kind: PromotionKind = PromotionKind.RUN, **changes: object) -> NewPromotion:
    values: dict[str, object] = {
        "tenant": "acme", "kind": kind, "project_id": "proj-1", "source_branch": "dev",
        "target_branch": "main", "source_rev": "abc", "agent_run_id": "run-1",
        "meta": {"model": "m-1"},
    }  # fmt: skip
    values.update(changes)
    return NewPromotion(**values)  # type: ignore[arg-type]


def test_a_running_promotion_is_found_again_and_keeps_its_ids_across_a_reopen(
    ledger: Ledger, open_at: Callable[..., Ledger], clock: FakeClock
) -> None:
    store = ledger.promotions
    begun = store.begin(_new())
    assert begun.status is PromotionStatus.RUNNING and begun.created_at == clock.now
    assert store.open_for("acme", PromotionKind.RUN) == begun
    assert store.open_for("acme", PromotionKind.REFRESH) is None
    store.attach(begun.id, rollback_checkpoint_id=7, source_checkpoint_id=8)
    store.attach(
        begun.id, from_branch_id="br-old", new_branch_id="br-new", source_checkpoint_id=None
    )
    clock.advance(5)
    store.finish(begun.id, PromotionStatus.DONE)
    again = open_at(clock=clock).promotions.get(begun.id)
    assert (again.rollback_checkpoint_id, again.source_checkpoint_id) == (7, 8)
    assert (again.from_branch_id, again.new_branch_id) == ("br-old", "br-new")
    assert again.status is PromotionStatus.DONE and again.finished_at == clock.now
    assert again.meta == {"model": "m-1"} and again.agent_run_id == "run-1"
    assert store.open_for("acme", PromotionKind.RUN) is None
    assert again.to_json()["rollback_checkpoint_id"] == 7


def test_last_run_is_the_newest_finished_run_and_rollback_is_recorded(
    ledger: Ledger, clock: FakeClock
) -> None:
    store = ledger.promotions
    first = store.begin(_new())
    store.finish(first.id, PromotionStatus.DONE)
    store.begin(_new(PromotionKind.REFRESH, source_branch="main", target_branch="dev"))
    unfinished = store.begin(_new())
    assert store.last_run("acme") == store.get(first.id)
    assert store.last_run("other") is None
    store.begin_rollback(first.id)
    assert store.get(first.id).status is PromotionStatus.ROLLING_BACK
    clock.advance(3)
    store.finish(first.id, PromotionStatus.ROLLED_BACK)
    done = store.get(first.id)
    assert done.status is PromotionStatus.ROLLED_BACK and done.rolled_back_at == clock.now
    assert [p.kind for p in store.list("acme")] == [
        PromotionKind.RUN, PromotionKind.REFRESH, PromotionKind.RUN,
    ]  # fmt: skip
    assert store.open_for("acme", PromotionKind.RUN) == store.get(unfinished.id)


def test_unknown_ids_columns_and_secret_values_are_refused(ledger: Ledger) -> None:
    store = ledger.promotions
    with pytest.raises(LedgerError, match="no promotion #99"):
        store.get(99)
    with pytest.raises(LedgerError, match="no promotion #99"):
        store.finish(99, PromotionStatus.DONE)
    begun = store.begin(_new())
    with pytest.raises(LedgerError, match="no column 'status'"):
        store.attach(begun.id, status="done")
    with pytest.raises(LedgerError, match="secret"):
        store.begin(_new(meta={"token": "x"}))
