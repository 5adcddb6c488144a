"""Group commit: concurrent ledger writes share one transaction and one commit (one fsync).

A ledger object is one connection shared by the applier's worker threads. Committing every
write on its own costs one fsync each (3.4 ms on a plain SSD with SQLite's ``synchronous=FULL``,
about 3 ms for a PostgreSQL commit), serialised on that connection: a cold apply of 10,000
adoptions spent ~100 s in fsyncs against 12 s of API budget. Here a write joins the *batch*
(one open transaction) if there is one, runs inside a savepoint of its own, and then waits
until the batch commits. The batch commits as soon as nobody else is waiting to use the
connection (or it holds ``MAX_BATCH`` members), so a lone writer commits at once and a crowd
shares one fsync. A backend whose log is synced apart from the commit (SQLite: ``COMMIT`` writes
the WAL, ``sync`` fsyncs it) syncs *outside* the lock: the next batch runs its statements during
the fsync, and one fsync covers every batch committed before it started.

Durability is unchanged: a write returns only after the commit that contains it, so anything a
caller does next (sending the Neon mutation an intent announced, for one) happens after its
record is durable. A member whose own statements fail is rolled back to its savepoint without
touching the others; a failed commit fails every member of the batch, none of which has
returned yet.

A read joins an open batch (it then sees the batch's writes, whose writers have not returned
yet) and does not wait for the commit; with no batch open it runs a read transaction of its own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn, Protocol

from reconciler.errors import LedgerError
from reconciler.ledger.sql_access import Tx

#: Most members one commit may carry, so a steady stream of writers still commits regularly.
MAX_BATCH = 256


class Session(Protocol):
    """What the batching needs of a backend's connection (called with the guard held)."""

    @property
    def syncs(self) -> bool:
        """Whether a commit is durable only after ``sync`` (False: ``COMMIT`` itself is)."""

    def open(self, *, write: bool) -> Tx:
        """Begin a transaction (a write one takes the database's write lock at once)."""

    def control(self, statement: str) -> None:
        """Run SAVEPOINT / RELEASE / ROLLBACK TO / COMMIT / ROLLBACK; ``LedgerError`` on failure."""

    def sync(self) -> None:
        """Make every commit so far durable (called without the guard); ``LedgerError``."""

    def ensure_open(self) -> None:
        """Raise ``LedgerError`` when the ledger was closed."""

    def in_transaction(self) -> bool:
        """Whether the connection still has a transaction open."""

    def foreign(self, exc: BaseException) -> LedgerError | None:
        """``exc`` as a ``LedgerError`` when it is the database's own error, else None."""


@dataclass
class _Call:
    """What one member's call owes after leaving the guard."""

    #: The batch it wrote into: the call returns once that batch is durable.
    wrote: int | None = None
    #: The batch it committed, whose log it must sync (backends that sync apart).
    committed: int | None = None


