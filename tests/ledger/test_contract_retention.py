"""Contract: history retention prunes old run steps, resolved intents and drift history only.

Every test runs on both backends (SQLite, and PostgreSQL in its own schema when
``FLEET_TEST_POSTGRES_DSN`` is set), with the fake clock so ages are exact.
"""

from __future__ import annotations

from datetime import timedelta

from reconciler.ledger import Ledger, RunInfo, StepOutcomeRecord, StepStatus
from reconciler.ledger.checkpoints import NewCheckpoint
from reconciler.ledger.drift import Sighting
from reconciler.ledger.retention import (
    PRUNED_BEFORE_KEY,
    prune_by_policy,
    pruned_before,
    retention_cutoff,
)
from tests.ledger.conftest import FakeClock

DAY = 86400


def _run(ledger: Ledger, clock: FakeClock, steps: int, *, finish: bool = True) -> int:
    """A run with ``steps`` step outcomes, finished (or not) at the clock's time."""
    info = RunInfo("ci@runner", clock.now, "p" * 64, "m" * 64, "1.0")
    run_id = ledger.begin_run(info)
    for n in range(steps):
        ledger.record_step(
            run_id,
            StepOutcomeRecord(
                f"project/t{n}/update", f"t{n}", "update_project", StepStatus.SUCCEEDED,
                clock.now, clock.now,
            ),
        )  # fmt: skip
    if finish:
        ledger.finish_run(run_id, "succeeded", {"succeeded": steps})
    return run_id


def _report(ledger: Ledger, clock: FakeClock, *item_ids: str) -> int:
    sightings = [Sighting(i, i.split("/")[0], "changed", "quota.x") for i in item_ids]
    recorded = ledger.drift.record(
        sightings,
        fleet="acme",
        manifest_digest="d",
        summary={"items": len(item_ids)},
        document=lambda rid, _since: {"report_id": rid},
        at=clock.now,
    )
    return recorded.report_id


def _count(ledger: Ledger, table: str) -> int:
    from reconciler.ledger.sql import SqlLedger

    assert isinstance(ledger, SqlLedger)
    with ledger.transaction() as tx:
        row = tx.one(f"SELECT COUNT(*) FROM {table}")
    assert row is not None
    return int(row[0])


def test_prune_removes_steps_of_old_finished_runs_and_keeps_their_headers(
    ledger: Ledger, clock: FakeClock
) -> None:
    old = _run(ledger, clock, 3)
    unfinished = _run(ledger, clock, 2, finish=False)
    clock.advance(100 * DAY)
    recent = _run(ledger, clock, 1)

    report = ledger.prune_history(retention_cutoff(ledger, 90 * DAY))

    assert (report.run_steps, report.runs, report.dry_run) == (3, 1, False)
    assert [r.run_id for r in ledger.runs()] == [recent, unfinished, old]  # headers stay
    assert ledger.run(old).steps == () and ledger.run(old).summary == {"succeeded": 3}
    assert len(ledger.run(unfinished).steps or ()) == 2  # never finished: kept whatever its age
    assert len(ledger.run(recent).steps or ()) == 1
    assert pruned_before(ledger) == report.cutoff


def test_prune_keeps_open_intents_and_removes_old_resolved_ones(
    ledger: Ledger, clock: FakeClock
) -> None:
    done = ledger.record_intent("t1", "create_project", {"name": "t1"})
    ledger.resolve_intent(done, "done")
    still_open = ledger.record_intent("t2", "create_project", {"name": "t2"})
    clock.advance(91 * DAY)
    fresh = ledger.record_intent("t3", "create_project", {"name": "t3"})
    ledger.resolve_intent(fresh, "done")

    report = ledger.prune_history(retention_cutoff(ledger, 90 * DAY))

    assert report.intents == 1
    assert [i.intent_id for i in ledger.pending_intents()] == [still_open]
    assert _count(ledger, "intents") == 2
    assert "t2" in ledger.view().pending_creates


