"""The checkpoint store on both ledger backends: lifecycle, ordering, secret guard."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from reconciler.errors import LedgerError
from reconciler.ledger import Ledger, open_ledger
from reconciler.ledger.checkpoints import CheckpointStatus, NewCheckpoint

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Ledger, Clock]]:
    clock = Clock()
    if request.param == "sqlite":
        with open_ledger(f"sqlite:///{tmp_path}/ledger.db", clock=clock) as opened:
            yield opened, clock
        return
    dsn = os.environ.get("FLEET_TEST_POSTGRES_DSN")
    if not dsn:
        pytest.skip("FLEET_TEST_POSTGRES_DSN is not set: no PostgreSQL server to test against")
    schema = f"fleet_ckpt_{uuid.uuid4().hex[:12]}"
    url = f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    try:
        with open_ledger(url, clock=clock) as opened:
            yield opened, clock
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


def new(tenant: str = "cust-1", **extra: Any) -> NewCheckpoint:
    values: dict[str, Any] = {
        "tenant": tenant, "project_id": "p-1", "org_id": "org-1", "branch_name": "main",
        "branch_id": "br-1", "source_rev": "abc123", "secrets_version": "v7",
        "deploy_url": "https://preview.example.com/7", "agent_run_id": "run-9",
        "meta": {"model": "m-1"},
    }  # fmt: skip
    values.update(extra)
    return NewCheckpoint(**values)


def test_lifecycle_create_ready_restore(ledger: tuple[Ledger, Clock]) -> None:
    store, clock = ledger[0].checkpoints, ledger[1]
    record = store.begin(new(expires_at=START + timedelta(days=7)))
    assert record.status is CheckpointStatus.CREATING
    assert record.snapshot_name == f"ckpt-{record.id}-cust-1"
    assert record.expires_at == START + timedelta(days=7)
    store.mark_ready(record.id, "snap-1", 0)
    clock.now += timedelta(hours=1)
    store.begin_restore(record.id)
    assert store.get(record.id).restore_started_at == clock.now
    clock.now += timedelta(minutes=1)
    store.finish_restore(
        record.id, CheckpointStatus.RESTORED, restored_branch_id="br-2",
        old_branch_id="br-1", old_branch_deleted=True,
    )  # fmt: skip
    done = store.get(record.id)
    assert (done.status, done.snapshot_id, done.full_size) == ("restored", "snap-1", 0)
    assert (done.restored_branch_id, done.old_branch_id, done.old_branch_deleted) == (
        "br-2", "br-1", True,
    )  # fmt: skip
    assert done.restored_at == clock.now and done.created_at == START
    assert done.to_json()["meta"] == {"model": "m-1"}
    assert done.to_json()["restored_at"] == "2026-03-01T13:01:00Z"


def test_listing_is_newest_first_and_latest_settled(ledger: tuple[Ledger, Clock]) -> None:
    store, clock = ledger[0].checkpoints, ledger[1]
    first = store.begin(new("a"))
    store.mark_ready(first.id, "s1", None)
    clock.now += timedelta(minutes=5)
    second = store.begin(new("a"))
    store.mark_ready(second.id, "s2", None)
    clock.now += timedelta(minutes=5)
    store.begin(new("b"))  # still creating: not a settled checkpoint
    assert [c.id for c in store.list("a")] == [second.id, first.id]
    assert len(store.list()) == 3
    assert store.latest_settled() == {"a": START + timedelta(minutes=5)}


def test_discard_only_drops_creating_records(ledger: tuple[Ledger, Clock]) -> None:
    store = ledger[0].checkpoints
    kept = store.begin(new())
    store.mark_ready(kept.id, "s1", None)
    store.discard(kept.id)
    dropped = store.begin(new())
    store.discard(dropped.id)
    assert [c.id for c in store.list()] == [kept.id]
    with pytest.raises(LedgerError, match=f"no checkpoint #{dropped.id}"):
        store.get(dropped.id)
    store.delete(kept.id)
    assert store.list() == []


def test_secrets_are_refused(ledger: tuple[Ledger, Clock]) -> None:
    store = ledger[0].checkpoints
    with pytest.raises(LedgerError, match=r"meta\.api_token"):
        store.begin(new(meta={"api_token": "x"}))
    with pytest.raises(LedgerError, match="deploy_url"):
        store.begin(new(deploy_url="postgresql://u:hunter2@h/db"))
    assert store.list() == []


def test_failed_restore_error_text_is_redacted(ledger: tuple[Ledger, Clock]) -> None:
    store = ledger[0].checkpoints
    record = store.begin(new())
    store.finish_restore(record.id, CheckpointStatus.FAILED, error="boom napi_abcdef")
    assert store.get(record.id).error == "boom napi_***"
    with pytest.raises(LedgerError):
        store.mark_ready(9999, "s", None)