class GroupCommit:
    """The batching state of one ledger connection; every transaction goes through it."""

    def __init__(self, guard: threading.RLock, session: Session) -> None:
        self._guard = guard
        self._session = session
        self._arrivals = 0  # threads waiting for the guard to open or join a transaction
        self._arrivals_lock = threading.Lock()
        self._tx: Tx | None = None  # the open batch's transaction
        self._members = 0
        self._generation = 0  # the open batch's number (the next one's when none is open)
        self._committed = -1  # the last batch committed (maybe not synced yet)
        self._sync_lock = threading.Lock()  # one fsync at a time; it covers all committed
        self._synced = -1
        self._settled = -1  # every batch up to here is durable (unless it failed)
        self._failures: dict[int, LedgerError] = {}
        self._done = threading.Condition()
        #: Batches committed and write members they carried (tests and benches read these).
        self.commits = 0
        self.writes = 0

    @property
    def waiting(self) -> int:
        """Threads waiting for the connection right now (a batch is left open for them)."""
        with self._arrivals_lock:
            return self._arrivals

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Tx]:
        """One member's transaction; a writer's exit waits until its batch is durable."""
        with self._arrivals_lock:
            self._arrivals += 1
        self._guard.acquire()
        with self._arrivals_lock:
            self._arrivals -= 1
        call = _Call()
        try:
            self._session.ensure_open()
            yield from self._member(call, write=write)
        finally:
            self._guard.release()
            if call.committed is not None:
                self._sync_through(call.committed)
        if call.wrote is not None:
            self._await(call.wrote)

    def flush(self) -> None:
        """Commit and sync the open batch now (before closing). Call with the guard held."""
        if self._tx is not None:
            committed = self._settle()
            if committed is not None:
                self._sync_through(committed)

    def _member(self, call: _Call, *, write: bool) -> Generator[Tx, None, None]:
        if self._tx is None and not write:
            yield from self._own_read()
            return
        if self._tx is None:
            self._tx = self._session.open(write=True)
            self._members = 0
        generation, tx = self._generation, self._tx
        self._members += 1
        savepoint = f"fleet_member_{self._members}"
        try:
            self._session.control(f"SAVEPOINT {savepoint}")
            yield tx
            self._session.control(f"RELEASE SAVEPOINT {savepoint}")
        except BaseException as exc:
            self._undo(savepoint)
            call.committed = self._settle_when_idle()
            self._reraise(exc)
        if write:
            self.writes += 1
            call.wrote = generation
        call.committed = self._settle_when_idle()

    def _own_read(self) -> Iterator[Tx]:
        tx = self._session.open(write=False)
        try:
            yield tx
            self._session.control("COMMIT")
        except BaseException as exc:
            if self._session.in_transaction():
                self._session.control("ROLLBACK")
            self._reraise(exc)

    def _reraise(self, exc: BaseException) -> NoReturn:
        translated = self._session.foreign(exc)
        if translated is None:
            raise exc
        raise translated from exc

    def _undo(self, savepoint: str) -> None:
        """Take back one member's statements; if the database lost the batch, fail it."""
        try:
            self._session.control(f"ROLLBACK TO SAVEPOINT {savepoint}")
            self._session.control(f"RELEASE SAVEPOINT {savepoint}")
        except LedgerError as exc:
            self._settle(failure=exc)

    def _settle_when_idle(self) -> int | None:
        with self._arrivals_lock:
            crowded = self._arrivals > 0
        if self._tx is not None and (not crowded or self._members >= MAX_BATCH):
            return self._settle()
        return None

    def _settle(self, failure: LedgerError | None = None) -> int | None:
        """End the open batch; return its number when it still needs a ``sync``."""
        generation = self._generation
        self._tx, self._generation = None, generation + 1
        try:
            if failure is None:
                self._session.control("COMMIT")
        except LedgerError as exc:
            failure = exc
        if failure is not None:
            if self._session.in_transaction():
                # The members hear about ``failure``; a failed rollback adds nothing to it.
                with contextlib.suppress(LedgerError):
                    self._session.control("ROLLBACK")
            self._settle_as(generation, failure)
            return None
        self.commits += 1
        self._committed = generation
        if self._session.syncs:
            return generation
        self._settle_as(generation, None)
        return None

    def _sync_through(self, generation: int) -> None:
        """Sync the log (outside the guard); one sync covers every batch committed before it."""
        with self._sync_lock:
            if self._synced >= generation:
                return
            covered = self._committed  # already written: its COMMIT returned under the guard
            failure: LedgerError | None = None
            try:
                self._session.sync()
            except LedgerError as exc:
                failure = exc
            with self._done:
                if failure is not None:  # nothing committed since the last sync is known durable
                    for unsynced in range(self._synced + 1, covered + 1):
                        self._failures.setdefault(unsynced, failure)
                self._synced = covered
            self._settle_as(covered, None)

    def _settle_as(self, generation: int, failure: LedgerError | None) -> None:
        with self._done:
            if failure is not None:
                self._failures[generation] = failure
            else:
                self._settled = max(self._settled, generation)
            self._done.notify_all()

    def _await(self, generation: int) -> None:
        with self._done:
            while generation not in self._failures and self._settled < generation:
                self._done.wait()
            failure = self._failures.get(generation)
        if failure is not None:
            raise LedgerError(f"a ledger write was not committed: {failure}") from failure
