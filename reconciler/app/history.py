"""Use case ``history``: the audit trail of apply runs from the ledger."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.app.environment import GlobalOptions
from reconciler.ledger import RunRecord, choose_ledger_url, open_ledger
from reconciler.manifests import load_fleet


def render_history(
    options: GlobalOptions, fleet_path: Path | None, run_id: int | None, limit: int, fmt: str
) -> str:
    """Recent runs (or one run with its steps) as text or JSON."""
    manifest_ledger = load_fleet(fleet_path).fleet.ledger_url if fleet_path else None
    if options.sandbox and not options.ledger_url:
        url = f"sqlite:///{options.workdir / '.fleet' / 'sandbox-ledger.db'}"
    else:
        url = choose_ledger_url(options.ledger_url, options.environ, manifest_ledger)
    with open_ledger(url, base_dir=options.workdir) as ledger:
        runs = [ledger.run(run_id)] if run_id is not None else ledger.runs(limit)
    if fmt == "json":
        return json.dumps([_run_dict(r) for r in runs], indent=2) + "\n"
    if not runs:
        return "No apply runs recorded yet.\n"
    lines: list[str] = []
    for run in runs:
        status = run.result or ("interrupted" if run.interrupted else "running")
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run.summary.items()))
        lines.append(
            f"#{run.run_id} {run.info.started_at:%Y-%m-%d %H:%M:%S}Z {status:<11} "
            f"by {run.info.who} (v{run.info.tool_version}) plan {run.info.plan_digest[:12]}"
            + (f" — {counts}" if counts else "")
        )
        for step in run.steps or ():
            tail = f": {step.message}" if step.message else ""
            lines.append(f"    {step.status:<9} {step.step_id}{tail}")
    return "\n".join(lines) + "\n"


def _run_dict(run: RunRecord) -> dict[str, object]:
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
    }
