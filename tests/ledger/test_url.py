"""Ledger URLs: which backend, which path or schema, and no password in any message."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import LedgerError, UsageError
from reconciler.ledger import open_ledger, redact_url
from reconciler.ledger.url import PostgresTarget, SqliteTarget, parse_ledger_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///.fleet/ledger.db", SqliteTarget(Path(".fleet/ledger.db"))),
        ("sqlite:////var/lib/fleet/ledger.db", SqliteTarget(Path("/var/lib/fleet/ledger.db"))),
        ("sqlite:///:memory:", SqliteTarget(None)),
    ],
)
def test_sqlite_urls(url: str, expected: SqliteTarget) -> None:
    assert parse_ledger_url(url) == expected


def test_relative_sqlite_paths_are_anchored_at_base_dir(tmp_path: Path) -> None:
    target = parse_ledger_url("sqlite:///.fleet/ledger.db", base_dir=tmp_path)
    assert target == SqliteTarget(tmp_path / ".fleet" / "ledger.db")
    assert parse_ledger_url("sqlite:////abs.db", base_dir=tmp_path) == SqliteTarget(Path("/abs.db"))


def test_postgres_urls_keep_libpq_parameters_and_take_out_the_schema() -> None:
    url = "postgres://fleet:pw@db.internal:5432/ops?sslmode=require&schema=fleet_prod"
    target = parse_ledger_url(url)
    assert isinstance(target, PostgresTarget)
    assert target.schema == "fleet_prod"
    assert target.conninfo == "postgres://fleet:pw@db.internal:5432/ops?sslmode=require"
    assert target.display == "postgres://fleet:***@db.internal:5432/ops?schema=fleet_prod"
    assert "pw" not in repr(target)


def test_postgres_urls_without_schema_use_the_search_path() -> None:
    url = "postgresql://postgres@127.0.0.1/test?options=-csearch_path%3Dfleet"
    target = parse_ledger_url(url)
    assert isinstance(target, PostgresTarget)
    assert target.schema is None
    assert target.conninfo == url


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:hunter2@db/fleet",
        "sqlite://relative.db",
        "sqlite:///",
        "sqlite:///dir/",
        "sqlite:///ledger.db?mode=ro",
        "postgresql://u:hunter2@h/db?schema=Bad-Name",
        "postgresql://u:hunter2@h/db?schema=a&schema=b",
        "ledger.db",
    ],
)
def test_bad_urls_are_usage_errors_without_the_password(url: str) -> None:
    with pytest.raises(UsageError, match="ledger URL") as caught:
        open_ledger(url)
    assert "hunter2" not in str(caught.value)


def test_redaction() -> None:
    assert redact_url("postgresql://u:secret@h:5/db?password=x") == "postgresql://u:***@h:5/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_the_sqlite_backend_creates_parent_directories(tmp_path: Path) -> None:
    with open_ledger("sqlite:///deep/er/ledger.db", base_dir=tmp_path) as ledger:
        assert ledger.describe() == f"sqlite:///{tmp_path}/deep/er/ledger.db"
    assert (tmp_path / "deep" / "er" / "ledger.db").is_file()


def test_an_unreachable_postgres_is_a_ledger_error_without_the_password() -> None:
    with pytest.raises(LedgerError, match="cannot connect") as caught:
        open_ledger("postgresql://fleet:hunter2@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "hunter2" not in str(caught.value)
