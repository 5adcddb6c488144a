"""The checkpoint store: compound checkpoint records in the ledger (migration 0002).

A record is written *before* its snapshot is requested (status ``creating``, with the
deterministic snapshot name), so a crash or a lost answer can be settled by reading the
snapshot back by name; it becomes ``ready`` once Neon's operations finished. A restore marks it
``restoring`` before the first change, then ``restored``/``previewed`` or ``failed``, with
timestamps. Every free-form value passes the ledger's secret guard: tokens never get in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.model import CheckpointPolicy
from reconciler.errors import LedgerError
from reconciler.ledger.base import Ledger
from reconciler.ledger.guard import redact_text, reject_secrets
from reconciler.ledger.sql import SqlLedger, Tx


class CheckpointStatus(enum.StrEnum):
    """Where a checkpoint is in its life."""

    CREATING = "creating"
    READY = "ready"
    RESTORING = "restoring"
    RESTORED = "restored"
    PREVIEWED = "previewed"
    FAILED = "failed"


#: How long a record may stay ``creating`` before it counts as left by a crash (a create takes
#: seconds); until then another process may still be taking it.
STALE_CREATING = timedelta(minutes=15)

#: Statuses whose snapshot exists (or existed) and may be restored or collected.
SETTLED = frozenset(
    {
        CheckpointStatus.READY,
        CheckpointStatus.RESTORED,
        CheckpointStatus.PREVIEWED,
        CheckpointStatus.FAILED,
    }
)


@dataclass(frozen=True)
class NewCheckpoint:
    """What ``begin`` records before the snapshot is requested."""

    tenant: str
    project_id: str
    org_id: str
    branch_name: str
    branch_id: str
    source_rev: str
    secrets_version: str | None = None
    deploy_url: str | None = None
    agent_run_id: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    #: ``manual`` (``fleet checkpoint create``) or ``schedule``.
    origin: str = "manual"
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Checkpoint:
    """One compound checkpoint record."""

    id: int
    tenant: str
    project_id: str
    org_id: str
    branch_name: str
    #: The branch id the snapshot was taken from (a finalized restore later changes it).
    branch_id: str
    snapshot_id: str | None
    snapshot_name: str
    source_rev: str
    secrets_version: str | None
    deploy_url: str | None
    agent_run_id: str | None
    meta: Mapping[str, str]
    origin: str
    status: CheckpointStatus
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    error: str = ""
    full_size: int | None = None
    restore_started_at: datetime | None = None
    restored_at: datetime | None = None
    restored_branch_id: str | None = None
    old_branch_id: str | None = None
    old_branch_deleted: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as JSON (the hook's stdin, ``show --format json``)."""

        def when(value: datetime | None) -> str | None:
            return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")

        return {
            "id": self.id,
            "tenant": self.tenant,
            "project_id": self.project_id,
            "org_id": self.org_id,
            "branch": {"name": self.branch_name, "id": self.branch_id},
            "snapshot": {"id": self.snapshot_id, "name": self.snapshot_name},
            "source_rev": self.source_rev,
            "secrets_version": self.secrets_version,
            "deploy_url": self.deploy_url,
            "run_id": self.agent_run_id,
            "meta": dict(self.meta),
            "origin": self.origin,
            "status": self.status.value,
            "error": self.error,
            "full_size": self.full_size,
            "created_at": when(self.created_at),
            "updated_at": when(self.updated_at),
            "expires_at": when(self.expires_at),
            "restore_started_at": when(self.restore_started_at),
            "restored_at": when(self.restored_at),
            "restored_branch_id": self.restored_branch_id,
            "old_branch_id": self.old_branch_id,
            "old_branch_deleted": self.old_branch_deleted,
        }


_COLUMNS = (
    "id, tenant, project_id, org_id, branch_name, branch_id, snapshot_id, snapshot_name,"
    " source_rev, secrets_version, deploy_url, agent_run_id, meta, origin, status, created_at,"
    " updated_at, expires_at, error, full_size, restore_started_at, restored_at,"
    " restored_branch_id, old_branch_id, old_branch_deleted"
)


class CheckpointStore:
    """Checkpoint records in a SQL ledger (SQLite or PostgreSQL)."""

    def __init__(self, ledger: Ledger) -> None:
        if not isinstance(ledger, SqlLedger):
            raise LedgerError(f"the ledger {ledger.describe()} cannot hold checkpoints")
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


def retention_candidates(
    records: Sequence[Checkpoint], policy: CheckpointPolicy | None, now: datetime
) -> list[tuple[Checkpoint, str]]:
    """One tenant's records (newest first) that retention lets go, each with the reason.

    Expired records always go; ``keep_last`` keeps the newest N settled, unexpired ones;
    ``max_age`` lets older ones go. Records being created or restored are never collected.
    """
    chosen: list[tuple[Checkpoint, str]] = []
    kept = 0
    for record in (r for r in records if r.status in SETTLED):
        if record.expires_at is not None and record.expires_at <= now:
            chosen.append((record, "expired"))
        elif policy is not None and policy.keep_last is not None and kept >= policy.keep_last:
            chosen.append((record, f"beyond keep_last {policy.keep_last}"))
        elif (
            policy is not None
            and policy.max_age_seconds is not None
            and record.created_at <= now - timedelta(seconds=policy.max_age_seconds)
        ):
            chosen.append((record, f"older than max_age {policy.max_age_seconds}s"))
        else:
            kept += 1
    return chosen


def is_due(last: datetime | None, policy: CheckpointPolicy | None, now: datetime) -> bool:
    """Whether a periodic checkpoint is due: the tier asks for one and the last is too old."""
    if policy is None or policy.every_seconds is None:
        return False
    return last is None or now - last >= timedelta(seconds=policy.every_seconds)