def test_prune_removes_resolved_drift_and_old_reports_but_keeps_open_items(
    ledger: Ledger, clock: FakeClock
) -> None:
    first = _report(ledger, clock, "a/changed/quota.x", "b/changed/quota.x")
    clock.advance(DAY)
    second = _report(ledger, clock, "a/changed/quota.x")  # b resolved here
    clock.advance(100 * DAY)
    third = _report(ledger, clock, "a/changed/quota.x")
    store = ledger.drift

    report = ledger.prune_history(retention_cutoff(ledger, 90 * DAY))

    # b's item was resolved 100 days ago; the first two reports are old and no item points at
    # them any more (a's item points at the third).
    assert (report.drift_items, report.drift_reports) == (1, 2)
    assert [r.report_id for r in store.reports()] == [third]
    assert set(store.open_items()) == {"a/changed/quota.x"}
    assert store.open_items()["a/changed/quota.x"] == clock.now - timedelta(days=101)
    assert first < second < third


def test_prune_keeps_an_old_report_an_open_item_still_points_at(
    ledger: Ledger, clock: FakeClock
) -> None:
    only = _report(ledger, clock, "a/changed/quota.x")
    clock.advance(200 * DAY)

    report = ledger.prune_history(retention_cutoff(ledger, 90 * DAY))

    assert (report.drift_items, report.drift_reports) == (0, 0)
    assert [r.report_id for r in ledger.drift.reports()] == [only]


def test_prune_dry_run_counts_the_same_rows_and_removes_nothing(
    ledger: Ledger, clock: FakeClock
) -> None:
    _run(ledger, clock, 2)
    intent = ledger.record_intent("t1", "create_project", {"name": "t1"})
    ledger.resolve_intent(intent, "done")
    _report(ledger, clock, "a/changed/quota.x")
    _report(ledger, clock)  # resolves a
    clock.advance(91 * DAY)
    _report(ledger, clock)
    cutoff = retention_cutoff(ledger, 90 * DAY)

    dry = ledger.prune_history(cutoff, dry_run=True)
    assert _count(ledger, "run_steps") == 2 and _count(ledger, "drift_reports") == 3
    assert ledger.get_meta(PRUNED_BEFORE_KEY) is None
    real = ledger.prune_history(cutoff)

    assert dry.dry_run and not real.dry_run
    counts = (real.run_steps, real.runs, real.intents, real.drift_items, real.drift_reports)
    assert (dry.run_steps, dry.runs, dry.intents, dry.drift_items, dry.drift_reports) == counts
    assert counts == (2, 1, 1, 1, 2)
    assert ledger.prune_history(cutoff).total == 0  # a second prune finds nothing


def test_prune_never_touches_checkpoints_tenants_or_tombstones(
    ledger: Ledger, clock: FakeClock
) -> None:
    store = ledger.checkpoints
    store.begin(NewCheckpoint("t1", "proj-1", "org-1", "main", "br-1", "rev-1"))
    clock.advance(400 * DAY)

    ledger.prune_history(retention_cutoff(ledger, DAY))

    assert len(store.list()) == 1


def test_prune_by_policy_never_keeps_everything(ledger: Ledger, clock: FakeClock) -> None:
    _run(ledger, clock, 1)
    clock.advance(1000 * DAY)

    assert prune_by_policy(ledger, None) is None
    assert _count(ledger, "run_steps") == 1
    report = prune_by_policy(ledger, 90 * DAY)
    assert report is not None and report.run_steps == 1


def test_pruned_before_keeps_the_latest_cutoff(ledger: Ledger, clock: FakeClock) -> None:
    _run(ledger, clock, 1)
    clock.advance(40 * DAY)
    _run(ledger, clock, 1)
    clock.advance(40 * DAY)
    late = ledger.prune_history(retention_cutoff(ledger, 30 * DAY)).cutoff
    clock.advance(DAY)
    _run(ledger, clock, 1)
    clock.advance(10 * DAY)
    # A longer retention later removes the newest old run's steps only if older; the recorded
    # cutoff never moves back.
    ledger.prune_history(retention_cutoff(ledger, 5 * DAY))
    assert pruned_before(ledger) == clock.now - timedelta(days=5)
    ledger.prune_history(retention_cutoff(ledger, 90 * DAY))
    assert pruned_before(ledger) == clock.now - timedelta(days=5) > late
