"""Corrupted ledger values: one ``LedgerCorruptedError`` naming ledger, table, row and column.

Each case writes one bad value with a plain database connection (as a broken tool, a hand edit
or a bad restore would) and reads it back through the public interface.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from reconciler.core.model import OwnedKey, OwnedTenant
from reconciler.errors import LedgerCorruptedError
from reconciler.ledger import Ledger, RunInfo, StepOutcomeRecord, StepStatus, open_ledger
from reconciler.ledger.checkpoints import NewCheckpoint
from reconciler.ledger.url import PostgresTarget, SqliteTarget, parse_ledger_url
from tests.support.cli import run_in_process


def seed(ledger: Ledger) -> None:
    """One row in every table the public interface reads."""
    key = OwnedKey("runtime", 7, "org-1", "proj-1")
    ledger.upsert_tenant(
        OwnedTenant("cust-1", "proj-1", "org-1", {"main": "br-1"}, {"runtime": key})
    )
    ledger.upsert_tenant(OwnedTenant("cust-2", "proj-2", "org-1"))
    ledger.forget_tenant("cust-2")
    ledger.record_intent("cust-1", "create_project", {"name": "t-cust-1"})
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    run_id = ledger.begin_run(RunInfo("me@here", now, "plan", "manifests", "1.0"))
    ledger.record_step(
        run_id,
        StepOutcomeRecord("s1", "cust-1", "create_project", StepStatus.SUCCEEDED, now,
                          now + timedelta(seconds=1), resource_ids={"project_id": "proj-1"}),
    )  # fmt: skip
    ledger.finish_run(run_id, "succeeded", {"succeeded": 1})
    ledger.set_meta("cursor", "abc")
    ledger.checkpoints.begin(
        NewCheckpoint("cust-1", "proj-1", "org-1", "main", "br-1", source_rev="abc")
    )


@contextmanager
def raw(url: str) -> Iterator[Callable[[str], None]]:
    """Run statements on the ledger's database behind its back, committed one by one."""
    target = parse_ledger_url(url)
    if isinstance(target, SqliteTarget):
        assert target.path is not None
        connection = sqlite3.connect(str(target.path), isolation_level=None)

        def on_sqlite(statement: str) -> None:
            connection.execute(statement)

        try:
            yield on_sqlite
        finally:
            connection.close()
        return
    assert isinstance(target, PostgresTarget) and target.schema
    with psycopg.connect(target.conninfo, autocommit=True) as pg:
        pg.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(target.schema)))

        def on_postgres(statement: str) -> None:
            pg.execute(statement.encode())

        yield on_postgres


@dataclass(frozen=True)
class Case:
    """One corruption: the statement per backend (None: that backend's types forbid it)."""

    name: str
    sqlite: str | None
    postgres: str | None
    read: Callable[[Ledger], Any]
    table: str
    column: str


