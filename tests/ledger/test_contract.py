"""The ledger contract, run against every backend: owned tenants, intents, runs, secrets.

Migrations are in ``test_contract_migrations.py`` and the apply lock and crash safety in
``test_contract_lock.py``; all three use the per-backend ``ledger`` fixture of ``conftest.py``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.core.model import LedgerView, OwnedKey, OwnedTenant
from reconciler.errors import LedgerError
from reconciler.ledger import (
    IntentOutcome,
    Ledger,
    RunInfo,
    StepOutcomeRecord,
    StepStatus,
)
from tests.ledger.conftest import FakeClock


def make_tenant(name: str = "cust-1", **overrides: object) -> OwnedTenant:
    values: dict[str, object] = {
        "tenant": name,
        "project_id": f"proj-{name}",
        "org_id": "org-free",
        "branch_ids": {"main": f"br-main-{name}", "dev": f"br-dev-{name}"},
        "keys": {"ci": OwnedKey("ci", 42, "org-free", f"proj-{name}")},
        "fingerprint": "fp-1",
        "manifest_digest": "md-1",
        "prevent_destroy": True,
    }
    values.update(overrides)
    return OwnedTenant(**values)  # type: ignore[arg-type]


def make_run(clock: FakeClock, **overrides: object) -> RunInfo:
    values: dict[str, object] = {
        "who": "alice@ci-runner",
        "started_at": clock(),
        "plan_digest": "sha256:plan",
        "manifest_digest": "sha256:manifests",
        "tool_version": "0.1.0",
        "mode": "apply",
    }
    values.update(overrides)
    return RunInfo(**values)  # type: ignore[arg-type]


def make_step(clock: FakeClock, step_id: str, status: StepStatus, **overrides: object):
    values: dict[str, object] = {
        "step_id": step_id,
        "tenant": "cust-1",
        "action": "create_project",
        "status": status,
        "started_at": clock(),
        "finished_at": clock() + timedelta(seconds=2),
        "message": "",
        "resource_ids": {"project_id": "proj-cust-1"},
    }
    values.update(overrides)
    return StepOutcomeRecord(**values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- owned tenants


def test_a_new_ledger_owns_nothing(ledger: Ledger) -> None:
    assert ledger.view() == LedgerView()
    assert ledger.tenant("cust-1") is None
    assert ledger.runs() == []


def test_upserted_tenant_reads_back_whole(ledger: Ledger) -> None:
    tenant = make_tenant()
    ledger.upsert_tenant(tenant)
    assert ledger.tenant("cust-1") == tenant
    assert ledger.view().tenants == {"cust-1": tenant}


def test_upsert_replaces_ids_branches_and_keys(ledger: Ledger) -> None:
    ledger.upsert_tenant(make_tenant())
    moved = make_tenant(
        org_id="org-paid",
        branch_ids={"main": "br-main-cust-1"},
        keys={"app": OwnedKey("app", 43, "org-paid", "proj-cust-1")},
        prevent_destroy=False,
    )
    ledger.upsert_tenant(moved)
    assert ledger.tenant("cust-1") == moved


def test_view_holds_every_tenant_and_only_pending_creates(ledger: Ledger) -> None:
    for name in ("b", "a", "c"):
        ledger.upsert_tenant(make_tenant(name))
    pending = ledger.record_intent("new-1", "create_project", {"project_name": "new-1"})
    done = ledger.record_intent("new-2", "create_project", {"project_name": "new-2"})
    ledger.record_intent("a", "delete_project", {"project_id": "proj-a"})
    ledger.resolve_intent(done, IntentOutcome.DONE)
    view = ledger.view()
    assert list(view.tenants) == ["a", "b", "c"]
    assert view.pending_creates == frozenset({"new-1"})
    assert [i.intent_id for i in ledger.pending_intents()] == [pending, pending + 2]


def test_forget_leaves_a_tombstone_with_the_recovery_window(
    ledger: Ledger, clock: FakeClock
) -> None:
    ledger.upsert_tenant(make_tenant())
    ledger.upsert_tenant(make_tenant("other"))
    assert ledger.forget_tenant("cust-1", note="offboarded in PR #12") is True
    assert ledger.tenant("cust-1") is None
    assert list(ledger.view().tenants) == ["other"]
    (tombstone,) = ledger.deleted_tenants()
    assert (tombstone.tenant, tombstone.project_id, tombstone.org_id) == (
        "cust-1",
        "proj-cust-1",
        "org-free",
    )
    assert tombstone.deleted_at == clock()
    assert tombstone.recoverable_until == clock() + timedelta(days=7)
    assert tombstone.note == "offboarded in PR #12"


def test_forget_takes_an_explicit_recovery_deadline_and_is_idempotent(ledger: Ledger) -> None:
    ledger.upsert_tenant(make_tenant())
    until = datetime(2026, 3, 5, tzinfo=UTC)
    assert ledger.forget_tenant("cust-1", recoverable_until=until) is True
    assert ledger.forget_tenant("cust-1") is False
    assert [t.recoverable_until for t in ledger.deleted_tenants()] == [until]


def test_a_forgotten_tenant_can_be_owned_again(ledger: Ledger) -> None:
    ledger.upsert_tenant(make_tenant())
    ledger.forget_tenant("cust-1")
    again = make_tenant(project_id="proj-recovered")
    ledger.upsert_tenant(again)
    assert ledger.tenant("cust-1") == again


# --------------------------------------------------------------------------- intents


def test_intents_round_trip_and_resolve_once(ledger: Ledger, clock: FakeClock) -> None:
    detail = {"project_name": "cust-9", "org_id": "org-free", "region": "aws-us-east-2"}
    intent_id = ledger.record_intent("cust-9", "create_project", detail)
    (intent,) = ledger.pending_intents()
    assert (intent.intent_id, intent.tenant, intent.action) == (
        intent_id,
        "cust-9",
        "create_project",
    )
    assert intent.detail == detail and intent.created_at == clock()
    assert intent.resolved_at is None and intent.outcome is None

    ledger.resolve_intent(intent_id, IntentOutcome.DONE)
    ledger.resolve_intent(intent_id, IntentOutcome.DONE)  # a re-run resolving the same way
    assert ledger.pending_intents() == []
    with pytest.raises(LedgerError, match="already resolved as 'done'"):
        ledger.resolve_intent(intent_id, IntentOutcome.ABANDONED)
    with pytest.raises(LedgerError, match="no intent #9999"):
        ledger.resolve_intent(9999, IntentOutcome.DONE)


# --------------------------------------------------------------------------- runs


def test_run_with_steps_round_trips(ledger: Ledger, clock: FakeClock) -> None:
    info = make_run(clock)
    run_id = ledger.begin_run(info)
    steps = [
        make_step(clock, "s1", StepStatus.SUCCEEDED, message="created"),
        make_step(
            clock,
            "s2",
            StepStatus.SUCCEEDED,
            tenant=None,
            action="transfer_projects",
            resource_ids={"project_ids": ["p1", "p2"], "from": "org-free", "to": "org-paid"},
        ),
        make_step(clock, "s3", StepStatus.FAILED, message="HTTP 422: integrations"),
        make_step(clock, "s4", StepStatus.SKIPPED, message="depends on s3", resource_ids={}),
    ]
    for step in steps:
        ledger.record_step(run_id, step)
    clock.advance(30)
    ledger.finish_run(run_id, "failed", {"succeeded": 2, "failed": 1, "skipped": 1})

    record = ledger.run(run_id)
    assert record.run_id == run_id and record.info == info
    assert record.result == "failed" and record.finished_at == clock()
    assert record.summary == {"succeeded": 2, "failed": 1, "skipped": 1}
    assert record.steps == tuple(steps)
    assert not record.interrupted


def test_history_is_newest_first_and_shows_interrupted_runs(
    ledger: Ledger, clock: FakeClock
) -> None:
    ids = []
    for number in range(3):
        ids.append(ledger.begin_run(make_run(clock, plan_digest=f"plan-{number}")))
        clock.advance(60)
    for run_id in ids[:2]:
        ledger.finish_run(run_id, "succeeded", {"succeeded": 0})

    history = ledger.runs()
    assert [r.run_id for r in history] == ids[::-1]
    assert [r.info.plan_digest for r in history] == ["plan-2", "plan-1", "plan-0"]
    assert history[0].interrupted and history[0].result is None
    assert all(r.steps is None for r in history)  # listings do not load steps
    assert [r.run_id for r in ledger.runs(limit=2)] == ids[:0:-1]
    with pytest.raises(LedgerError, match="at least 1"):
        ledger.runs(limit=0)


def test_runs_refuse_unknown_ids_and_writes_after_finishing(
    ledger: Ledger, clock: FakeClock
) -> None:
    with pytest.raises(LedgerError, match="no run #777"):
        ledger.run(777)
    with pytest.raises(LedgerError, match="no run #777"):
        ledger.record_step(777, make_step(clock, "s1", StepStatus.SUCCEEDED))
    run_id = ledger.begin_run(make_run(clock))
    ledger.finish_run(run_id, "succeeded", {})
    with pytest.raises(LedgerError, match="already finished"):
        ledger.record_step(run_id, make_step(clock, "s1", StepStatus.SUCCEEDED))
    with pytest.raises(LedgerError, match="already finished"):
        ledger.finish_run(run_id, "failed", {})


def test_naive_timestamps_are_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="naive datetime"):
        ledger.begin_run(make_run(FakeClock(datetime(2026, 1, 1))))
    assert ledger.runs() == []


# --------------------------------------------------------------------------- meta


def test_meta_values_are_kept_and_replaced(ledger: Ledger) -> None:
    assert ledger.get_meta("drift.cursor") is None
    ledger.set_meta("drift.cursor", "abc")
    ledger.set_meta("drift.cursor", "def")
    assert ledger.get_meta("drift.cursor") == "def"


# --------------------------------------------------------------------------- secrets


SECRET_DETAILS: list[dict[str, Any]] = [
    {"project_name": "x", "password": "hunter2"},
    {"api_key": {"id": 1}},
    {"result": {"key": "whatever"}},
    {"roles": [{"name": "app", "db_password": "hunter2"}]},
    {"note": "napi_0123456789abcdefghijklmnop"},
    {"uri": "postgresql://app:hunter2@ep-x.neon.tech/db"},
    {"connection_uris": []},
]


def test_secrets_are_refused_and_nothing_is_written(ledger: Ledger) -> None:
    # One ledger for all cases (not a parametrised test) to keep the PostgreSQL run fast.
    for detail in SECRET_DETAILS:
        with pytest.raises(LedgerError, match="refusing to store a secret") as caught:
            ledger.record_intent("cust-1", "create_project", detail)
        assert "hunter2" not in str(caught.value), detail
    assert ledger.pending_intents() == []


def test_secrets_are_refused_in_steps_summaries_and_meta(ledger: Ledger, clock: FakeClock) -> None:
    run_id = ledger.begin_run(make_run(clock))
    leaky = make_step(clock, "s1", StepStatus.SUCCEEDED, resource_ids={"key_id": 7, "token": "t"})
    with pytest.raises(LedgerError, match=r"s1 resource_ids\.token"):
        ledger.record_step(run_id, leaky)
    with pytest.raises(LedgerError, match="refusing to store a secret"):
        ledger.set_meta("sink", "postgres://u:pw@host/db")
    with pytest.raises(LedgerError, match="refusing to store a secret"):
        ledger.set_meta("api_token", "x")
    # Ids next to secrets' names are fine: key_id, key_name.
    ledger.record_step(
        run_id, make_step(clock, "s2", StepStatus.SUCCEEDED, resource_ids={"key_id": 7})
    )
    steps = ledger.run(run_id).steps
    assert steps is not None and [s.step_id for s in steps] == ["s2"]


def test_step_messages_are_kept_with_secrets_masked(ledger: Ledger, clock: FakeClock) -> None:
    run_id = ledger.begin_run(make_run(clock))
    message = "POST failed for postgresql://app:s3cret@host/db with napi_abcdef0123456789"
    ledger.record_step(run_id, make_step(clock, "s1", StepStatus.FAILED, message=message))
    steps = ledger.run(run_id).steps
    assert steps is not None
    assert steps[0].message == "POST failed for postgresql://app:***@host/db with napi_***"


# --------------------------------------------------------------------------- threads, closing


def test_worker_threads_can_share_one_ledger(ledger: Ledger, clock: FakeClock) -> None:
    run_id = ledger.begin_run(make_run(clock))
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for number in range(15):
                name = f"t-{worker}-{number}"
                ledger.upsert_tenant(make_tenant(name))
                ledger.record_step(
                    run_id, make_step(clock, f"{name}-create", StepStatus.SUCCEEDED, tenant=name)
                )
                ledger.view()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ledger.view().tenants) == 90
    steps = ledger.run(run_id).steps
    assert steps is not None and len(steps) == 90


def test_a_closed_ledger_refuses_use(ledger: Ledger) -> None:
    ledger.close()
    ledger.close()  # closing twice is harmless
    with pytest.raises(LedgerError, match="is closed"):
        ledger.view()
