"""Shared rate budgets in the PostgreSQL ledger: ``rate_leases`` token buckets leased in blocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from reconciler.ledger import Ledger, open_ledger
from reconciler.ledger.leases import LEASE_BLOCK, shared_capacity
from reconciler.ledger.postgres import PostgresLedger
from tests.ledger.conftest import postgres_dsn
from tests.support.pg_schemas import private_schema_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_open() -> Iterator[Callable[[], PostgresLedger]]:
    """Open PostgreSQL ledgers (one per simulated runner) in a schema of this test's own."""
    opened: list[Ledger] = []

    def opener() -> PostgresLedger:
        ledger = open_ledger(url)
        assert isinstance(ledger, PostgresLedger)
        opened.append(ledger)
        return ledger

    with private_schema_url(postgres_dsn(), "fleet_test") as url:
        yield opener
        for ledger in opened:
            ledger.close()


def test_a_new_account_bucket_starts_full_and_grants_whole_blocks(
    pg_open: Callable[[], PostgresLedger],
) -> None:
    ledger = pg_open()
    # A very slow refill: the test sees the capacity, not what trickles in meanwhile.
    grants = [ledger.lease_tokens("org:a", 10, 0.001, 25.0).granted for _ in range(4)]
    assert grants == [10, 10, 5, 0]
    empty = ledger.lease_tokens("org:a", 10, 0.001, 25.0)
    assert empty.granted == 0 and empty.wait > 100  # about 1000 s for one token at 0.001/s
    assert ledger.lease_tokens("org:b", 10, 0.001, 25.0).granted == 10  # buckets per account


def test_a_bucket_refills_from_the_database_clock(pg_open: Callable[[], PostgresLedger]) -> None:
    ledger = pg_open()
    assert ledger.lease_tokens("org:a", 10, 50.0, 10.0).granted == 10
    deadline = time.monotonic() + 10
    granted = 0
    while granted == 0 and time.monotonic() < deadline:
        answer = ledger.lease_tokens("org:a", 10, 50.0, 10.0)
        granted = answer.granted
        if not granted:
            assert 0 < answer.wait <= 1 / 50 + 1e-6
            time.sleep(answer.wait)
    assert granted >= 1


def test_concurrent_runners_never_lease_more_than_the_bucket_allows(
    pg_open: Callable[[], PostgresLedger],
) -> None:
    """Eight threads on four ledger connections lease as fast as they can until 120 tokens are
    out: at no moment do the tokens granted exceed capacity + rate × the time since the start."""
    runners = [pg_open() for _ in range(4)]
    rate, capacity, wanted = 100.0, 20.0, 120
    guard = threading.Lock()
    granted: list[tuple[float, int]] = []  # (seconds since the start, total granted then)
    started = time.monotonic()

    def lease(slot: int) -> None:
        ledger = runners[slot % len(runners)]
        while True:
            with guard:
                if granted and granted[-1][1] >= wanted:
                    return
            answer = ledger.lease_tokens("org:shared", LEASE_BLOCK, rate, capacity)
            with guard:
                total = (granted[-1][1] if granted else 0) + answer.granted
                granted.append((time.monotonic() - started, total))
            if not answer.granted:
                time.sleep(min(answer.wait, 0.02))

    threads = [threading.Thread(target=lease, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each total is checked against the time it was known by, which is after its lease.
    over = [(at, total) for at, total in granted if total > capacity + rate * at]
    assert not over, over[:5]
    assert granted[-1][1] >= wanted
    # 120 tokens from a bucket of 20 refilling at 100/s cannot be had in under a second.
    assert granted[-1][0] >= (wanted - LEASE_BLOCK - capacity) / rate


def test_shared_capacity_leaves_room_for_tokens_runners_hold() -> None:
    assert shared_capacity(40.0, 1) == 31.0
    assert shared_capacity(40.0, 4) == float(LEASE_BLOCK)
    assert shared_capacity(400.0, 4) == 364.0
