"""The SQL checkpoint store behind ``Ledger.checkpoints`` (table of migration 0002).

Every free-form value passes the ledger's secret guard before it is written; see
``reconciler.ledger.checkpoints`` for the record's life.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from reconciler.errors import LedgerError
from reconciler.ledger.checkpoints import (
    SETTLED,
    STALE_CREATING,
    Checkpoint,
    CheckpointStatus,
    CheckpointStore,
    NewCheckpoint,
)
from reconciler.ledger.guard import redact_text, reject_secrets
from reconciler.ledger.sql_access import SqlAccess, Tx

_COLUMNS = (
    "id, tenant, project_id, org_id, branch_name, branch_id, snapshot_id, snapshot_name,"
    " source_rev, secrets_version, deploy_url, agent_run_id, meta, origin, status, created_at,"
    " updated_at, expires_at, error, full_size, restore_started_at, restored_at,"
    " restored_branch_id, old_branch_id, old_branch_deleted"
)


class SqlCheckpointStore(CheckpointStore):
    """Checkpoint records in a SQL ledger (SQLite or PostgreSQL)."""

    def __init__(self, ledger: SqlAccess) -> None:
        self._ledger = ledger

    def _row(self, row: Sequence[Any]) -> Checkpoint:
        (
            cid, tenant, project_id, org_id, branch_name, branch_id, snapshot_id, snapshot_name,
            source_rev, secrets_version, deploy_url, agent_run_id, meta, origin, status,
            created_at, updated_at, expires_at, error, full_size, restore_started_at,
            restored_at, restored_branch_id, old_branch_id, old_branch_deleted,
        ) = row  # fmt: skip
        cell = self._ledger.cells("checkpoints", f"id {cid}")
        return Checkpoint(
            id=cell.integer("id", cid),
            tenant=cell.text("tenant", tenant, empty=False),
            project_id=cell.text("project_id", project_id, empty=False),
            org_id=cell.text("org_id", org_id, empty=False),
            branch_name=cell.text("branch_name", branch_name),
            branch_id=cell.text("branch_id", branch_id),
            snapshot_id=cell.optional_text("snapshot_id", snapshot_id),
            snapshot_name=cell.text("snapshot_name", snapshot_name),
            source_rev=cell.text("source_rev", source_rev),
            secrets_version=cell.optional_text("secrets_version", secrets_version),
            deploy_url=cell.optional_text("deploy_url", deploy_url),
            agent_run_id=cell.optional_text("agent_run_id", agent_run_id),
            meta=cell.strings("meta", meta),
            origin=cell.text("origin", origin),
            status=cell.choice("status", status, CheckpointStatus),
            created_at=cell.time("created_at", created_at),
            updated_at=cell.time("updated_at", updated_at),
            expires_at=cell.optional_time("expires_at", expires_at),
            error=cell.text("error", error),
            full_size=cell.optional_integer("full_size", full_size),
            restore_started_at=cell.optional_time("restore_started_at", restore_started_at),
            restored_at=cell.optional_time("restored_at", restored_at),
            restored_branch_id=cell.optional_text("restored_branch_id", restored_branch_id),
            old_branch_id=cell.optional_text("old_branch_id", old_branch_id),
            old_branch_deleted=cell.optional_flag("old_branch_deleted", old_branch_deleted),
        )

    def now(self) -> datetime:
        """The ledger's clock (injectable in tests)."""
        return self._ledger.now()

    # ------------------------------------------------------------------ writes

    def begin(self, new: NewCheckpoint, *, name_prefix: str = "ckpt") -> Checkpoint:
        """Record a checkpoint about to be taken (its snapshot: ``<prefix>-<id>-<tenant>``)."""
        self._check(new)
        with self._ledger.transaction(write=True) as tx:
            return self._insert(tx, new, name_prefix)

    def claim(self, new: NewCheckpoint, every: timedelta) -> Checkpoint | None:
        """``begin``, unless the tenant has a checkpoint younger than ``every`` or one being
        created: then None. Check and insert are one transaction that concurrent claims of
        this ledger wait for, so overlapping ``schedule`` runs never take a tenant twice."""
        self._check(new)
        ledger = self._ledger
        now = ledger.now()
        taken = sorted(status.value for status in SETTLED | {CheckpointStatus.RESTORING})
        marks = ", ".join("?" for _ in taken)
        with ledger.transaction(write=True, exclusive=True) as tx:
            busy = tx.one(
                "SELECT id FROM checkpoints WHERE tenant = ? AND ((status IN"
                f" ({marks}) AND created_at > ?) OR (status = ? AND updated_at > ?))",
                (new.tenant, *taken, ledger.time_in(now - every),
                 CheckpointStatus.CREATING.value, ledger.time_in(now - STALE_CREATING)),
            )  # fmt: skip
            return None if busy is not None else self._insert(tx, new, "ckpt")

    @staticmethod
    def _check(new: NewCheckpoint) -> None:
        free_form = {
            "source_rev": new.source_rev,
            "secrets_version": new.secrets_version,
            "deploy_url": new.deploy_url,
            "run_id": new.agent_run_id,
            "meta": dict(new.meta),
        }
        reject_secrets(free_form, "checkpoint")

    def _insert(self, tx: Tx, new: NewCheckpoint, name_prefix: str) -> Checkpoint:
        ledger = self._ledger
        now = ledger.time_in(ledger.now())
        row = tx.one(
            "INSERT INTO checkpoints (tenant, project_id, org_id, branch_name, branch_id,"
            " snapshot_name, source_rev, secrets_version, deploy_url, agent_run_id, meta,"
            " origin, status, created_at, updated_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                new.tenant, new.project_id, new.org_id, new.branch_name, new.branch_id,
                new.source_rev, new.secrets_version, new.deploy_url, new.agent_run_id,
                ledger.json_in(dict(new.meta)), new.origin, CheckpointStatus.CREATING.value,
                now, now, None if new.expires_at is None else ledger.time_in(new.expires_at),
            ),
        )  # fmt: skip
        assert row is not None  # RETURNING always yields the new row
        checkpoint_id = int(row[0])
        tx.execute(
            "UPDATE checkpoints SET snapshot_name = ? WHERE id = ?",
            (f"{name_prefix}-{checkpoint_id}-{new.tenant}"[:256], checkpoint_id),
        )
        return self._get(tx, checkpoint_id)

    def mark_ready(self, checkpoint_id: int, snapshot_id: str, full_size: int | None) -> None:
        """The snapshot exists and its operations finished."""
        self._update(
            checkpoint_id,
            status=CheckpointStatus.READY.value,
            snapshot_id=snapshot_id,
            full_size=full_size,
        )

    def attach_snapshot(self, checkpoint_id: int, snapshot_id: str) -> None:
        """Note the snapshot's id while its operations still run (status stays ``creating``)."""
        self._update(checkpoint_id, snapshot_id=snapshot_id)

    def discard(self, checkpoint_id: int) -> None:
        """Drop a ``creating`` record whose snapshot certainly was not made."""
        with self._ledger.transaction(write=True) as tx:
            tx.execute(
                "DELETE FROM checkpoints WHERE id = ? AND status = ?",
                (checkpoint_id, CheckpointStatus.CREATING.value),
            )

    def begin_restore(self, checkpoint_id: int) -> None:
        """Mark the record ``restoring`` before the first change to Neon."""
        self._update(
            checkpoint_id,
            status=CheckpointStatus.RESTORING.value,
            error="",
            restore_started_at=self._ledger.time_in(self._ledger.now()),
            restored_at=None,
        )

    def finish_restore(
        self,
        checkpoint_id: int,
        status: CheckpointStatus,
        *,
        restored_branch_id: str | None = None,
        old_branch_id: str | None = None,
        old_branch_deleted: bool | None = None,
        error: str = "",
    ) -> None:
        """Record how a restore ended (``restored``, ``previewed`` or ``failed``)."""
        ledger = self._ledger
        self._update(
            checkpoint_id,
            status=status.value,
            restored_branch_id=restored_branch_id,
            old_branch_id=old_branch_id,
            old_branch_deleted=(
                None if old_branch_deleted is None else ledger.bool_in(old_branch_deleted)
            ),
            error=redact_text(error),
            restored_at=ledger.time_in(ledger.now()),
        )

    def delete(self, checkpoint_id: int) -> None:
        """Forget a record (its snapshot is gone)."""
        with self._ledger.transaction(write=True) as tx:
            tx.execute("DELETE FROM checkpoints WHERE id = ?", (checkpoint_id,))

    def _update(self, checkpoint_id: int, **values: Any) -> None:
        ledger = self._ledger
        values["updated_at"] = ledger.time_in(ledger.now())
        assignments = ", ".join(f"{column} = ?" for column in values)
        with ledger.transaction(write=True) as tx:
            changed = tx.execute(
                f"UPDATE checkpoints SET {assignments} WHERE id = ?",
                (*values.values(), checkpoint_id),
            )
        if not changed:
            raise LedgerError(f"the ledger has no checkpoint #{checkpoint_id}")

    # ------------------------------------------------------------------ reads

    def get(self, checkpoint_id: int) -> Checkpoint:
        """One record; ``LedgerError`` naming the id when there is none."""
        with self._ledger.transaction() as tx:
            return self._get(tx, checkpoint_id)

    def _get(self, tx: Tx, checkpoint_id: int) -> Checkpoint:
        row = tx.one(f"SELECT {_COLUMNS} FROM checkpoints WHERE id = ?", (checkpoint_id,))
        if row is None:
            raise LedgerError(f"the ledger has no checkpoint #{checkpoint_id}")
        return self._row(row)

    def list(self, tenant: str | None = None) -> list[Checkpoint]:
        """Records, newest first (one tenant's when ``tenant`` is given)."""
        where, params = ("WHERE tenant = ?", (tenant,)) if tenant is not None else ("", ())
        with self._ledger.transaction() as tx:
            rows = tx.all(
                f"SELECT {_COLUMNS} FROM checkpoints {where} ORDER BY created_at DESC, id DESC",
                params,
            )
        return [self._row(row) for row in rows]

    def latest_settled(self) -> dict[str, datetime]:
        """Per tenant, when its newest checkpoint with a snapshot was taken (for ``schedule``)."""
        statuses = sorted(status.value for status in SETTLED | {CheckpointStatus.RESTORING})
        marks = ", ".join("?" for _ in statuses)
        with self._ledger.transaction() as tx:
            rows = tx.all(
                "SELECT tenant, MAX(created_at) FROM checkpoints"
                f" WHERE status IN ({marks}) GROUP BY tenant",
                statuses,
            )
        return {
            str(tenant): self._ledger.cells("checkpoints", f"tenant {tenant!r}").time(
                "created_at", at
            )
            for tenant, at in rows
        }
