"""``fleet history`` output: the runs a ledger recorded and what ``--prune`` removed, as text
headed by the ledger read, or as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from reconciler.ledger import RunRecord
from reconciler.ledger.retention import PruneReport


@dataclass(frozen=True)
class History:
    """The runs read, and from which ledger (``ledger``: a path or a redacted URL)."""

    ledger: str
    source: str
    runs: tuple[RunRecord, ...]
    #: Runs that finished before this had their step rows pruned (``ledger.retention``).
    pruned_before: datetime | None = None

    def steps_pruned(self, run: RunRecord) -> bool:
        """True when ``run``'s steps were loaded, are gone, and retention removed them."""
        cutoff, finished = self.pruned_before, run.finished_at
        return run.steps == () and cutoff is not None and finished is not None and finished < cutoff


def render_history(history: History, fmt: str) -> str:
    """The runs as text (headed by the ledger read) or as a JSON list."""
    runs = history.runs
    if fmt == "json":
        return json.dumps([_run_dict(r, history) for r in runs], indent=2) + "\n"
    lines = [f"Ledger: {history.ledger} ({history.source})"]
    if not runs:
        return "\n".join([*lines, "No apply runs recorded yet."]) + "\n"
    for run in runs:
        status = run.result or ("interrupted" if run.interrupted else "running")
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run.summary.items()))
        lines.append(
            f"#{run.run_id} {run.info.started_at:%Y-%m-%d %H:%M:%S}Z {status:<11} "
            f"by {run.info.who} (v{run.info.tool_version}) plan {run.info.plan_digest[:12]}"
            + (f" — {counts}" if counts else "")
        )
        if history.steps_pruned(run):
            lines.append("    (step records pruned by history retention; summary kept)")
        for step in run.steps or ():
            tail = f": {step.message}" if step.message else ""
            lines.append(f"    {step.status:<9} {step.step_id}{tail}")
    return "\n".join(lines) + "\n"


def _run_dict(run: RunRecord, history: History) -> dict[str, object]:
    return {
        "run_id": run.run_id,
        "who": run.info.who,
        "started_at": run.info.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "result": run.result,
        "plan_digest": run.info.plan_digest,
        "manifest_digest": run.info.manifest_digest,
        "tool_version": run.info.tool_version,
        "summary": dict(run.summary),
        "steps": [
            {
                "step_id": s.step_id,
                "tenant": s.tenant,
                "action": s.action,
                "status": str(s.status),
                "message": s.message,
                "resource_ids": dict(s.resource_ids),
            }
            for s in run.steps or ()
        ],
        "steps_pruned": history.steps_pruned(run),
    }


@dataclass(frozen=True)
class Pruned:
    """What ``history --prune`` did: the ledger, the retention and where it came from, and the
    report (None when the retention is ``never``)."""

    ledger: str
    source: str
    retention_seconds: int | None
    retention_source: str
    report: PruneReport | None


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
