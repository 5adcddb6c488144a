"""Fixtures for the ledger contract suite: one opened ledger per backend, each test isolated.

SQLite ledgers live in ``tmp_path``. PostgreSQL ledgers use the server named by
``FLEET_TEST_POSTGRES_DSN`` (``.ci/run`` sets it) with a fresh schema per test, passed through
the ledger URL's ``schema=`` parameter and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from reconciler.ledger import Ledger, open_ledger

POSTGRES_DSN_ENV = "FLEET_TEST_POSTGRES_DSN"


class FakeClock:
    """A settable UTC clock, so timestamps in assertions are exact."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def postgres_dsn() -> str:
    """The test server's DSN, or skip the test with the reason."""
    dsn = os.environ.get(POSTGRES_DSN_ENV)
    if not dsn:
        pytest.skip(f"{POSTGRES_DSN_ENV} is not set: no PostgreSQL server to test against")
    return dsn


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[psycopg.Connection[Any]]:
    """One connection for the whole session that drops the test schemas."""
    with psycopg.connect(postgres_dsn(), autocommit=True) as connection:
        yield connection


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a not-yet-created ledger, private to this test, for each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/state/ledger.db"
        return
    dsn = postgres_dsn()
    admin: psycopg.Connection[Any] = request.getfixturevalue("postgres_admin")
    schema = f"fleet_test_{uuid.uuid4().hex[:16]}"
    yield f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"
    admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def open_at(ledger_url: str, clock: FakeClock) -> Iterator[Callable[..., Ledger]]:
    """Open more ledgers on the same store (another "process"); all closed at teardown."""
    opened: list[Ledger] = []

    def opener(**kwargs: Any) -> Ledger:
        kwargs.setdefault("clock", clock)
        ledger = open_ledger(ledger_url, **kwargs)
        opened.append(ledger)
        return ledger

    yield opener
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_at: Callable[..., Ledger]) -> Ledger:
    """A freshly created and migrated ledger for each backend, with the fake clock."""
    return open_at()
