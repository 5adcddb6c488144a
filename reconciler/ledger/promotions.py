"""The promotion store: what ``fleet promote`` did to each tenant (migration 0009).

A promotion is written ``running`` before Neon is changed, so a killed command finds it again
and resumes it (``open_for``); it ends ``done``. A failed one stays ``running``, so that the
same command resumes it rather than snapshotting again. A finished ``run`` names the
checkpoint taken of production just before (``rollback_checkpoint_id``), and ``rollback``
restores it: ``rolling_back`` while it does, ``rolled_back`` once production is back.
Free-form values pass the ledger's secret guard.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class PromotionKind(enum.StrEnum):
    """Which ``fleet promote`` subcommand made the record."""

    BOOTSTRAP = "bootstrap"
    RUN = "run"
    REFRESH = "refresh"


class PromotionStatus(enum.StrEnum):
    """Where a promotion is in its life."""

    RUNNING = "running"
    DONE = "done"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class NewPromotion:
    """What ``begin`` records before Neon is changed."""

    tenant: str
    kind: PromotionKind
    project_id: str
    #: The branch whose state is copied (dev for ``run``, production otherwise).
    source_branch: str
    #: The branch that receives it (production for ``run``, dev otherwise).
    target_branch: str
    source_rev: str
    agent_run_id: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Promotion(NewPromotion):
    """One recorded promotion."""

    id: int = 0
    status: PromotionStatus = PromotionStatus.RUNNING
    created_at: datetime | None = None
    updated_at: datetime | None = None
    rollback_checkpoint_id: int | None = None
    source_checkpoint_id: int | None = None
    #: The target branch's id before and after the restore (a finalized restore changes it).
    from_branch_id: str | None = None
    new_branch_id: str | None = None
    finished_at: datetime | None = None
    rollback_started_at: datetime | None = None
    rolled_back_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as JSON (``--format json``, the hook's stdin)."""

        def when(value: datetime | None) -> str | None:
            return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")

        return {
            "id": self.id, "tenant": self.tenant, "kind": self.kind.value,
            "project_id": self.project_id, "source_branch": self.source_branch,
            "target_branch": self.target_branch, "source_rev": self.source_rev,
            "run_id": self.agent_run_id, "meta": dict(self.meta), "status": self.status.value,
            "rollback_checkpoint_id": self.rollback_checkpoint_id,
            "source_checkpoint_id": self.source_checkpoint_id,
            "from_branch_id": self.from_branch_id, "new_branch_id": self.new_branch_id,
            "created_at": when(self.created_at), "finished_at": when(self.finished_at),
            "rollback_started_at": when(self.rollback_started_at),
            "rolled_back_at": when(self.rolled_back_at),
        }  # fmt: skip


class PromotionStore(abc.ABC):
    """Promotion records in the ledger (``Ledger.promotions``)."""

    @abc.abstractmethod
    def begin(self, new: NewPromotion) -> Promotion:
        """Record a promotion about to change Neon (``running``)."""

    @abc.abstractmethod
    def attach(self, promotion_id: int, **ids: int | str | None) -> None:
        """Keep what a step learnt: ``rollback_checkpoint_id``, ``source_checkpoint_id``,
        ``from_branch_id``, ``new_branch_id`` (None values are left as they are)."""

    @abc.abstractmethod
    def finish(self, promotion_id: int, status: PromotionStatus) -> None:
        """End a promotion (``done``) or its rollback (``rolled_back``)."""

    @abc.abstractmethod
    def begin_rollback(self, promotion_id: int) -> None:
        """Mark a finished ``run`` as being rolled back (``rolling_back``, with the time)."""

    @abc.abstractmethod
    def get(self, promotion_id: int) -> Promotion:
        """One record; ``LedgerError`` when there is none."""

    @abc.abstractmethod
    def list(self, tenant: str | None = None) -> list[Promotion]:
        """Records, newest first."""

    def open_for(self, tenant: str, kind: PromotionKind) -> Promotion | None:
        """The tenant's ``running`` promotion of this kind a killed command left, if any."""
        return next(
            (
                p
                for p in self.list(tenant)
                if p.kind is kind and p.status is PromotionStatus.RUNNING
            ),
            None,
        )

    def last_run(self, tenant: str) -> Promotion | None:
        """The tenant's latest finished (or rolled back) ``run``: what ``rollback`` undoes."""
        rollable = {
            PromotionStatus.DONE,
            PromotionStatus.ROLLING_BACK,
            PromotionStatus.ROLLED_BACK,
        }
        return next(
            (p for p in self.list(tenant) if p.kind is PromotionKind.RUN and p.status in rollable),
            None,
        )
