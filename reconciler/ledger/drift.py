"""The drift store: ``fleet drift`` reports and since when each drift item has been seen.

Tables come from migration ``v0004_drift``. ``DriftStore.record`` runs in one write
transaction: it adds the report, carries the ``first_seen`` of items still drifting, starts a
new one for items seen for the first time (or again after being resolved), and marks items of
earlier reports that are gone as resolved. The report document is built by the caller once the
"since" times are known (``document`` callback), so it is stored exactly as it was shown.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Sighting:
    """One drift item as the store tracks it (its stable id and what to show in queries)."""

    item_id: str
    tenant: str | None
    kind: str
    path: str


@dataclass(frozen=True)
class StoredReport:
    """A recorded report: when, for which fleet, and its summary counts."""

    report_id: int
    created_at: datetime
    fleet: str
    item_count: int
    summary: Mapping[str, Any]


@dataclass(frozen=True)
class RecordedReport:
    """What ``record`` returns: the report id, each item's first sighting, the stored document."""

    report_id: int
    since: Mapping[str, datetime]
    document: Mapping[str, Any]


#: Builds the report document from the new report's id and every item's "since".
DocumentBuilder = Callable[[int, Mapping[str, datetime]], Mapping[str, Any]]


class DriftStore(abc.ABC):
    """Drift reports and item sightings in the ledger (``Ledger.drift``)."""

    @abc.abstractmethod
    def record(
        self,
        sightings: Sequence[Sighting],
        *,
        fleet: str,
        manifest_digest: str,
        summary: Mapping[str, Any],
        document: DocumentBuilder,
        at: datetime | None = None,
    ) -> RecordedReport:
        """Store a report of ``sightings`` (taken ``at``, default: the ledger's clock)."""

    @abc.abstractmethod
    def open_items(self) -> dict[str, datetime]:
        """Items of the latest reports that are still drifting, with their first sighting."""

    @abc.abstractmethod
    def reports(self, limit: int = 20) -> list[StoredReport]:
        """The latest reports, newest first."""

    @abc.abstractmethod
    def document(self, report_id: int) -> Mapping[str, Any]:
        """The stored JSON document of one report; ``LedgerError`` when there is none."""
