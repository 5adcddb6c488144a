"""The PostgreSQL ledger (``postgresql://…``), for teams that run ``fleet apply`` from many places.

Schema: by default the ledger's tables go where the connection's ``search_path`` points (libpq
``options=-csearch_path%3D…`` in the URL works). The URL may instead carry ``schema=NAME`` (a
neon-fleet parameter, removed before connecting): the ledger then creates that schema if needed
and uses it, so several fleets (or test runs) can share one database.

Locks: migrations run under ``pg_advisory_xact_lock`` so concurrent first opens never apply a
migration twice. The apply lock is ``pg_try_advisory_lock`` on a dedicated connection held for
the lock's duration: PostgreSQL releases it when that session ends, including when the process
holding it is killed. An ``apply_lock`` row names the holder for the refused apply's message;
it is joined with ``pg_locks`` so a stale row of a dead holder is never reported. Both keys
come from the schema the session resolves, never from the URL's text, so two URLs that reach
the same tables (``/db`` and ``/db?schema=public``) share one lock. A shard's apply
(``--shard i/n``) holds that lock shared plus a lock of its own shard (``shard_locks``).

Shared budgets: ``lease_tokens`` leases request tokens from the account's row of
``rate_leases`` (``leases``) on a session of its own.
"""

from __future__ import annotations

import json
import os
import re
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

import psycopg
from psycopg.abc import Buffer
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.json import Jsonb
from psycopg.types.string import TextLoader

from reconciler.core.sharding import Shard
from reconciler.errors import LedgerError
from reconciler.ledger.guard import redact_text
from reconciler.ledger.leases import Lease, RateLeases, lease_tokens
from reconciler.ledger.locking import UNKNOWN_HOLDER, Waiting, describe_since, poll
from reconciler.ledger.migrations import MIGRATIONS_TABLE, Migration
from reconciler.ledger.rows import dump_json
from reconciler.ledger.shard_locks import shard_key, try_shard_lock, unlock_shard
from reconciler.ledger.sql import SqlLedger
from reconciler.ledger.sql_access import Row, Tx

#: First halves of the two-part advisory lock keys ("NF" + purpose); the second half is derived
#: from the schema the ledger lives in (see ``_ledger_identity``), so fleets in different
#: schemas never block each other and differently written URLs of one ledger always do.
MIGRATION_LOCK_SPACE = 0x4E460001
APPLY_LOCK_SPACE = 0x4E460002
EXCLUSIVE_TX_SPACE = 0x4E460003
#: Schema names we accept: lower case (so quoting never changes them) and at most 63 bytes.
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class _UnreadableTime(str):
    """A ``timestamptz`` Python cannot hold (``infinity``, year 10000 …), kept as its text."""


class _LenientTimestamptzLoader(TimestamptzLoader):
    """Loads ``timestamptz`` as psycopg does, but an out-of-range value as ``_UnreadableTime``
    so that ``time_out`` reports the cell instead of the fetch failing."""

    def load(self, data: Buffer) -> datetime | _UnreadableTime:  # type: ignore[override]
        try:
            return super().load(data)
        except psycopg.DataError:
            return _UnreadableTime(bytes(data).decode(errors="replace"))


