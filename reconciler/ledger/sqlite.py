"""The SQLite ledger (the default: ``sqlite:///.fleet/ledger.db``).

Durability: WAL journal. WAL alone already survives a killed process (a commit is in the log
before ``COMMIT`` returns); an fsync of the log makes it survive an OS crash or power loss too,
and no write returns before that fsync. ``synchronous=FULL`` would fsync inside every COMMIT,
under the lock, one commit after another (3.4 ms each on the development disk: an apply of
10,000 adoptions spent ~100 s there). So a file ledger commits with ``NORMAL`` (the WAL is
written, not synced) and ``_sync_log`` fsyncs the WAL outside the lock, once for every commit
since the previous sync, before any writer of those commits returns (``group_commit``).
"Loses no ledger record" is a promise we make. Another *process* reading the ledger may see a
commit a few milliseconds before its fsync; no write of this process acts on it before then.

Write transactions start with ``BEGIN IMMEDIATE`` so two processes never deadlock upgrading a
read lock, and ``busy_timeout`` makes a writer wait briefly for another instead of failing.
The apply lock is a ``flock`` on ``<db path>.lock`` (see ``reconciler.ledger.locking``).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from reconciler.errors import LedgerError
from reconciler.ledger.locking import ProcessLocalLock, Waiting, file_lock
from reconciler.ledger.migrations import Migration
from reconciler.ledger.rows import dump_json
from reconciler.ledger.sql import SqlLedger
from reconciler.ledger.sql_access import Row, Tx

#: How long a write waits for another process's write transaction, in milliseconds.
BUSY_TIMEOUT_MS = 10_000
#: ``link`` errors of file systems without hard links (the copy fallback is used there).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV})


class _SqliteTx:
    """``Tx`` over a sqlite3 connection in autocommit mode with an explicit ``BEGIN``."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._connection.execute(sql, params).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._connection.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._connection.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self._connection.execute(sql, params).fetchall())


def _create_or_check(path: Path) -> None:
    """Create a new ledger file atomically, or refuse an existing one that is empty.

    ``sqlite3.connect`` creates a zero-byte file and fills it only later, so a crash in between,
    or a file truncated by hand, would look like a fresh ledger and every tenant it owned would
    be adopted again. A new ledger is therefore built under a temporary name (already in WAL
    mode, so it is never empty) and hard-linked into place, which fails if another process got
    there first. An empty file at the path was never made by a neon-fleet that did this.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        _create_atomically(path)
        return
    except OSError as exc:
        raise LedgerError(f"cannot open the ledger sqlite:///{path}: {exc}") from exc
    if size == 0:
        raise LedgerError(
            f"the ledger file {path} is empty (0 bytes), so it is not a ledger neon-fleet "
            "created: treating it as new would forget every tenant it owned. Restore it from a "
            "backup, or delete it to start a new ledger"
        )


def _create_atomically(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")
    try:
        connection = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode = WAL")  # writes the header: never empty
        finally:
            connection.close()
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: open theirs
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            _copy_exclusively(temporary, path)
    except (sqlite3.Error, OSError) as exc:
        raise LedgerError(f"cannot create the ledger sqlite:///{path}: {exc}") from exc
    finally:
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            leftover.unlink(missing_ok=True)


def _copy_exclusively(source: Path, path: Path) -> None:
    """Where hard links are not supported: create ``path`` exclusively and copy into it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as target:
        target.write(source.read_bytes())
        target.flush()
        os.fsync(target.fileno())


