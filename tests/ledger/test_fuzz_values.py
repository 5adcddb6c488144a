"""Fuzz: random junk in any column of a real SQLite ledger is read back as success or as one
``LedgerCorruptedError``, never as another exception, a hang or unbounded memory.

Bounded: a fixed number of examples over one seeded ledger file copied per example.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import LedgerCorruptedError
from reconciler.ledger import Ledger, open_ledger
from tests.ledger.test_corrupted_values import seed

#: Values a broken tool or a bad restore could leave: every SQLite type, edge numbers, text
#: that almost parses as a time or JSON, deep nesting and huge numbers.
JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=16),
    st.sampled_from(
        [
            "", "{}", "[]", "null", "true", "1", "\"x\"", "{\"a\": \"b\"}", "{\"a\": 1e400}",
            "{\"a\": " + "9" * 5000 + "}", "[" * 50_000, "{\"a\": {\"b\": [1, {}]}}",
            "2026-03-01T12:00:00", "2026-03-01T12:00:00+00:00", "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00", "2026-02-30T00:00:00+00:00", "creating", "ready",
            "succeeded", "cust-1", "proj-1", "org-1",
        ]
    ),
)  # fmt: skip


def _columns(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(str(path)) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return [
            (table, row[1])
            for table in sorted(tables)
            for row in connection.execute(f"PRAGMA table_info({table})")
        ]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded ledger with a row in every table the public interface reads."""
    path = tmp_path_factory.mktemp("fuzz") / "template.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        seed(ledger)
    with sqlite3.connect(str(path)) as connection:  # fold the WAL in: one file to copy
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def read_everything(ledger: Ledger) -> None:
    """Every read of the public interface: view, tenants, intents, history, checkpoints."""
    view = ledger.view()
    for name in view.tenants:
        ledger.tenant(name)
    ledger.pending_intents()
    for run in ledger.runs(limit=100):
        ledger.run(run.run_id)
    ledger.deleted_tenants(limit=100)
    ledger.get_meta("cursor")
    ledger.migration_version()
    ledger.applied_migrations()
    store = ledger.checkpoints
    store.list()
    store.latest_settled()


@pytest.mark.parametrize("rows", ["one row", "every row"])
def test_fuzzed_ledger_values_read_as_success_or_a_corrupted_ledger_error(
    template: Path, tmp_path_factory: pytest.TempPathFactory, rows: str
) -> None:
    columns = _columns(template)
    workdir = tmp_path_factory.mktemp("cases")

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples on every run: CI's verdict never depends on luck
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(column=st.sampled_from(columns), junk=JUNK)
    def check(column: tuple[str, str], junk: Any) -> None:
        path = workdir / "ledger.db"
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(template, path)
        table, name = column
        limit = " WHERE rowid = (SELECT MIN(rowid) FROM {0})" if rows == "one row" else ""
        with sqlite3.connect(str(path)) as connection:
            try:
                connection.execute(f"UPDATE {table} SET {name} = ?{limit.format(table)}", (junk,))
            except sqlite3.Error:
                return  # a constraint refused the junk: the ledger keeps what it had
        try:
            with open_ledger(f"sqlite:///{path}") as ledger:
                read_everything(ledger)
        except LedgerCorruptedError as exc:
            message = str(exc)
            assert f"table {exc.table}," in message and f"column {exc.column}:" in message
            assert "\n" not in message

    check()