CASES = [
    Case("text in key_id", "UPDATE tenant_keys SET key_id = 'seven'", None,
         lambda led: led.view(), "tenant_keys", "key_id"),
    Case("negative key_id", "UPDATE tenant_keys SET key_id = -3",
         "UPDATE tenant_keys SET key_id = -3", lambda led: led.view(), "tenant_keys", "key_id"),
    Case("bad intent JSON", "UPDATE intents SET detail = '{\"name\": '", None,
         lambda led: led.pending_intents(), "intents", "detail"),
    Case("intent detail not an object", "UPDATE intents SET detail = '[1, 2]'",
         "UPDATE intents SET detail = '\"text\"'::jsonb",
         lambda led: led.pending_intents(), "intents", "detail"),
    Case("bad timestamp", "UPDATE intents SET created_at = 'last tuesday'", None,
         lambda led: led.pending_intents(), "intents", "created_at"),
    Case("time out of range", "UPDATE intents SET created_at = '10000-01-01T00:00:00+00:00'",
         "UPDATE intents SET created_at = 'infinity'",
         lambda led: led.pending_intents(), "intents", "created_at"),
    Case("deeply nested JSON", "UPDATE runs SET summary = '" + "[" * 5000 + "]" * 5000 + "'",
         "UPDATE runs SET summary = '" + "[" * 5000 + "]" * 5000 + "'::jsonb",
         lambda led: led.runs(), "runs", "summary"),
    Case("timestamp without offset", "UPDATE runs SET started_at = '2026-03-01T12:00:00'", None,
         lambda led: led.runs(), "runs", "started_at"),
    Case("bad run summary", "UPDATE runs SET summary = '{\"succeeded\": \"many\"}'",
         "UPDATE runs SET summary = '{\"succeeded\": \"many\"}'::jsonb",
         lambda led: led.runs(), "runs", "summary"),
    Case("bad org id", "UPDATE tenants SET org_id = x'6f7267' WHERE tenant = 'cust-1'",
         "UPDATE tenants SET org_id = '' WHERE tenant = 'cust-1'",
         lambda led: led.view(), "tenants", "org_id"),
    Case("bad flag", "UPDATE tenants SET prevent_destroy = 7", None,
         lambda led: led.tenant("cust-1"), "tenants", "prevent_destroy"),
    Case("null where a value is expected", "UPDATE run_steps SET resource_ids = 'null'",
         "UPDATE run_steps SET resource_ids = 'null'::jsonb",
         lambda led: led.run(1), "run_steps", "resource_ids"),
    Case("bad tombstone time", "UPDATE deleted_tenants SET deleted_at = x'00ff'", None,
         lambda led: led.deleted_tenants(), "deleted_tenants", "deleted_at"),
    Case("blob in meta", "UPDATE meta SET value = x'00ff'", None,
         lambda led: led.get_meta("cursor"), "meta", "value"),
    Case("bad checkpoint metadata", "UPDATE checkpoints SET meta = '[\"x\"]'",
         "UPDATE checkpoints SET meta = '{\"k\": [1]}'::jsonb",
         lambda led: led.checkpoints.list(), "checkpoints", "meta"),
    Case("unknown migration version", "DELETE FROM schema_migrations WHERE version = 2",
         "DELETE FROM schema_migrations WHERE version = 2",
         lambda led: led.migration_version(), "schema_migrations", "version"),
    Case("renamed migration", "UPDATE schema_migrations SET name = 'other' WHERE version = 3",
         "UPDATE schema_migrations SET name = 'other' WHERE version = 3",
         lambda led: led.applied_migrations(), "schema_migrations", "name"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corrupted_ledger_values_are_one_clear_error(
    case: Case, ledger_url: str, ledger: Ledger
) -> None:
    statement = case.sqlite if ledger_url.startswith("sqlite") else case.postgres
    if statement is None:
        pytest.skip("this backend's column types cannot hold such a value")
    seed(ledger)
    with raw(ledger_url) as execute:
        execute(statement)
    with pytest.raises(LedgerCorruptedError) as caught:
        case.read(ledger)
    message = str(caught.value)
    assert (caught.value.table, caught.value.column) == (case.table, case.column)
    assert message.startswith(f"the ledger {ledger.describe()} is corrupted: table {case.table}")
    assert f"column {case.column}:" in message and "\n" not in message


def test_a_corrupted_ledger_is_one_error_line_on_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    with open_ledger(url) as ledger:
        seed(ledger)
    with raw(url) as execute:
        execute("UPDATE runs SET summary = 'not json'")
    result = run_in_process(["--ledger", url, "history"])
    assert result.code == 1 and "Traceback" not in result.err
    [line] = [row for row in result.err.splitlines() if row.strip()]
    assert line == (
        f"Error: the ledger {url} is corrupted: table runs, row id 1, column summary: expected "
        "a JSON object, found text; repair that row or restore the ledger from a backup"
    )
