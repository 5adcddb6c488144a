"""Foreign errors (sqlite3, psycopg, json) leave the ledger as ``LedgerError``, never raw."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from reconciler.core.model import OwnedTenant
from reconciler.errors import LedgerError
from reconciler.ledger import Ledger, open_ledger
from tests.ledger.conftest import postgres_dsn


def test_values_that_are_not_json_are_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="JSON data only"):
        ledger.record_intent("cust-1", "create_project", {"at": datetime.now(UTC)})
    with pytest.raises(LedgerError, match="JSON data only"):
        ledger.record_intent("cust-1", "create_project", {"ratio": float("nan")})
    assert ledger.pending_intents() == []


def test_a_file_that_is_not_a_database_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not SQLite\n" * 200)
    with pytest.raises(LedgerError, match="not a database"):
        open_ledger(f"sqlite:///{path}")


@pytest.mark.postgres
@pytest.mark.parametrize("ledger_url", ["postgres"], indirect=True)
def test_a_dropped_postgres_session_fails_one_call_then_reconnects(ledger_url: str) -> None:
    app = f"fleet_test_{uuid.uuid4().hex[:12]}"
    with open_ledger(f"{ledger_url}&application_name={app}") as ledger:
        ledger.upsert_tenant(OwnedTenant("cust-1", "proj-1", "org-1"))
        with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (app,),
            )
        with pytest.raises(LedgerError, match="cannot use the ledger"):
            ledger.view()
        assert list(ledger.view().tenants) == ["cust-1"]


def test_a_zero_byte_ledger_file_is_refused_not_treated_as_new(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.touch()  # truncated by hand, or left by a crash of an older neon-fleet
    with pytest.raises(LedgerError) as caught:
        open_ledger(f"sqlite:///{path}")
    assert str(path) in str(caught.value) and "empty (0 bytes)" in str(caught.value)
    assert path.stat().st_size == 0  # nothing was written into it
    fresh = tmp_path / "new" / "ledger.db"
    with open_ledger(f"sqlite:///{fresh}") as ledger:  # a new ledger is still created
        ledger.upsert_tenant(OwnedTenant("cust-1", "proj-1", "org-1"))
    assert sorted(p.name for p in fresh.parent.iterdir() if p.name.endswith(".new")) == []
    with open_ledger(f"sqlite:///{fresh}") as ledger:
        assert list(ledger.view().tenants) == ["cust-1"]
