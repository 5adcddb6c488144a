"""Use case ``history --prune``: drop ledger history older than the retention, on demand.

The retention comes from ``--older-than`` if given, else from the Fleet manifest's
``policy.history_retention`` (with ``-f``), else the default (90 days). What is pruned and what
never is: ``reconciler.ledger.retention``. ``fleet apply`` and ``fleet drift`` prune the same
way on their own after they succeed; this command is for a one-off clean-up, a dry run, or a
ledger whose fleet rarely applies. Like ``fleet history`` it never creates a ledger.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.app.environment import GlobalOptions
from reconciler.app.history import existing_ledger
from reconciler.core.model import DEFAULT_HISTORY_RETENTION_SECONDS
from reconciler.errors import UsageError
from reconciler.ledger import open_ledger
from reconciler.ledger.retention import prune_history, retention_cutoff
from reconciler.manifests import load_fleet
from reconciler.manifests.checks import MIN_HISTORY_RETENTION_SECONDS
from reconciler.manifests.timing import parse_duration
from reconciler.render.history import Pruned


def parse_older_than(text: str) -> int:
    """Seconds of ``--older-than``; a ``UsageError`` naming the option when it is no duration
    or shorter than a day (the same floor as ``policy.history_retention``)."""
    seconds = parse_duration(text)
    if seconds is None:
        raise UsageError(f"--older-than {text!r}: must be a duration such as 90d or 12w")
    if seconds < MIN_HISTORY_RETENTION_SECONDS:
        raise UsageError(f"--older-than {text}: shorter than the minimum 1d")
    return seconds


def prune(
    options: GlobalOptions,
    fleet_path: Path | None,
    *,
    older_than: int | None = None,
    dry_run: bool = False,
) -> Pruned:
    """Prune (or with ``dry_run`` count) the chosen ledger's history older than the retention."""
    retention, retention_source = _retention(fleet_path, older_than)
    choice, shown = existing_ledger(options, fleet_path)
    if retention is None:
        return Pruned(shown, choice.source, None, retention_source, None)
    with open_ledger(choice.url, base_dir=options.workdir) as ledger:
        report = prune_history(ledger, retention_cutoff(ledger, retention), dry_run=dry_run)
    return Pruned(shown, choice.source, retention, retention_source, report)


def _retention(fleet_path: Path | None, older_than: int | None) -> tuple[int | None, str]:
    if older_than is not None:
        return older_than, "--older-than"
    if fleet_path is not None:
        seconds = load_fleet(fleet_path).fleet.policy.history_retention_seconds
        return seconds, f"policy.history_retention of the Fleet in {fleet_path}"
    return DEFAULT_HISTORY_RETENTION_SECONDS, "the default; -f MANIFESTS reads the Fleet's policy"
