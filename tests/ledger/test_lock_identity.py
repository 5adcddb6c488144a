"""The apply lock belongs to the ledger, not to the way its URL is written."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from reconciler.core.model import OwnedTenant
from reconciler.errors import LockHeldError
from reconciler.ledger import Ledger, open_ledger
from tests.ledger.conftest import postgres_dsn


def assert_one_lock(first: Ledger, second: Ledger) -> None:
    """Both ledger objects reach the same tables and contend for the same apply lock."""
    first.upsert_tenant(OwnedTenant("cust-1", "proj-1", "org-1"))
    assert list(second.view().tenants) == ["cust-1"]  # the same ledger
    for holder, other in ((first, second), (second, first)):
        with holder.apply_lock("alice@ci-1"):
            with pytest.raises(LockHeldError) as caught, other.apply_lock("bob@laptop"):
                pass
            assert caught.value.holder.startswith("alice@ci-1")
        with other.apply_lock("bob@laptop"):  # free again once released
            pass


@pytest.fixture
def private_database(postgres_admin: psycopg.Connection[Any]) -> Iterator[str]:
    """The DSN of a new database of this test's own, dropped afterwards."""
    name = f"fleet_test_{uuid.uuid4().hex[:16]}"
    postgres_admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(postgres_dsn())
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    postgres_admin.execute(
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    )


@pytest.mark.postgres
def test_differently_written_urls_of_one_postgres_ledger_contend_for_one_lock(
    private_database: str,
) -> None:
    joiner = "&" if "?" in private_database else "?"
    with (
        open_ledger(private_database) as plain,
        open_ledger(f"{private_database}{joiner}schema=public") as explicit,
        open_ledger(
            f"{private_database}{joiner}options=-csearch_path%3D%22%24user%22%2Cpublic"
        ) as search_path,
    ):
        assert_one_lock(plain, explicit)
        assert_one_lock(explicit, search_path)


@pytest.mark.postgres
def test_ledgers_in_different_schemas_do_not_share_a_lock(private_database: str) -> None:
    joiner = "&" if "?" in private_database else "?"
    with (
        open_ledger(f"{private_database}{joiner}schema=fleet_a") as first,
        open_ledger(f"{private_database}{joiner}schema=fleet_b") as second,
        first.apply_lock("alice"),
        second.apply_lock("bob"),
    ):
        pass


def test_differently_written_paths_of_one_sqlite_ledger_contend_for_one_lock(
    tmp_path: Path,
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "via-link").symlink_to(tmp_path / "state")
    with (
        open_ledger(f"sqlite:///{tmp_path}/state/ledger.db") as absolute,
        open_ledger("sqlite:///state/./ledger.db", base_dir=tmp_path) as relative,
        open_ledger(f"sqlite:///{tmp_path}/via-link/ledger.db") as linked,
    ):
        assert_one_lock(absolute, relative)
        assert_one_lock(relative, linked)


@pytest.mark.postgres
def test_concurrent_first_opens_through_differently_written_urls_migrate_once(
    private_database: str,
) -> None:
    joiner = "&" if "?" in private_database else "?"
    urls = [private_database, f"{private_database}{joiner}schema=public"] * 3
    opened: list[Ledger] = []
    failures: list[BaseException] = []
    start = threading.Barrier(len(urls))

    def open_one(url: str) -> None:
        start.wait(10)
        try:
            opened.append(open_ledger(url))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=open_one, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failures == []
        [version] = {ledger.migration_version() for ledger in opened}
        assert len(opened) == len(urls)
        applied = [m.version for m in opened[0].applied_migrations()]
        assert applied == list(range(1, version + 1))  # each migration recorded once
    finally:
        for ledger in opened:
            ledger.close()
