"""Per-shard apply locks on PostgreSQL: shards of one count run together, nothing else does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.core.sharding import Shard
from reconciler.errors import LedgerError, LockHeldError, UsageError
from reconciler.ledger import Ledger
from reconciler.ledger.postgres import PostgresLedger
from tests.ledger.test_rate_leases import pg_open  # noqa: F401 - the fixture

pytestmark = pytest.mark.postgres

Open = Callable[[], PostgresLedger]


def test_shards_of_one_count_hold_their_locks_at_once(pg_open: Open) -> None:  # noqa: F811
    first, second, third = pg_open(), pg_open(), pg_open()
    with first.shard_lock("runner-0", Shard(0, 4)), second.shard_lock("runner-1", Shard(1, 4)):
        with pytest.raises(LockHeldError) as caught, third.shard_lock("again", Shard(1, 4)):
            pass
        assert caught.value.holder.startswith("runner-1")
    with third.shard_lock("runner-1 again", Shard(1, 4)):
        pass


def test_a_whole_fleet_apply_excludes_every_shard_and_waits_for_them(pg_open: Open) -> None:  # noqa: F811
    first, second = pg_open(), pg_open()
    with first.shard_lock("runner-2", Shard(2, 4)):
        with pytest.raises(LockHeldError) as caught, second.apply_lock("whole"):
            pass
        assert caught.value.holder.startswith("runner-2")
    with first.apply_lock("whole"):
        with pytest.raises(LockHeldError) as caught, second.shard_lock("runner-0", Shard(0, 4)):
            pass
        assert caught.value.holder.startswith("whole")
    with second.shard_lock("runner-0", Shard(0, 4)):  # both free again
        pass


def test_shards_of_different_counts_never_run_together(pg_open: Open) -> None:  # noqa: F811
    first, second = pg_open(), pg_open()
    # Shard 3/4 is part of shard 1/2: running both would apply its tenants twice.
    with (
        first.shard_lock("by-two", Shard(1, 2)),
        pytest.raises(LockHeldError),
        second.shard_lock("by-four", Shard(3, 4)),
    ):
        pass
    with second.shard_lock("by-four", Shard(3, 4)):
        pass


def test_a_shard_lock_dies_with_its_holders_session(pg_open: Open) -> None:  # noqa: F811
    first, second = pg_open(), pg_open()
    held = first.shard_lock("doomed", Shard(0, 2))
    held.__enter__()
    with pytest.raises(LockHeldError), second.shard_lock("next", Shard(0, 2)):
        pass
    # What a SIGKILL of the runner does: the server ends its lock session.
    with second.transaction(write=True) as tx:
        row = tx.one("SELECT backend_pid FROM apply_lock WHERE lock_name = 'shard 0/2'")
        assert row is not None
        tx.execute("SELECT pg_terminate_backend(?)", (row[0],))
    with second.shard_lock("next", Shard(0, 2), timeout=10):
        pass
    with pytest.raises(LedgerError):  # the dead session cannot release what it lost
        held.__exit__(None, None, None)


def test_a_sqlite_ledger_refuses_a_shard_with_one_clear_error(ledger: Ledger) -> None:
    if isinstance(ledger, PostgresLedger):
        pytest.skip("SQLite only")
    with (
        pytest.raises(UsageError, match="--shard 1/4 needs a PostgreSQL ledger"),
        ledger.shard_lock("me", Shard(1, 4)),
    ):
        pass
    with ledger.shard_lock("me", Shard(0, 1)):  # the whole fleet is the ordinary lock
        pass
