"""The ledger interfaces: a read-only ``LedgerReader`` and the writing ``Ledger`` that extends it.

After sqlmesh's ``StateReader``/``StateSync`` split: the planner and ``fleet history`` only need
a reader; the applier gets the full ``Ledger``. Two implementations exist
(``reconciler.ledger.sqlite.SqliteLedger`` and ``reconciler.ledger.postgres.PostgresLedger``),
both built on ``reconciler.ledger.sql.SqlLedger`` and checked by one contract test suite.

Guarantees every implementation keeps:

* every write method is one committed transaction: a process killed at any moment leaves the
  ledger either before or after the write, never half-way;
* every method may be called from several threads at once;
* no secret is ever stored (see ``reconciler.ledger.guard``);
* foreign database errors surface as ``reconciler.errors.LedgerError``.

Besides tenants, intents and runs, a ``Ledger`` holds satellite stores with their own tables,
reached through it rather than by casting to a backend: ``checkpoints``, ``promotions``,
``usage``, ``drift``, history retention (``prune_history``) and, where runners can share the
ledger, ``rate_leases``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from reconciler.core.model import LedgerView, OwnedTenant
from reconciler.core.sharding import Shard
from reconciler.errors import UsageError
from reconciler.ledger.checkpoints import CheckpointStore
from reconciler.ledger.deliveries import DeliveryStore
from reconciler.ledger.drift import DriftStore
from reconciler.ledger.leases import RateLeases
from reconciler.ledger.previews import PreviewRecord
from reconciler.ledger.promotions import PromotionStore
from reconciler.ledger.records import (
    AppliedMigration,
    DeletedTenant,
    Intent,
    PruneReport,
    RunInfo,
    RunRecord,
    StepOutcomeRecord,
)
from reconciler.ledger.usage import UsageStore


class LedgerReader(abc.ABC):
    """Read access to the ledger."""

    @abc.abstractmethod
    def view(self) -> LedgerView:
        """All owned tenants and the tenants with a pending (unresolved) create intent."""

    @abc.abstractmethod
    def tenant(self, name: str) -> OwnedTenant | None:
        """One owned tenant, or None when the ledger does not own it."""

    @abc.abstractmethod
    def pending_intents(self) -> list[Intent]:
        """Intents without an outcome (left by a crashed apply), oldest first."""

    @abc.abstractmethod
    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first, without their steps (``steps`` is None)."""

    @abc.abstractmethod
    def run(self, run_id: int) -> RunRecord:
        """One run with its step outcomes in recording order; ``LedgerError`` if unknown."""

    @abc.abstractmethod
    def deleted_tenants(self, limit: int = 20) -> list[DeletedTenant]:
        """Tombstones of deleted tenants, newest first."""

    @abc.abstractmethod
    def get_meta(self, key: str) -> str | None:
        """A value of the small key-value store, or None when unset."""

    @abc.abstractmethod
    def migration_version(self) -> int:
        """The number of the latest migration applied to this ledger."""

    @abc.abstractmethod
    def applied_migrations(self) -> list[AppliedMigration]:
        """Every recorded migration, in version order."""

    @abc.abstractmethod
    def previews(self, tenant: str | None = None) -> list[PreviewRecord]:
        """Runtime previews (``fleet preview``), oldest first; one tenant's when given."""

    @abc.abstractmethod
    def preview(self, tenant: str, run_id: str) -> PreviewRecord | None:
        """The preview of ``tenant`` for agent run ``run_id``, or None."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where this ledger lives, for messages (never includes a password)."""

    @abc.abstractmethod
    def now(self) -> datetime:
        """The ledger's clock: what its timestamps and retention cutoffs are measured by."""


