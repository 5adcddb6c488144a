"""Use case ``history``: the audit trail of apply runs from the ledger.

History only reads. It says which ledger it read and where that choice came from, and it
never creates a ledger just to find it empty: a SQLite ledger file that does not exist is an
error naming the path (usually the wrong directory, or a missing ``-f``/``--ledger``).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.app.environment import GlobalOptions, LedgerChoice, choose_ledger
from reconciler.errors import LedgerError
from reconciler.ledger import DEFAULT_LEDGER_URL, LEDGER_ENV, open_ledger, postgres_ledger_exists
from reconciler.ledger.retention import pruned_before
from reconciler.ledger.url import SqliteTarget, parse_ledger_url
from reconciler.manifests import load_fleet
from reconciler.render.history import History


def choose_history_ledger(options: GlobalOptions, fleet_path: Path | None) -> LedgerChoice:
    """The ledger in force (``choose_ledger``'s order); the Fleet manifest is read only with
    ``-f`` and only when no flag, sandbox or ``$FLEET_LEDGER`` chose before it."""

    def from_manifest() -> LedgerChoice:
        if fleet_path is None:
            hint = f"the default; name the ledger with -f MANIFESTS, --ledger URL or {LEDGER_ENV}"
            return LedgerChoice(DEFAULT_LEDGER_URL, hint)
        manifest = load_fleet(fleet_path).fleet.ledger_url
        if manifest:
            return LedgerChoice(manifest, f"the Fleet in {fleet_path}")
        return LedgerChoice(
            DEFAULT_LEDGER_URL, f"the default: the Fleet in {fleet_path} names none"
        )

    return choose_ledger(options, from_manifest)


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
    choice = choose_history_ledger(options, fleet_path)
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
