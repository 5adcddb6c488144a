"""Group commit: concurrent writes share one commit, yet each is durable when its call returns.

The batches are made deterministic by holding a write transaction open while the writers line
up (``group_commit.waiting`` is polled, never slept on): they then all join one batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from reconciler.errors import LedgerError
from reconciler.ledger import Ledger
from reconciler.ledger.group_commit import GroupCommit
from reconciler.ledger.sql import SqlLedger
from reconciler.ledger.sql_access import Tx
from reconciler.ledger.sqlite import SqliteLedger

WRITERS = 8


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.001)


def _sql(ledger: Ledger) -> SqlLedger:
    assert isinstance(ledger, SqlLedger)
    return ledger


@contextmanager
def _lined_up(ledger: SqlLedger, calls: list[Callable[[], None]]) -> Iterator[list[BaseException]]:
    """Run ``calls`` on threads that all wait for one open write transaction, then release it."""
    errors: list[BaseException] = []

    def run(call: Callable[[], None]) -> None:
        try:
            call()
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    with ledger.transaction(write=True):
        for thread in threads:
            thread.start()
        _until(lambda: ledger.group_commit.waiting == len(calls), "every writer is waiting")
    for thread in threads:
        thread.join()
    yield errors


def test_concurrent_writes_share_one_commit_and_each_is_committed_when_it_returns(
    ledger: Ledger, open_at: Callable[..., Ledger]
) -> None:
    sql = _sql(ledger)
    observer = open_at()  # another connection: sees only what was committed
    seen: dict[str, str | None] = {}

    def writer(index: int) -> Callable[[], None]:
        def write() -> None:
            ledger.set_meta(f"key-{index}", f"value-{index}")
            seen[f"key-{index}"] = observer.get_meta(f"key-{index}")

        return write

    before = sql.group_commit.commits
    with _lined_up(sql, [writer(index) for index in range(WRITERS)]) as errors:
        assert errors == []
    assert sql.group_commit.commits - before == 1  # the held transaction and all 8 writes
    assert seen == {f"key-{index}": f"value-{index}" for index in range(WRITERS)}


def test_a_file_ledger_syncs_its_log_before_any_writer_of_the_batch_returns(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    synced: list[int] = []
    returned_unsynced: list[int] = []
    original = SqliteLedger._sync_log

    def sync(self: SqliteLedger) -> None:
        original(self)
        synced.append(1)

    monkeypatch.setattr(SqliteLedger, "_sync_log", sync)

    def writer(index: int) -> Callable[[], None]:
        def write() -> None:
            ledger.set_meta(f"key-{index}", "value")
            if not synced:
                returned_unsynced.append(index)

        return write

    try:
        with _lined_up(ledger, [writer(index) for index in range(WRITERS)]) as errors:
            assert errors == []
    finally:
        ledger.close()
    assert returned_unsynced == [] and len(synced) == 1  # one fsync for the whole batch


def test_a_failing_member_is_rolled_back_alone(ledger: Ledger) -> None:
    sql = _sql(ledger)

    def bad() -> None:
        with sql.transaction(write=True) as tx:
            tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", ("bad", "half"))
            tx.execute("INSERT INTO no_such_table VALUES (1)")

    def good() -> None:
        ledger.set_meta("good", "kept")

    with _lined_up(sql, [bad, good]) as errors:
        assert [type(error) for error in errors] == [LedgerError]
    assert ledger.get_meta("good") == "kept" and ledger.get_meta("bad") is None


class _FailingCommit:
    """A session whose COMMIT fails: every member of the batch must hear of it."""

    syncs = False

    def __init__(self) -> None:
        self.statements: list[str] = []

    def open(self, *, write: bool) -> Tx:
        self.statements.append("BEGIN")
        return _NoTx()

    def control(self, statement: str) -> None:
        self.statements.append(statement)
        if statement == "COMMIT":
            raise LedgerError("disk I/O error")

    def sync(self) -> None:
        raise AssertionError("a session that commits durably is never synced")

    def ensure_open(self) -> None:
        pass

    def in_transaction(self) -> bool:
        return self.statements[-1] == "COMMIT"

    def foreign(self, exc: BaseException) -> LedgerError | None:
        return None


class _NoTx:
    def execute(self, sql: str, params: Any = ()) -> int:
        return 1

    def many(self, sql: str, rows: Any) -> None:
        pass

    def one(self, sql: str, params: Any = ()) -> None:
        return None

    def all(self, sql: str, params: Any = ()) -> list[Any]:
        return []


def test_a_failed_commit_fails_every_writer_of_the_batch() -> None:
    guard = threading.RLock()
    session = _FailingCommit()
    batches = GroupCommit(guard, session)
    failures: list[str] = []

    def write() -> None:
        try:
            with batches.transaction(write=True):
                pass
        except LedgerError as exc:
            failures.append(str(exc))

    threads = [threading.Thread(target=write) for _ in range(3)]
    guard.acquire()
    for thread in threads:
        thread.start()
    _until(lambda: batches.waiting == 3, "every writer is waiting")
    guard.release()
    for thread in threads:
        thread.join()
    assert len(failures) == 3 and all("disk I/O error" in failure for failure in failures)
    assert session.statements.count("COMMIT") == 1  # one batch for the three writers
    assert session.statements[-1] == "ROLLBACK"
