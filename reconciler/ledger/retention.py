"""History retention: prune the ledger's audit history older than ``policy.history_retention``.

What is pruned, each by one indexed ``DELETE`` in one write transaction:

* the **step rows** of apply runs that finished before the cutoff. The run row itself (who,
  when, plan digest, result, summary counts) is kept forever: it is one small row per apply and
  it is the audit trail's spine. Runs that never finished (running, or interrupted by a crash)
  keep their steps whatever their age: they are what an operator investigates;
* **intents** resolved before the cutoff. Open intents are never touched: recovery needs them;
* **drift items** resolved before the cutoff (an item still drifting keeps its "since"), and
  **drift reports** created before the cutoff that no remaining item points at.

Never pruned: owned tenants, tombstones, checkpoints (they have their own retention), usage
samples, meta. The cutoff of the latest real prune is kept in ``meta`` (``PRUNED_BEFORE_KEY``)
so ``fleet history`` can say a run's steps were pruned rather than show it empty. SQLite reuses
the freed pages for new rows; the file does not shrink without ``VACUUM``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.errors import LedgerCorruptedError, LedgerError
from reconciler.ledger.base import Ledger, LedgerReader
from reconciler.ledger.records import PRUNED_BEFORE_KEY, PruneReport

__all__ = [
    "PRUNED_BEFORE_KEY",
    "PruneReport",
    "prune_by_policy",
    "pruned_before",
    "retention_cutoff",
]


def retention_cutoff(ledger: LedgerReader, retention_seconds: int) -> datetime:
    """The moment before which history is pruned: the ledger's clock minus the retention."""
    if retention_seconds < 1:
        raise LedgerError(f"a history retention must be positive, not {retention_seconds}s")
    return ledger.now() - timedelta(seconds=retention_seconds)


def prune_by_policy(ledger: Ledger, retention_seconds: int | None) -> PruneReport | None:
    """Prune what ``policy.history_retention`` no longer keeps; None when it is ``never``."""
    if retention_seconds is None:
        return None
    return ledger.prune_history(retention_cutoff(ledger, retention_seconds))


def pruned_before(ledger: LedgerReader) -> datetime | None:
    """The latest cutoff before which a prune removed rows, or None if none ever did."""
    text = ledger.get_meta(PRUNED_BEFORE_KEY)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LedgerCorruptedError(
            ledger.describe(), "meta", f"key {PRUNED_BEFORE_KEY!r}", "value", "not an ISO 8601 time"
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
