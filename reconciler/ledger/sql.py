"""``SqlLedger``: the ledger contract written once in SQL both SQLite and PostgreSQL accept.

The backends (``sqlite.py``, ``postgres.py``) only supply a connection, a transaction, value
conversions (time, JSON, booleans) and the apply lock; every query lives here, so the two can
not drift apart. SQL is written with ``?`` placeholders; the PostgreSQL transaction rewrites
them to ``%s``.

Every public method runs in one transaction under one re-entrant lock: a ledger object is a
single connection shared by the applier's worker threads, and the lock keeps their
transactions from interleaving on it. Concurrent writes share one commit (``group_commit``):
each runs in a savepoint of the open transaction and returns once that transaction committed.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any, ClassVar

from reconciler.core.model import LedgerView, OwnedTenant
from reconciler.core.plan import Action
from reconciler.errors import LedgerCorruptedError, LedgerError, LedgerMigrationError
from reconciler.ledger import previews as preview_rows
from reconciler.ledger import rows
from reconciler.ledger.base import Ledger
from reconciler.ledger.checkpoints import CheckpointStore
from reconciler.ledger.deliveries import DeliveryStore
from reconciler.ledger.drift import DriftStore
from reconciler.ledger.group_commit import GroupCommit
from reconciler.ledger.guard import is_secret_name, redact_text, reject_secrets
from reconciler.ledger.migrations import (
    MIGRATIONS_TABLE,
    Migration,
    applied_from_rows,
    check_numbering,
    discover,
)
from reconciler.ledger.promotions import PromotionStore
from reconciler.ledger.records import (
    AppliedMigration,
    DeletedTenant,
    Intent,
    PruneReport,
    RunInfo,
    RunRecord,
    StepOutcomeRecord,
    StepStatus,
    utc_now,
)
from reconciler.ledger.sql_access import Row, Tx
from reconciler.ledger.sql_checkpoints import SqlCheckpointStore
from reconciler.ledger.sql_drift import SqlDriftStore
from reconciler.ledger.sql_promotions import SqlPromotionStore
from reconciler.ledger.sql_retention import prune_history
from reconciler.ledger.sql_usage import SqlUsageStore
from reconciler.ledger.usage import UsageStore

#: Neon keeps a deleted project recoverable for 7 days (``DELETE /projects/{id}`` docs).
NEON_RECOVERY_WINDOW = timedelta(days=7)


class _Session:
    """The backend hooks of one ``SqlLedger``, as ``GroupCommit`` sees them."""

    def __init__(self, ledger: SqlLedger) -> None:
        self._ledger = ledger

    def open(self, *, write: bool) -> Tx:
        return self._ledger._open_tx(write=write)

    @property
    def syncs(self) -> bool:
        return self._ledger._syncs_apart()

    def control(self, statement: str) -> None:
        self._ledger._control(statement)

    def sync(self) -> None:
        self._ledger._sync_log()

    def ensure_open(self) -> None:
        self._ledger._ensure_open()

    def in_transaction(self) -> bool:
        return self._ledger._in_transaction()

    def foreign(self, exc: BaseException) -> LedgerError | None:
        return self._ledger._foreign(exc)


def _check_limit(limit: int) -> None:
    # SQLite reads a negative LIMIT as "no limit" and PostgreSQL refuses it: make both refuse.
    if limit < 1:
        raise LedgerError(f"a history limit must be at least 1, not {limit}")


class SqlLedger(Ledger, rows.Codec):
    """The shared implementation; subclasses provide ``_begin`` and the value conversions."""

    #: ``sqlite`` or ``postgres``: picks each migration's statements.
    dialect: ClassVar[str]
    #: Column type of timestamps in this dialect (for ``schema_migrations``).
    time_type: ClassVar[str]

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        migrations: Sequence[Migration] | None = None,
    ) -> None:
        self._clock = clock or utc_now
        self._guard = threading.RLock()
        self._closed = False
        #: Every transaction goes through it: concurrent writes share one commit.
        self.group_commit = GroupCommit(self._guard, _Session(self))
        self._migrations = tuple(discover() if migrations is None else migrations)
        check_numbering(self._migrations)

    # ------------------------------------------------------------------ backend hooks

    @abc.abstractmethod
    def _open_tx(self, *, write: bool) -> Tx:
        """Begin a transaction on the connection and return it (a write one locks at once).

        Foreign database errors must leave it as ``LedgerError``. Called with the guard held.
        """

    @abc.abstractmethod
    def _control(self, statement: str) -> None:
        """Run a transaction-control statement (COMMIT, SAVEPOINT…), raising ``LedgerError``."""

    def _syncs_apart(self) -> bool:
        """Whether a ``COMMIT`` becomes durable only with ``_sync_log`` (default: no)."""
        return False

    def _sync_log(self) -> None:
        """Make every commit so far durable; called without the guard, one call at a time."""

    @abc.abstractmethod
    def _in_transaction(self) -> bool:
        """Whether the connection has a transaction open."""

    @abc.abstractmethod
    def _foreign(self, exc: BaseException) -> LedgerError | None:
        """``exc`` as a ``LedgerError`` when it is the database driver's error, else None."""

    @abc.abstractmethod
    def _before_migrations(self, tx: Tx) -> None:
        """Serialise migrations across processes for the rest of ``tx`` (and create the schema)."""

    # ------------------------------------------------------------------ plumbing

    def _tx(self, *, write: bool = False) -> AbstractContextManager[Tx]:
        return self.group_commit.transaction(write=write)

    def _ensure_open(self) -> None:
        if self._closed:
            raise LedgerError(f"the ledger {self.describe()} is closed")

    def _now(self) -> datetime:
        return self._clock()

    def transaction(
        self, *, write: bool = False, exclusive: bool = False
    ) -> AbstractContextManager[Tx]:
        """One transaction, for the feature stores of this package (checkpoints, usage, drift).

        They keep their own tables (added by numbered migrations) and use the same connection,
        lock and value conversions (``time_in``/``json_in``…), so every backend gets them.
        ``exclusive`` write transactions of one ledger run one at a time across processes, for
        a check-then-insert that must not interleave (a checkpoint claim).
        """
        return self._exclusive_tx() if exclusive else self._tx(write=write)

    @contextmanager
    def _exclusive_tx(self) -> Iterator[Tx]:
        with self._tx(write=True) as tx:
            self._serialise(tx)
            yield tx

    @abc.abstractmethod
    def _serialise(self, tx: Tx) -> None:
        """Make ``tx`` wait for, and then exclude, other exclusive transactions of this ledger."""

    def now(self) -> datetime:
        """The ledger's clock (injectable in tests)."""
        return self._clock()

    # ------------------------------------------------------------------ satellite stores

    @property
    def checkpoints(self) -> CheckpointStore:
        return SqlCheckpointStore(self)

    @property
    def usage(self) -> UsageStore:
        return SqlUsageStore(self)

    @property
    def drift(self) -> DriftStore:
        return SqlDriftStore(self)

    @property
    def deliveries(self) -> DeliveryStore:
        return DeliveryStore(self)

    @property
    def promotions(self) -> PromotionStore:
        return SqlPromotionStore(self)

    def prune_history(self, cutoff: datetime, *, dry_run: bool = False) -> PruneReport:
        return prune_history(self, cutoff, dry_run=dry_run)

    def _migrate_or_close(self) -> None:
        """Migrate a freshly opened ledger; close it again if that fails, leaking nothing."""
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def _migrate(self) -> None:
        """Apply pending migrations in one transaction; refuse a ledger newer than the tool."""
        target = len(self._migrations)
        applying: Migration | None = None
        try:
            with self._tx(write=True) as tx:
                self._before_migrations(tx)
                tx.execute(
                    f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version INTEGER PRIMARY KEY,"
                    f" name TEXT NOT NULL, applied_at {self.time_type} NOT NULL)"
                )
                current = self._version(tx)
                if current > target:
                    raise LedgerMigrationError(
                        f"the ledger {self.describe()} is at schema version {current}, newer "
                        f"than this neon-fleet knows ({target}); upgrade neon-fleet"
                    )
                for applying in self._migrations[current:]:
                    for statement in applying.statements(self.dialect):
                        tx.execute(statement)
                    tx.execute(
                        f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at)"
                        " VALUES (?, ?, ?)",
                        (applying.version, applying.name, self.time_in(self._now())),
                    )
        except (LedgerMigrationError, LedgerCorruptedError):
            raise
        except LedgerError as exc:
            what = f"migration {applying.version} ({applying.name})" if applying else "migrating"
            raise LedgerMigrationError(f"ledger {self.describe()}: {what} failed: {exc}") from exc

    def _version(self, tx: Tx) -> int:
        applied = self._applied(tx)
        return applied[-1].version if applied else 0

    # ------------------------------------------------------------------ reads

    def view(self) -> LedgerView:
        with self._tx() as tx:
            tenants = self._load_tenants(tx, None)
            pending = tx.all(
                "SELECT id, tenant FROM intents WHERE resolved_at IS NULL AND action = ?",
                (Action.CREATE_PROJECT.value,),
            )
            delivered = tx.all("SELECT tenant, name, shape FROM delivered_secrets")
            runtime = tx.all(
                "SELECT tenant, branch_name FROM previews UNION SELECT tenant, CASE kind WHEN"
                " 'run' THEN source_branch ELSE target_branch END FROM promotions"
            )
        runtime_branches: dict[str, set[str]] = {}
        for tenant, branch in runtime:
            runtime_branches.setdefault(str(tenant), set()).add(str(branch))
        deliveries: dict[str, dict[str, str]] = {}
        for tenant, secret, shape in delivered:
            deliveries.setdefault(str(tenant), {})[str(secret)] = str(shape)
        creates = frozenset(
            self.cells("intents", f"id {intent_id}").text("tenant", tenant, empty=False)
            for intent_id, tenant in pending
        )
        return LedgerView(
            tenants=tenants,
            pending_creates=creates,
            deliveries=deliveries,
            runtime_branches={t: frozenset(names) for t, names in runtime_branches.items()},
        )

    def tenant(self, name: str) -> OwnedTenant | None:
        with self._tx() as tx:
            return self._load_tenants(tx, name).get(name)

    def _load_tenants(self, tx: Tx, name: str | None) -> dict[str, OwnedTenant]:
        where, params = (" WHERE tenant = ?", (name,)) if name is not None else ("", ())
        return self.assemble_tenants(
            tx.all(f"SELECT {rows.TENANT_COLUMNS} FROM tenants{where} ORDER BY tenant", params),
            tx.all(f"SELECT {rows.BRANCH_COLUMNS} FROM tenant_branches{where}", params),
            tx.all(f"SELECT {rows.KEY_COLUMNS} FROM tenant_keys{where}", params),
        )

    def pending_intents(self) -> list[Intent]:
        with self._tx() as tx:
            found = tx.all(
                f"SELECT {rows.INTENT_COLUMNS} FROM intents WHERE resolved_at IS NULL ORDER BY id"
            )
        return [self.intent_from(row) for row in found]

    def runs(self, limit: int = 20) -> list[RunRecord]:
        _check_limit(limit)
        with self._tx() as tx:
            found = tx.all(
                f"SELECT {rows.RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?", (int(limit),)
            )
        return [self.run_from(row, None) for row in found]

    def run(self, run_id: int) -> RunRecord:
        with self._tx() as tx:
            found = tx.one(f"SELECT {rows.RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
            if found is None:
                raise LedgerError(f"the ledger has no run #{run_id}")
            steps = tx.all(
                f"SELECT {rows.STEP_COLUMNS} FROM run_steps WHERE run_id = ? ORDER BY id",
                (run_id,),
            )
        return self.run_from(found, tuple(self.step_from(row, run_id) for row in steps))

    def deleted_tenants(self, limit: int = 20) -> list[DeletedTenant]:
        _check_limit(limit)
        with self._tx() as tx:
            found = tx.all(
                f"SELECT {rows.TOMBSTONE_COLUMNS} FROM deleted_tenants ORDER BY id DESC LIMIT ?",
                (int(limit),),
            )
        return [self.tombstone_from(row) for row in found]

    def previews(self, tenant: str | None = None) -> list[preview_rows.PreviewRecord]:
        where, params = (" WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        with self._tx() as tx:
            found = tx.all(
                f"SELECT {preview_rows.COLUMNS} FROM previews{where}"
                " ORDER BY created_at, tenant, run_id",
                params,
            )
        return [self._preview_from(row) for row in found]

    def preview(self, tenant: str, run_id: str) -> preview_rows.PreviewRecord | None:
        with self._tx() as tx:
            found = tx.one(
                f"SELECT {preview_rows.COLUMNS} FROM previews WHERE tenant = ? AND run_id = ?",
                (tenant, run_id),
            )
        return None if found is None else self._preview_from(found)

    def _preview_from(self, row: Row) -> preview_rows.PreviewRecord:
        return preview_rows.record_from(row, self.cells("previews", f"{row[0]}/{row[1]}"))

    def get_meta(self, key: str) -> str | None:
        with self._tx() as tx:
            found = tx.one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if found is None else self.cells("meta", f"key {key!r}").text("value", found[0])

    def migration_version(self) -> int:
        with self._tx() as tx:
            return self._version(tx)

    def applied_migrations(self) -> list[AppliedMigration]:
        with self._tx() as tx:
            return self._applied(tx)

    def _applied(self, tx: Tx) -> list[AppliedMigration]:
        found = tx.all(f"SELECT version, name, applied_at FROM {MIGRATIONS_TABLE}")
        return applied_from_rows(found, self.cells, self._migrations)

    # ------------------------------------------------------------------ writes

    def record_intent(self, tenant: str, action: str, detail: Mapping[str, Any]) -> int:
        reject_secrets(detail, "intent detail")
        with self._tx(write=True) as tx:
            row = tx.one(
                "INSERT INTO intents (tenant, action, detail, created_at)"
                " VALUES (?, ?, ?, ?) RETURNING id",
                (tenant, action, self.json_in(dict(detail)), self.time_in(self._now())),
            )
        assert row is not None  # RETURNING always yields the new row
        return int(row[0])

    def resolve_intent(self, intent_id: int, outcome: str) -> None:
        if not outcome:
            raise LedgerError("an intent outcome must not be empty")
        with self._tx(write=True) as tx:
            changed = tx.execute(
                "UPDATE intents SET resolved_at = ?, outcome = ?"
                " WHERE id = ? AND resolved_at IS NULL",
                (self.time_in(self._now()), outcome, intent_id),
            )
            if changed:
                return
            found = tx.one("SELECT outcome FROM intents WHERE id = ?", (intent_id,))
        if found is None:
            raise LedgerError(f"the ledger has no intent #{intent_id}")
        if found[0] != outcome:  # resolving twice the same way is a harmless re-run
            raise LedgerError(f"intent #{intent_id} was already resolved as {found[0]!r}")

    def upsert_tenant(self, tenant: OwnedTenant) -> None:
        with self._tx(write=True) as tx:
            self._write_tenant(tx, tenant)

    def update_tenants(
        self,
        changes: Mapping[str, Callable[[OwnedTenant], OwnedTenant]],
        *,
        defaults: Mapping[str, OwnedTenant] | None = None,
    ) -> int:
        written = 0
        with self._tx(write=True) as tx:
            # Past a few names one read of every record is cheaper than a read per name.
            current = self._load_tenants(tx, None) if len(changes) > 8 else None
            for name in sorted(changes):
                found = (
                    current.get(name)
                    if current is not None
                    else self._load_tenants(tx, name).get(name)
                )
                before = found or (defaults or {}).get(name)
                if before is None:
                    continue
                after = changes[name](before)
                if found is None or after != found:
                    self._write_tenant(tx, after)
                    written += 1
        return written

    def _write_tenant(self, tx: Tx, tenant: OwnedTenant) -> None:
        tx.execute(
            "INSERT INTO tenants (tenant, project_id, org_id, fingerprint, manifest_digest,"
            " prevent_destroy, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tenant) DO UPDATE SET project_id = excluded.project_id,"
            " org_id = excluded.org_id, fingerprint = excluded.fingerprint,"
            " manifest_digest = excluded.manifest_digest,"
            " prevent_destroy = excluded.prevent_destroy, updated_at = excluded.updated_at",
            (
                tenant.tenant,
                tenant.project_id,
                tenant.org_id,
                tenant.fingerprint,
                tenant.manifest_digest,
                self.bool_in(tenant.prevent_destroy),
                self.time_in(self._now()),
            ),
        )
        self._replace_children(tx, tenant)

    @staticmethod
    def _replace_children(tx: Tx, tenant: OwnedTenant) -> None:
        tx.execute("DELETE FROM tenant_branches WHERE tenant = ?", (tenant.tenant,))
        tx.execute("DELETE FROM tenant_keys WHERE tenant = ?", (tenant.tenant,))
        tx.many(
            "INSERT INTO tenant_branches (tenant, branch_name, branch_id) VALUES (?, ?, ?)",
            [(tenant.tenant, name, branch_id) for name, branch_id in tenant.branch_ids.items()],
        )
        tx.many(
            "INSERT INTO tenant_keys (tenant, key_name, key_id, org_id, project_id)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (tenant.tenant, name, key.key_id, key.org_id, key.project_id)
                for name, key in tenant.keys.items()
            ],
        )

    def forget_tenant(
        self, name: str, *, note: str = "", recoverable_until: datetime | None = None
    ) -> bool:
        deleted_at = self._now()
        until = recoverable_until or deleted_at + NEON_RECOVERY_WINDOW
        with self._tx(write=True) as tx:
            owned = self._load_tenants(tx, name).get(name)
            if owned is None:
                return False
            tx.execute(
                "INSERT INTO deleted_tenants (tenant, project_id, org_id, deleted_at,"
                " recoverable_until, note, last_state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    owned.project_id,
                    owned.org_id,
                    self.time_in(deleted_at),
                    self.time_in(until),
                    redact_text(note),
                    self.json_in(rows.tenant_state(owned)),
                ),
            )
            for table in ("tenant_branches", "tenant_keys", "delivered_secrets", "tenants"):
                tx.execute(f"DELETE FROM {table} WHERE tenant = ?", (name,))
        return True

    def set_meta(self, key: str, value: str) -> None:
        if is_secret_name(key):
            raise LedgerError(f"refusing to store a secret in the ledger: meta key {key!r}")
        reject_secrets(value, f"meta {key}")
        with self._tx(write=True) as tx:
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def save_preview(self, record: preview_rows.PreviewRecord) -> preview_rows.PreviewRecord:
        preview_rows.check_record(record)
        now = self.time_in(self._now())
        expires = None if record.expires_at is None else self.time_in(record.expires_at)
        with self._tx(write=True) as tx:
            tx.execute(
                preview_rows.upsert_statement(),
                (
                    record.tenant, record.run_id, record.project_id, record.org_id,
                    record.branch_name, record.branch_id, record.endpoint_id,
                    record.parent_branch, record.checkpoint_id, record.status.value,
                    record.secret_fingerprint, expires, now, now,
                ),
            )  # fmt: skip
            stored = tx.one(
                f"SELECT {preview_rows.COLUMNS} FROM previews WHERE tenant = ? AND run_id = ?",
                (record.tenant, record.run_id),
            )
        assert stored is not None  # written in this very transaction
        return self._preview_from(stored)

    def drop_preview(self, tenant: str, run_id: str) -> bool:
        with self._tx(write=True) as tx:
            return bool(
                tx.execute("DELETE FROM previews WHERE tenant = ? AND run_id = ?", (tenant, run_id))
            )

    def begin_run(self, info: RunInfo) -> int:
        reject_secrets(
            {"who": info.who, "mode": info.mode, "tool_version": info.tool_version}, "run"
        )
        with self._tx(write=True) as tx:
            row = tx.one(
                "INSERT INTO runs (who, started_at, plan_digest, manifest_digest, tool_version,"
                " mode, summary) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    info.who,
                    self.time_in(info.started_at),
                    info.plan_digest,
                    info.manifest_digest,
                    info.tool_version,
                    info.mode,
                    self.json_in({}),
                ),
            )
        assert row is not None  # RETURNING always yields the new row
        return int(row[0])

    def record_step(self, run_id: int, outcome: StepOutcomeRecord) -> None:
        reject_secrets(outcome.resource_ids, f"step {outcome.step_id} resource_ids")
        status = StepStatus(outcome.status)
        with self._tx(write=True) as tx:
            self._require_open_run(tx, run_id)
            tx.execute(
                "INSERT INTO run_steps (run_id, step_id, tenant, action, status, message,"
                " started_at, finished_at, resource_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    outcome.step_id,
                    outcome.tenant,
                    outcome.action,
                    status.value,
                    redact_text(outcome.message),
                    self.time_in(outcome.started_at),
                    self.time_in(outcome.finished_at),
                    self.json_in(dict(outcome.resource_ids)),
                ),
            )

    def finish_run(self, run_id: int, result: str, summary: Mapping[str, int]) -> None:
        reject_secrets(summary, "run summary")
        counts = {str(name): int(count) for name, count in summary.items()}
        with self._tx(write=True) as tx:
            self._require_open_run(tx, run_id)
            tx.execute(
                "UPDATE runs SET finished_at = ?, result = ?, summary = ? WHERE id = ?",
                (self.time_in(self._now()), result, self.json_in(counts), run_id),
            )

    @staticmethod
    def _require_open_run(tx: Tx, run_id: int) -> None:
        found = tx.one("SELECT finished_at FROM runs WHERE id = ?", (run_id,))
        if found is None:
            raise LedgerError(f"the ledger has no run #{run_id}")
        if found[0] is not None:
            raise LedgerError(f"run #{run_id} is already finished")