class SqliteLedger(SqlLedger):
    """A ledger in one SQLite file (or in memory when ``path`` is None, for tests and demos)."""

    dialect: ClassVar[str] = "sqlite"
    time_type: ClassVar[str] = "TEXT"

    def __init__(
        self,
        path: Path | None,
        *,
        clock: Callable[[], datetime] | None = None,
        migrations: Sequence[Migration] | None = None,
        waiting: Callable[[float], Waiting] = Waiting,
    ) -> None:
        super().__init__(clock=clock, migrations=migrations)
        self._path = path
        self._waiting = waiting
        self._memory_lock = ProcessLocalLock() if path is None else None
        self._log_fd: int | None = None
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                _create_or_check(path)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves (the sqlite3 module's
            # implicit transactions would not cover DDL and reads the way we need).
            self._connection = sqlite3.connect(
                ":memory:" if path is None else str(path),
                isolation_level=None,
                check_same_thread=False,  # shared by worker threads, serialised by the guard
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"cannot open the ledger {self.describe()}: {exc}") from exc
        try:
            self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if path is not None:
                self._enable_wal()
            # A file ledger's commits write the WAL and ``_sync_log`` fsyncs it, outside the
            # lock and once for every commit since the last (``group_commit``): as durable as
            # FULL, which would fsync inside each COMMIT.
            self._connection.execute(
                "PRAGMA synchronous = " + ("FULL" if path is None else "NORMAL")
            )
            self._connection.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            self._connection.close()
            raise LedgerError(f"cannot open the ledger {self.describe()}: {exc}") from exc
        self._migrate_or_close()

    def _enable_wal(self) -> None:
        """Switch to WAL, retrying while another opener holds the database.

        Changing the journal mode needs an exclusive lock and SQLite does not call the busy
        handler for it, so concurrent first opens would otherwise fail with "locked".
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._connection.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def describe(self) -> str:
        return "sqlite:///:memory:" if self._path is None else f"sqlite:///{self._path}"

    def _open_tx(self, *, write: bool) -> Tx:
        try:
            self._connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.describe()}: {exc}") from exc
        return _SqliteTx(self._connection)

    def _control(self, statement: str) -> None:
        try:
            self._connection.execute(statement)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.describe()}: {exc}") from exc

    def _syncs_apart(self) -> bool:
        return self._path is not None

    def _sync_log(self) -> None:
        """fsync the WAL: every commit written to it so far becomes durable.

        SQLite keeps the ``-wal`` file while any connection is open (ours is), so one
        descriptor serves every sync; the file's inode is what ``fsync`` flushes.
        """
        assert self._path is not None
        try:
            if self._log_fd is None:
                self._log_fd = os.open(f"{self._path}-wal", os.O_RDONLY)
            os.fsync(self._log_fd)
        except OSError as exc:
            raise LedgerError(f"ledger {self.describe()}: cannot sync its log: {exc}") from exc

    def _in_transaction(self) -> bool:
        return self._connection.in_transaction

    def _foreign(self, exc: BaseException) -> LedgerError | None:
        if isinstance(exc, sqlite3.Error):
            return LedgerError(f"ledger {self.describe()}: {exc}")
        return None

    def _before_migrations(self, tx: Tx) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already excludes every other writer."""

    def _serialise(self, tx: Tx) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already excludes every other writer."""

    def apply_lock(self, holder: str, timeout: float = 0.0) -> AbstractContextManager[None]:
        waiting = self._waiting(timeout)
        if self._memory_lock is not None:
            return self._memory_lock.hold(holder, self._now, waiting)
        assert self._path is not None
        lock_path = self._path.with_name(self._path.name + ".lock")
        return file_lock(lock_path, holder, self._now, waiting)

    def close(self) -> None:
        with self._guard:
            if not self._closed:
                self.group_commit.flush()
                self._closed = True
                self._connection.close()
                if self._log_fd is not None:
                    os.close(self._log_fd)

    # ------------------------------------------------------------------ value conversions

    def time_in(self, value: datetime) -> Any:
        if value.tzinfo is None:
            raise LedgerError(f"refusing a naive datetime {value.isoformat()}: pass UTC times")
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def time_out(self, value: Any) -> datetime:
        if not isinstance(value, str):
            raise TypeError("a SQLite ledger stores times as ISO 8601 text")
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:  # ``time_in`` always writes the offset
            raise ValueError("a ledger time without a UTC offset")
        return moment.astimezone(UTC)

    def json_in(self, value: Any) -> Any:
        return dump_json(value)

    def json_out(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise TypeError("a SQLite ledger stores JSON as text")
        return json.loads(value)

    def bool_in(self, value: bool) -> Any:
        return 1 if value else 0