class _PostgresTx:
    """``Tx`` over a psycopg cursor; rewrites ``?`` placeholders to ``%s``."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(statement.replace("?", "%s"), params)
        return self._cursor.rowcount

    def many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(statement.replace("?", "%s"), rows)

    def one(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        self._cursor.execute(statement.replace("?", "%s"), params)
        return self._cursor.fetchone()

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cursor.execute(statement.replace("?", "%s"), params)
        return list(self._cursor.fetchall())


class PostgresLedger(SqlLedger, RateLeases):
    """A ledger in a PostgreSQL database, optionally in its own schema."""

    dialect: ClassVar[str] = "postgres"
    time_type: ClassVar[str] = "TIMESTAMPTZ"

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        display: str = "postgresql://…",
        clock: Callable[[], datetime] | None = None,
        migrations: Sequence[Migration] | None = None,
        waiting: Callable[[float], Waiting] = Waiting,
    ) -> None:
        super().__init__(clock=clock, migrations=migrations)
        if schema is not None and not SCHEMA_NAME.match(schema):
            raise LedgerError(f"bad ledger schema name {schema!r}: use [a-z_][a-z0-9_]*")
        self._conninfo, self._schema, self._display = conninfo, schema, display
        self._waiting = waiting
        self._lease_session: psycopg.Connection[Any] | None = None
        self._lease_guard = threading.Lock()
        self._connection = self._connect()
        try:
            row = self._connection.execute(
                "SELECT COALESCE((SELECT n.nspname FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)), current_schema())",
                (MIGRATIONS_TABLE,),
            ).fetchone()
        except psycopg.Error as exc:
            self._connection.close()
            raise self._error("cannot open", exc) from exc
        # Advisory locks are per database already. Migrations run before the ledger's tables
        # (and perhaps its schema) exist, so their key comes from the schema the session
        # *resolves* (where the tables are, else where they will be created), never from how
        # the URL names it.
        resolved = (row[0] if row and row[0] else None) or schema or ""
        self._migration_key = zlib.crc32(resolved.encode()) & 0x7FFFFFFF
        self._migrate_or_close()
        try:
            self._apply_key = self._ledger_identity()
        except BaseException:
            self.close()
            raise

    def _ledger_identity(self) -> int:
        """The apply lock's key: the OID of the schema that holds this ledger's tables.

        Any two URLs that reach the same tables (``/db`` and ``/db?schema=public``, a
        ``search_path`` option, another host name of the server) reach the same schema, so
        they contend for one lock; ledgers in other schemas never collide with it.
        """
        with self._tx() as tx:
            found = tx.one(
                "SELECT relnamespace::bigint FROM pg_class WHERE oid = to_regclass(?)",
                (MIGRATIONS_TABLE,),
            )
        if found is None:
            raise LedgerError(f"the ledger {self._display} has no {MIGRATIONS_TABLE} table")
        oid = int(found[0])
        # pg_try_advisory_lock(int4, int4): an OID is unsigned, so fold it into int4's range.
        return oid - (1 << 32) if oid >= 1 << 31 else oid

    def describe(self) -> str:
        return self._display

    def _error(self, what: str, exc: psycopg.Error) -> LedgerError:
        return LedgerError(f"{what} the ledger {self._display}: {redact_text(str(exc))}")

    def _connect(self) -> psycopg.Connection[Any]:
        """A new autocommit session with the schema on its search path."""
        try:
            connection = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise self._error("cannot connect to", exc) from exc
        # Stored values are decoded by ``time_out``/``json_out`` (checked by ``Cells``), not
        # while fetching, where a bad one would fail the whole query without naming its cell.
        connection.adapters.register_loader("jsonb", TextLoader)
        connection.adapters.register_loader("timestamptz", _LenientTimestamptzLoader)
        if self._schema is not None:
            try:
                connection.execute("SELECT set_config('search_path', %s, false)", (self._schema,))
            except psycopg.Error as exc:
                connection.close()
                raise self._error("cannot open", exc) from exc
        return connection

    def _open_tx(self, *, write: bool) -> Tx:
        if self._connection.broken:
            # The server or the network dropped the session: the call that met the failure
            # already raised; reconnect so the ledger serves the next one.
            self._connection = self._connect()
        # PostgreSQL needs no read/write distinction here: MVCC gives each transaction a
        # consistent snapshot and row locks order concurrent writers.
        self._control("BEGIN")
        return _PostgresTx(self._connection.cursor())

    def _control(self, statement: str) -> None:
        try:
            self._connection.execute(statement)
        except psycopg.Error as exc:
            raise self._error("cannot use", exc) from exc

    def _in_transaction(self) -> bool:
        status = self._connection.info.transaction_status
        return status != psycopg.pq.TransactionStatus.IDLE and not self._connection.broken

    def _foreign(self, exc: BaseException) -> LedgerError | None:
        if isinstance(exc, psycopg.Error):
            return self._error("cannot use", exc)
        return None

    def _before_migrations(self, tx: Tx) -> None:
        tx.execute(
            "SELECT pg_advisory_xact_lock(?, ?)", (MIGRATION_LOCK_SPACE, self._migration_key)
        )
        if self._schema is not None:
            tx.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")

    def _serialise(self, tx: Tx) -> None:
        # READ COMMITTED lets two check-then-insert transactions both see "nothing there".
        tx.execute("SELECT pg_advisory_xact_lock(?, ?)", (EXCLUSIVE_TX_SPACE, self._apply_key))

    def apply_lock(self, holder: str, timeout: float = 0.0) -> AbstractContextManager[None]:
        return self._advisory_lock(holder, self._waiting(timeout), None)

    def shard_lock(
        self, holder: str, shard: Shard, timeout: float = 0.0
    ) -> AbstractContextManager[None]:
        if shard.whole:
            return self.apply_lock(holder, timeout)
        return self._advisory_lock(holder, self._waiting(timeout), shard)

    @property
    def rate_leases(self) -> RateLeases:
        return self

    def lease_tokens(self, account: str, want: int, per_second: float, capacity: float) -> Lease:
        """Lease up to ``want`` tokens of ``account``'s shared bucket (``ledger.leases``).

        On a session of its own, so a runner waiting for the bucket's row never holds up the
        ledger's other transactions.
        """
        with self._lease_guard:
            if self._lease_session is None or self._lease_session.broken:
                self._lease_session = self._connect()
            session = self._lease_session
            try:
                with session.transaction(), session.cursor() as cursor:
                    return lease_tokens(_PostgresTx(cursor), account, want, per_second, capacity)
            except psycopg.Error as exc:
                raise self._error("cannot lease rate tokens from", exc) from exc

    @contextmanager
    def _advisory_lock(self, holder: str, waiting: Waiting, shard: Shard | None) -> Iterator[None]:
        session = self._connect()  # its death, and only that, releases the lock
        try:
            try:
                poll(
                    lambda: (
                        self._try_lock(session, holder)
                        if shard is None
                        else try_shard_lock(session, self._apply_key, shard, holder, self._now())
                    ),
                    lambda: self._read_holder(session, shard),
                    waiting,
                )
            except psycopg.Error as exc:
                raise self._error("cannot take the apply lock of", exc) from exc
            try:
                yield
            finally:
                try:
                    session.execute("DELETE FROM apply_lock WHERE backend_pid = pg_backend_pid()")
                    if shard is None:
                        session.execute(
                            "SELECT pg_advisory_unlock(%s, %s)",
                            (APPLY_LOCK_SPACE, self._apply_key),
                        )
                    else:
                        unlock_shard(session, self._apply_key, shard)
                except psycopg.Error as exc:
                    raise self._error("cannot release the apply lock of", exc) from exc
        finally:
            session.close()

    def _try_lock(self, session: psycopg.Connection[Any], holder: str) -> bool:
        with session.transaction():
            row = session.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (APPLY_LOCK_SPACE, self._apply_key)
            ).fetchone()
            if row is None or not row[0]:
                return False
            session.execute(
                "INSERT INTO apply_lock (lock_name, holder, since, client_pid, backend_pid)"
                " VALUES ('apply', %s, %s, %s, pg_backend_pid()) ON CONFLICT (lock_name) DO"
                " UPDATE SET holder = excluded.holder, since = excluded.since,"
                " client_pid = excluded.client_pid, backend_pid = excluded.backend_pid",
                (holder, self._now(), os.getpid()),
            )
        return True

    def _read_holder(
        self, session: psycopg.Connection[Any], shard: Shard | None = None
    ) -> tuple[str, str]:
        # A shard is refused by the whole-fleet apply (the fleet key) or by a runner of the
        # same shard (its key); either holder's row names it. pg_locks shows keys' 32-bit
        # halves unsigned.
        keys = [(APPLY_LOCK_SPACE, self._apply_key & 0xFFFFFFFF, 2)]
        if shard is not None:
            key = shard_key(self._apply_key, shard) & 0xFFFFFFFFFFFFFFFF
            keys.append((key >> 32, key & 0xFFFFFFFF, 1))
        row = session.execute(
            "SELECT a.holder, a.client_pid, a.since FROM pg_locks l"
            " JOIN apply_lock a ON a.backend_pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted"
            " AND (l.classid::bigint, l.objid::bigint, l.objsubid::int) IN ("
            + ", ".join(["(%s, %s, %s)"] * len(keys))
            + ") AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            # The shard's own holder first, then an exclusive (whole-fleet) one.
            " ORDER BY l.objsubid = 1 DESC, l.mode = 'ExclusiveLock' DESC LIMIT 1",
            [part for key in keys for part in key],
        ).fetchone()
        if row is None:
            return UNKNOWN_HOLDER
        holder, pid, since = row
        return f"{holder} (pid {pid})", describe_since(since.astimezone(UTC))

    def close(self) -> None:
        with self._guard:
            if not self._closed:
                if not self._connection.broken:
                    self.group_commit.flush()
                self._closed = True
                self._connection.close()
                if self._lease_session is not None:
                    self._lease_session.close()

    # ------------------------------------------------------------------ value conversions

    def time_in(self, value: datetime) -> Any:
        if value.tzinfo is None:
            raise LedgerError(f"refusing a naive datetime {value.isoformat()}: pass UTC times")
        return value

    def time_out(self, value: Any) -> datetime:
        if not isinstance(value, datetime):
            raise TypeError(f"not a time Python can hold: {value!r}")
        return value.astimezone(UTC)

    def json_in(self, value: Any) -> Any:
        # Dumped here rather than by psycopg so a bad value fails the same way on both backends.
        text = dump_json(value)
        return Jsonb(value, dumps=lambda _: text)

    def json_out(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def bool_in(self, value: bool) -> Any:
        return bool(value)


def ledger_exists(conninfo: str, schema: str | None, display: str) -> bool:
    """Whether a ledger's migrations table is where a ledger at this URL keeps it (the
    ``schema=`` schema, else the connection's ``search_path``); creates nothing."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            if schema is not None:
                connection.execute("SELECT set_config('search_path', %s, false)", (schema,))
            row = connection.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (MIGRATIONS_TABLE,)
            ).fetchone()
    except psycopg.Error as exc:
        raise LedgerError(
            f"cannot connect to the ledger {display}: {redact_text(str(exc))}"
        ) from exc
    return bool(row and row[0])
