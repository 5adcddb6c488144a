"""Use case ``history``: the audit trail of apply runs from the ledger.

History only reads. It says which ledger it read and where that choice came from, and it
never creates a ledger just to find it empty: a SQLite ledger file that does not exist is an
error naming the path (usually the wrong directory, or a missing ``-f``/``--ledger``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reconciler.app.environment import GlobalOptions
from reconciler.errors import LedgerError
from reconciler.ledger import (
    DEFAULT_LEDGER_URL,
    LEDGER_ENV,
    RunRecord,
    open_ledger,
    postgres_ledger_exists,
)
from reconciler.ledger.retention import pruned_before
from reconciler.ledger.url import SqliteTarget, ledger_from_environment, parse_ledger_url
from reconciler.manifests import load_fleet


@dataclass(frozen=True)
class LedgerChoice:
    """The ledger a read-only command uses: its URL and what chose it (for messages)."""

    url: str
    source: str


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


def choose_ledger(options: GlobalOptions, fleet_path: Path | None) -> LedgerChoice:
    """The ledger in force, in the order every command uses: ``--ledger``, then the sandbox's
    own, then ``$FLEET_LEDGER``, then the Fleet manifest's (with ``-f``), then the default."""
    if options.ledger_url:
        return LedgerChoice(options.ledger_url, "--ledger")
    if options.sandbox:
        return LedgerChoice(
            f"sqlite:///{options.workdir / '.fleet' / 'sandbox-ledger.db'}", "the sandbox"
        )
    from_environment = ledger_from_environment(options.environ)
    if from_environment is not None:
        return LedgerChoice(from_environment, LEDGER_ENV)
    if fleet_path is None:
        hint = f"the default; name the ledger with -f MANIFESTS, --ledger URL or {LEDGER_ENV}"
        return LedgerChoice(DEFAULT_LEDGER_URL, hint)
    manifest = load_fleet(fleet_path).fleet.ledger_url
    if manifest:
        return LedgerChoice(manifest, f"the Fleet in {fleet_path}")
    return LedgerChoice(DEFAULT_LEDGER_URL, f"the default: the Fleet in {fleet_path} names none")


def read_history(
    options: GlobalOptions, fleet_path: Path | None, run_id: int | None, limit: int
) -> History:
    """Recent runs (or one run with its steps) of the chosen ledger, which must exist."""
    choice, shown = existing_ledger(options, fleet_path)
    with open_ledger(choice.url, base_dir=options.workdir) as ledger:
        runs = [ledger.run(run_id)] if run_id is not None else ledger.runs(limit)
        cutoff = pruned_before(ledger)
    return History(shown, choice.source, tuple(runs), cutoff)


def existing_ledger(options: GlobalOptions, fleet_path: Path | None) -> tuple[LedgerChoice, str]:
    """The chosen ledger and how to show it; ``LedgerError`` when it does not exist."""
    choice = choose_ledger(options, fleet_path)
    target = parse_ledger_url(choice.url, base_dir=options.workdir)
    if not isinstance(target, SqliteTarget):
        # Opening a PostgreSQL ledger creates its schema and tables: look before opening.
        if not postgres_ledger_exists(choice.url):
            raise LedgerError(
                f"no ledger in {target.display} ({choice.source}); nothing was created"
            )
        return choice, target.display
    shown = str(target.path) if target.path is not None else ":memory:"
    # Opening a SQLite ledger creates it; a read must not leave an empty ledger behind.
    if target.path is not None and not target.path.is_file():
        raise LedgerError(f"no ledger at {shown} ({choice.source}); nothing was created")
    return choice, shown


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
