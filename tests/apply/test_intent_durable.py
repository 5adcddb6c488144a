"""A create's intent is committed, and on SQLite synced, before the create is sent to Neon.

Group commit makes a write wait for a commit other writes share; this checks that the wait is
still complete at the one point where it matters most: ``recovery`` finds a project created by
a killed run only through its intent, so the intent must be durable before the request leaves.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from reconciler.ledger.sqlite import SqliteLedger
from reconciler.neon.mutators import NeonWriter
from tests.apply.fleet_harness import FleetHarness, TenantSpec

pytestmark = pytest.mark.integration

TENANTS = {"alpha": TenantSpec(), "beta": TenantSpec()}


def _intent_ids(path: Path) -> dict[str, int]:
    """Committed create intents by project name, as another connection (or a restart) sees them."""
    with sqlite3.connect(path) as connection:
        found = connection.execute(
            "SELECT json_extract(detail, '$.name'), id FROM intents WHERE action = 'create_project'"
        ).fetchall()
    return {str(name): int(intent_id) for name, intent_id in found}


def test_every_create_is_sent_after_its_intent_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str
) -> None:
    harness = FleetHarness(tmp_path, monkeypatch, ledger_url)
    harness.write(TENANTS, parallelism=2)
    committed_at_send: list[int] = []
    original = NeonWriter.create_project

    def create(self: NeonWriter, *args: Any, **kwargs: Any) -> Any:
        committed_at_send.append(harness.open_intents())  # a connection of its own
        return original(self, *args, **kwargs)

    monkeypatch.setattr(NeonWriter, "create_project", create)
    harness.apply_ok()
    assert len(committed_at_send) == 2 and min(committed_at_send) >= 1


def test_on_sqlite_the_intent_is_synced_before_the_create_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    harness = FleetHarness(tmp_path, monkeypatch, f"sqlite:///{path}")
    harness.write(TENANTS, parallelism=2)
    synced: dict[str, int] = {}  # the create intents a finished fsync covered
    sent: list[tuple[str, bool]] = []  # (project name, its intent was synced) at each send
    original_sync, original_create = SqliteLedger._sync_log, NeonWriter.create_project

    def sync(self: SqliteLedger) -> None:
        covered = _intent_ids(path)  # committed before the fsync starts: it covers them
        original_sync(self)
        synced.update(covered)

    def create(self: NeonWriter, *args: Any, name: str, **kwargs: Any) -> Any:
        sent.append((name, name in dict(synced)))
        return original_create(self, *args, name=name, **kwargs)

    monkeypatch.setattr(SqliteLedger, "_sync_log", sync)
    monkeypatch.setattr(NeonWriter, "create_project", create)
    harness.apply_ok()
    assert len(sent) == 2 and all(was_synced for _, was_synced in sent), sent
