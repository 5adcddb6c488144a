"""Use case ``history --prune``: drop ledger history older than the retention, on demand.

The retention comes from ``--older-than`` if given, else from the Fleet manifest's
``policy.history_retention`` (with ``-f``), else the default (90 days). What is pruned and what
never is: ``reconciler.ledger.retention``. ``fleet apply`` and ``fleet drift`` prune the same
way on their own after they succeed; this command is for a one-off clean-up, a dry run, or a
ledger whose fleet rarely applies. Like ``fleet history`` it never creates a ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from reconciler.app.environment import GlobalOptions
from reconciler.app.history import existing_ledger
from reconciler.core.model import DEFAULT_HISTORY_RETENTION_SECONDS
from reconciler.errors import UsageError
from reconciler.ledger import open_ledger
from reconciler.ledger.retention import PruneReport, retention_cutoff
from reconciler.manifests import load_fleet
from reconciler.manifests.checks import MIN_HISTORY_RETENTION_SECONDS
from reconciler.manifests.timing import parse_duration


@dataclass(frozen=True)
class Pruned:
    """What ``history --prune`` did: the ledger, the retention and where it came from, and the
    report (None when the retention is ``never``)."""

    ledger: str
    source: str
    retention_seconds: int | None
    retention_source: str
    report: PruneReport | None


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
        report = ledger.prune_history(retention_cutoff(ledger, retention), dry_run=dry_run)
    return Pruned(shown, choice.source, retention, retention_source, report)


def _retention(fleet_path: Path | None, older_than: int | None) -> tuple[int | None, str]:
    if older_than is not None:
        return older_than, "--older-than"
    if fleet_path is not None:
        seconds = load_fleet(fleet_path).fleet.policy.history_retention_seconds
        return seconds, f"policy.history_retention of the Fleet in {fleet_path}"
    return DEFAULT_HISTORY_RETENTION_SECONDS, "the default; -f MANIFESTS reads the Fleet's policy"


def duration_text(seconds: int) -> str:
    """``90d``, ``2w``, ``36h`` …: the largest unit that divides ``seconds``."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def render_pruned(pruned: Pruned, fmt: str) -> str:
    """The prune as text (headed by the ledger) or as one JSON document."""
    report = pruned.report
    if fmt == "json":
        return json.dumps(_pruned_dict(pruned), indent=2) + "\n"
    lines = [f"Ledger: {pruned.ledger} ({pruned.source})"]
    if pruned.retention_seconds is None or report is None:
        lines.append(f"History retention is never ({pruned.retention_source}): nothing pruned.")
        return "\n".join(lines) + "\n"
    verb = "Would prune" if report.dry_run else "Pruned"
    lines.append(
        f"{verb} history older than {duration_text(pruned.retention_seconds)} "
        f"(before {report.cutoff:%Y-%m-%d %H:%M:%S}Z; {pruned.retention_source}):"
    )
    lines += [
        f"  run steps      {report.run_steps:>7} (of {report.runs} run(s); run summaries kept)",
        f"  intents        {report.intents:>7} (resolved; open intents are never pruned)",
        f"  drift items    {report.drift_items:>7} (resolved)",
        f"  drift reports  {report.drift_reports:>7}",
    ]
    return "\n".join(lines) + "\n"


def _pruned_dict(pruned: Pruned) -> dict[str, object]:
    report = pruned.report
    return {
        "ledger": pruned.ledger,
        "retention_seconds": pruned.retention_seconds,
        "retention_source": pruned.retention_source,
        "dry_run": report.dry_run if report else False,
        "cutoff": report.cutoff.isoformat() if report else None,
        "removed": None
        if report is None
        else {
            "run_steps": report.run_steps,
            "runs": report.runs,
            "intents": report.intents,
            "drift_items": report.drift_items,
            "drift_reports": report.drift_reports,
        },
    }
