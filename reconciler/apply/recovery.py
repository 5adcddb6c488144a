"""Recover from an apply that died mid-way (SIGKILL, power loss), before planning again.

Writes are recorded as intents before they are sent. An intent still open when the next apply
takes the lock belongs to a run that died; what happened is found out from Neon, never guessed:

* ``create_project``: if a project with the intent's deterministic name exists, the planner
  adopts it (the ledger's view lists the tenant as a pending create) and the adopt step closes
  the intent; if none exists the create never landed, and the intent is closed as abandoned.
* ``create_api_key``: a key's token is shown once. A key minted by a dead run that the ledger
  does not record may never have reached the secret sink, so it is revoked (nothing untracked
  is left behind) and the planner mints a fresh one. A recorded key was delivered first (the
  applier records only after delivery), so its intent is simply closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reconciler.core.model import LiveFleet
from reconciler.credentials import Credentials
from reconciler.errors import NotFound, UsageError
from reconciler.ledger import Intent, IntentOutcome, Ledger
from reconciler.neon import NeonClient


@dataclass(frozen=True)
class RecoveryReport:
    """What recovery found and did, for the run's output."""

    closed: int = 0
    revoked_keys: tuple[str, ...] = ()

    @property
    def did_anything(self) -> bool:
        return bool(self.closed or self.revoked_keys)


def recover(
    client: NeonClient,
    credentials: Credentials,
    ledger: Ledger,
    list_projects: Callable[[], LiveFleet],
) -> RecoveryReport:
    """Settle every open intent; ``list_projects`` reads the managed orgs' projects if needed."""
    intents = ledger.pending_intents()
    if not intents:
        return RecoveryReport()
    project_intents = [i for i in intents if i.action == "create_project"]
    names = {p.name for p in list_projects().projects.values()} if project_intents else set()
    closed = 0
    revoked: list[str] = []
    key_intents = [i for i in intents if i.action == "create_api_key"]
    for intent in project_intents:
        if str(intent.detail.get("name")) not in names:
            ledger.resolve_intent(intent.intent_id, IntentOutcome.ABANDONED)
            closed += 1
        elif (owned := ledger.tenant(intent.tenant)) is not None and owned.project_id:
            # The run died after recording the project but before closing its intent.
            ledger.resolve_intent(intent.intent_id, IntentOutcome.DONE)
            closed += 1
    for org_id, group in _by_org(key_intents).items():
        try:
            key = credentials.org_key(org_id)
        except UsageError:
            continue  # an org no longer managed: leave its intents for a human to read
        listed = client.list_org_api_keys(key, org_id)
        for intent in group:
            owned = ledger.tenant(intent.tenant)
            recorded = {k.key_id for k in owned.keys.values()} if owned else set()
            name = str(intent.detail.get("key_name"))
            outcome = IntentOutcome.ABANDONED
            for found in listed:
                if found.name != name:
                    continue
                if found.id in recorded:
                    outcome = IntentOutcome.DONE
                    continue
                with contextlib.suppress(NotFound):
                    client.revoke_org_api_key(key, org_id, found.id)
                revoked.append(f"{intent.tenant}: {name} (id {found.id})")
            ledger.resolve_intent(intent.intent_id, outcome)
            closed += 1
    return RecoveryReport(closed, tuple(revoked))


def close_create_intents(ledger: Ledger, tenant: str) -> None:
    """Close the open project-create intents of ``tenant`` once its project is recorded."""
    for intent in ledger.pending_intents():
        if intent.tenant == tenant and intent.action == "create_project":
            ledger.resolve_intent(intent.intent_id, IntentOutcome.DONE)


def _by_org(intents: Iterable[Intent]) -> dict[str, list[Intent]]:
    grouped: dict[str, list[Intent]] = {}
    for intent in intents:
        grouped.setdefault(str(intent.detail.get("org_id")), []).append(intent)
    return grouped