class Ledger(LedgerReader):
    """Read and write access to the ledger; each write is its own transaction.

    Concurrent writes of one ledger object may share a commit, but a write returns only once
    it is durable.
    """

    @abc.abstractmethod
    def record_intent(self, tenant: str, action: str, detail: Mapping[str, Any]) -> int:
        """Record what is about to be done (e.g. the project name and org before a create).

        Returns the intent id to pass to ``resolve_intent`` once the outcome is known.
        """

    @abc.abstractmethod
    def resolve_intent(self, intent_id: int, outcome: str) -> None:
        """Close an intent with its outcome (see ``IntentOutcome``)."""

    @abc.abstractmethod
    def upsert_tenant(self, tenant: OwnedTenant) -> None:
        """Record (or replace) everything owned for one tenant, branches and keys included."""

    @abc.abstractmethod
    def update_tenants(
        self,
        changes: Mapping[str, Callable[[OwnedTenant], OwnedTenant]],
        *,
        defaults: Mapping[str, OwnedTenant] | None = None,
    ) -> int:
        """Read-modify-write several tenants' records in one transaction (one commit).

        ``changes[name]`` maps the current record to the new one; a tenant without a record
        starts from ``defaults[name]``, or is skipped when it has none. Records a change leaves
        equal are not written. Returns how many records were written.
        """

    @abc.abstractmethod
    def forget_tenant(
        self, name: str, *, note: str = "", recoverable_until: datetime | None = None
    ) -> bool:
        """Drop an owned tenant after its project was deleted, leaving a tombstone.

        ``recoverable_until`` defaults to Neon's documented 7-day recovery window. Returns
        False (and records nothing) when the tenant was not owned, so a re-run is harmless.
        """

    @abc.abstractmethod
    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the small key-value store (cursors and the like)."""

    @abc.abstractmethod
    def save_preview(self, record: PreviewRecord) -> PreviewRecord:
        """Insert or replace the preview of ``(record.tenant, record.run_id)``.

        The ledger stamps ``updated_at`` (and ``created_at`` on the first save) and returns the
        record as stored. Refuses secret-looking values like every other write.
        """

    @abc.abstractmethod
    def drop_preview(self, tenant: str, run_id: str) -> bool:
        """Forget a deleted preview; False (and nothing changed) when there was none."""

    @abc.abstractmethod
    def begin_run(self, info: RunInfo) -> int:
        """Record the start of an apply run and return its id."""

    @abc.abstractmethod
    def record_step(self, run_id: int, outcome: StepOutcomeRecord) -> None:
        """Record the outcome of one step of a run."""

    @abc.abstractmethod
    def finish_run(self, run_id: int, result: str, summary: Mapping[str, int]) -> None:
        """Record how a run ended and its counts (e.g. succeeded/failed/skipped)."""

    @abc.abstractmethod
    def apply_lock(self, holder: str, timeout: float = 0.0) -> AbstractContextManager[None]:
        """Hold the exclusive apply lock for the ``with`` block.

        ``holder`` describes this process for others' messages (``user@host``, perhaps with
        what it does); the ledger adds the process id itself, once: ``user@host (pid N)``. With
        ``timeout`` 0 a held lock raises ``LockHeldError`` at once; otherwise the lock is polled
        until acquired or ``timeout`` seconds have passed. The lock dies with the process.
        """

    def shard_lock(
        self, holder: str, shard: Shard, timeout: float = 0.0
    ) -> AbstractContextManager[None]:
        """Hold the apply lock of one shard (``fleet apply --shard i/n``) for the block.

        Shards of one ``n`` run at once; a whole-fleet apply excludes them all. Only the
        PostgreSQL ledger can be shared by runners on several machines, so this default
        accepts the whole fleet (``0/1``) and refuses a real shard.
        """
        if shard.whole:
            return self.apply_lock(holder, timeout)
        raise UsageError(
            f"--shard {shard.describe()} needs a PostgreSQL ledger (the ledger is "
            f"{self.describe()}): runners on several machines cannot share a SQLite file; "
            "drop --shard, or move the ledger to postgresql://"
        )

    @property
    @abc.abstractmethod
    def checkpoints(self) -> CheckpointStore:
        """Compound checkpoint records (``fleet checkpoint``)."""

    @property
    @abc.abstractmethod
    def usage(self) -> UsageStore:
        """Consumption samples and per-org sync marks (``fleet usage``)."""

    @property
    @abc.abstractmethod
    def drift(self) -> DriftStore:
        """Drift reports and since when each item drifts (``fleet drift``)."""

    @property
    @abc.abstractmethod
    def deliveries(self) -> DeliveryStore:
        """Fingerprints of the secrets delivered to the sink (never the secrets)."""

    @property
    @abc.abstractmethod
    def promotions(self) -> PromotionStore:
        """What ``fleet promote`` did to each tenant (``rollback`` reads the last run)."""

    @property
    def rate_leases(self) -> RateLeases | None:
        """The account budgets shared by runners on several machines (``--shard i/n``).

        Only a ledger those runners can share has them (PostgreSQL); None otherwise.
        """
        return None

    @abc.abstractmethod
    def prune_history(self, cutoff: datetime, *, dry_run: bool = False) -> PruneReport:
        """Remove (with ``dry_run`` only count) the audit history older than ``cutoff``.

        What goes and what is always kept: ``reconciler.ledger.retention``.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the ledger cannot be used afterwards."""

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
