"""Frozen records the ledger stores and returns besides the core ``LedgerView`` values.

These describe the audit side of the ledger: apply runs and their step outcomes (what
``fleet history`` shows), open intents (what a crashed apply was about to do) and tombstones of
deleted tenants. Timestamps are timezone-aware ``datetime`` values in UTC.
"""

from __future__ import annotations

import enum
import getpass
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler.core.step_status import StepStatus as StepStatus


def utc_now() -> datetime:
    """The current time in UTC; the default clock of every ledger."""
    return datetime.now(UTC)


def current_actor() -> str:
    """``user@host`` of this process, the ``who`` of runs and lock holders."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers): fall back to the uid
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


class IntentOutcome(enum.StrEnum):
    """How an intent was resolved. ``abandoned`` means recovery found nothing was done."""

    DONE = "done"
    FAILED = "failed"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class RunInfo:
    """Who started an apply run, when, and from which plan."""

    #: ``user@host`` (see ``current_actor``).
    who: str
    started_at: datetime
    plan_digest: str
    manifest_digest: str
    tool_version: str
    #: What kind of run: ``apply``, ``import``, ``recover`` …
    mode: str = "apply"


@dataclass(frozen=True)
class StepOutcomeRecord:
    """The recorded outcome of one plan step."""

    step_id: str
    #: None only for batched steps (``transfer_projects``).
    tenant: str | None
    action: str
    status: StepStatus
    started_at: datetime
    finished_at: datetime
    message: str = ""
    #: Ids of the resources the step touched, e.g. ``{"project_id": "…", "key_id": 7}``.
    resource_ids: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """One apply run as the ledger recorded it.

    ``result`` and ``finished_at`` are None while the run is going on, and stay None forever
    for a run whose process died (history shows it as interrupted). ``steps`` is None when the
    record came from a listing (``LedgerReader.runs``) and the steps were not loaded.
    """

    run_id: int
    info: RunInfo
    finished_at: datetime | None = None
    result: str | None = None
    summary: Mapping[str, int] = field(default_factory=dict)
    steps: tuple[StepOutcomeRecord, ...] | None = None

    @property
    def interrupted(self) -> bool:
        """True when the run never finished (still running, or its process died)."""
        return self.finished_at is None


@dataclass(frozen=True)
class Intent:
    """Something an apply was about to do, recorded before doing it (write-ahead)."""

    intent_id: int
    tenant: str
    action: str
    detail: Mapping[str, Any]
    created_at: datetime
    resolved_at: datetime | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class DeletedTenant:
    """A tombstone: a tenant whose project was deleted, kept for the audit trail."""

    tenant: str
    project_id: str
    org_id: str
    deleted_at: datetime
    #: Until when Neon can still recover the project (``POST /projects/{id}/recover``).
    recoverable_until: datetime
    note: str = ""


@dataclass(frozen=True)
class AppliedMigration:
    """One row of ``schema_migrations``."""

    version: int
    name: str
    applied_at: datetime
