"""The checkpoint store: compound checkpoint records in the ledger (migration 0002).

A record is written *before* its snapshot is requested (status ``creating``, with the
deterministic snapshot name), so a crash or a lost answer can be settled by reading the
snapshot back by name; it becomes ``ready`` once Neon's operations finished. A restore marks it
``restoring`` before the first change, then ``restored``/``previewed`` or ``failed``, with
timestamps. Every free-form value passes the ledger's secret guard: tokens never get in.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.branch_policies import CheckpointPolicy


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
    #: ``manual`` (``fleet checkpoint create``), ``schedule`` or ``promotion`` (``fleet
    #: promote``, which also puts ``promotion_id`` and ``promotion_role`` in ``meta``).
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


class CheckpointStore(abc.ABC):
    """Checkpoint records in the ledger (``Ledger.checkpoints``); each write is a transaction."""

    @abc.abstractmethod
    def now(self) -> datetime:
        """The ledger's clock (injectable in tests)."""

    @abc.abstractmethod
    def begin(self, new: NewCheckpoint, *, name_prefix: str = "ckpt") -> Checkpoint:
        """Record a checkpoint about to be taken (its snapshot: ``<prefix>-<id>-<tenant>``)."""

    @abc.abstractmethod
    def claim(self, new: NewCheckpoint, every: timedelta) -> Checkpoint | None:
        """``begin``, unless the tenant has a checkpoint younger than ``every`` or one being
        created: then None. Check and insert are one transaction that concurrent claims of
        this ledger wait for, so overlapping ``schedule`` runs never take a tenant twice."""

    @abc.abstractmethod
    def mark_ready(self, checkpoint_id: int, snapshot_id: str, full_size: int | None) -> None:
        """The snapshot exists and its operations finished."""

    @abc.abstractmethod
    def attach_snapshot(self, checkpoint_id: int, snapshot_id: str) -> None:
        """Note the snapshot's id while its operations still run (status stays ``creating``)."""

    @abc.abstractmethod
    def discard(self, checkpoint_id: int) -> None:
        """Drop a ``creating`` record whose snapshot certainly was not made."""

    @abc.abstractmethod
    def begin_restore(self, checkpoint_id: int) -> None:
        """Mark the record ``restoring`` before the first change to Neon."""

    @abc.abstractmethod
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

    @abc.abstractmethod
    def delete(self, checkpoint_id: int) -> None:
        """Forget a record (its snapshot is gone)."""

    @abc.abstractmethod
    def get(self, checkpoint_id: int) -> Checkpoint:
        """One record; ``LedgerError`` naming the id when there is none."""

    @abc.abstractmethod
    def list(self, tenant: str | None = None) -> list[Checkpoint]:
        """Records, newest first (one tenant's when ``tenant`` is given)."""

    @abc.abstractmethod
    def latest_settled(self) -> dict[str, datetime]:
        """Per tenant, when its newest checkpoint with a snapshot was taken (for ``schedule``)."""


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
