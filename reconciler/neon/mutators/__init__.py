"""``NeonWriter``: the only way to change Neon, and only ``reconciler.apply`` may build one.

``NeonClient`` reads; ``NeonWriter`` is a ``NeonClient`` that also creates, updates, deletes,
transfers, revokes, snapshots and restores. An import-linter contract (pyproject.toml) forbids
every package but ``reconciler.apply`` (and this one) to import this module, so a use case in
``reconciler.app`` cannot mutate Neon behind the applier's lock, intents and run history.

A writer made with ``NeonWriter.over(reader)`` shares the reader's connection pool, rate
limiter, retries and call statistics, so one process still has one budget per Neon account.
"""

from __future__ import annotations

from reconciler.neon.client import NeonClient
from reconciler.neon.mutators.catalog import CatalogWrites
from reconciler.neon.mutators.orgs import OrgWrites
from reconciler.neon.mutators.projects import ProjectWrites
from reconciler.neon.mutators.snapshots import SnapshotWrites

__all__ = ["NeonWriter"]


class NeonWriter(ProjectWrites, OrgWrites, SnapshotWrites, CatalogWrites, NeonClient):
    """A ``NeonClient`` that may also change Neon (construct it only in ``reconciler.apply``)."""

    @classmethod
    def over(cls, reader: NeonClient) -> NeonWriter:
        """A writer sharing ``reader``'s HTTP machinery (``reader`` itself if it is a writer)."""
        if isinstance(reader, NeonWriter):
            return reader
        writer = cls.__new__(cls)
        writer._share_machinery(reader)
        return writer
