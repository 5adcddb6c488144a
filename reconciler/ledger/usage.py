"""The usage store: consumption samples and per-org sync marks (migration ``v0003_usage``).

Writing a sample is an upsert on (project, metric, granularity, timeframe start), so syncing a
window twice, or a window overlapping the last one, never counts anything twice: a timeframe
that was still filling up (today, this hour) simply gets its newer value. Sync marks only move
forward, so a late or repeated run can never make the next cron run skip data.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class UsageSample:
    """One metric value of one project over one timeframe."""

    project_id: str
    metric: str
    granularity: str
    timeframe_start: datetime
    timeframe_end: datetime
    value: int
    org_id: str
    #: The tenant the project belonged to when synced (None: not a managed tenant).
    tenant: str | None = None


class UsageStore(abc.ABC):
    """Usage samples and per-org sync marks in the ledger (``Ledger.usage``)."""

    @abc.abstractmethod
    def upsert(self, samples: Sequence[UsageSample]) -> int:
        """Store ``samples`` in one transaction (replacing same-key ones); return how many."""

    @abc.abstractmethod
    def samples(
        self,
        granularity: str,
        start: datetime,
        end: datetime,
        *,
        org_ids: Iterable[str] | None = None,
    ) -> list[UsageSample]:
        """Samples of ``granularity`` whose timeframe starts in ``[start, end)``, oldest first."""

    @abc.abstractmethod
    def known_tenants(self, org_id: str) -> dict[str, str]:
        """Project id → tenant as recorded by earlier syncs of ``org_id``."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many samples the store holds (all granularities)."""

    @abc.abstractmethod
    def synced_until(self, org_id: str, granularity: str) -> datetime | None:
        """Where the next sync of ``org_id`` at ``granularity`` resumes (None: never synced)."""

    @abc.abstractmethod
    def mark_synced(self, org_id: str, granularity: str, until: datetime) -> datetime:
        """Record that everything before ``until`` is final; never moves a mark back.

        Returns the mark in force afterwards.
        """
