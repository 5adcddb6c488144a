"""Recover from an apply that died mid-way (SIGKILL, power loss), before planning again.

Writes are recorded as intents before they are sent. An intent still open when the next apply
takes the lock belongs to a run that died; what happened is found out from Neon, never guessed:

* ``create_project``: if exactly one project with the intent's deterministic name exists in its
  org (and no other tenant owns it), it is recorded for the tenant, so it stays tracked even if
  the tenant is removed from the manifests before the next plan; if several exist, the planner
  reports it (the ledger's view lists the tenant as a pending create); if none exists the create
  never landed, and the intent is closed as abandoned.
* ``create_api_key``: a key's token is shown once. A key minted by a dead run that the ledger
  does not record may never have reached the secret sink, so it is revoked (nothing untracked
  is left behind) and the planner mints a fresh one. A recorded key was delivered first (the
  applier records only after delivery), so its intent is simply closed. When the create was a
  rotation (the intent names the key it ``replaces``) and the run died after minting, the sink
  may already hold the new token, now revoked, instead of the old one: the old key is revoked
  and dropped from the ledger too, so the planner issues a fresh key the sink is sure to hold.
* ``transfer_project``: the project is looked up in the managed orgs' listings; where it is now
  is recorded for the tenant (the move landed or it did not), so the ledger never keeps a moved
  project under its old org. A project found in no completely read org leaves the intent open.
* ``reset_role_password`` (``fleet secrets rotate``): the password may have changed while the
  sink still holds the old one, so the deliveries of the secrets the intent names are forgotten
  and the next plan delivers them again (from what Neon answers then).
* ``delete_project``: if the project is gone, the offboarding is finished (the keys the record
  still lists are revoked, then the record is dropped); if it still exists the delete never
  happened, the intent is closed as abandoned and the planner plans the offboarding again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from reconciler.apply.offboarding import (
    DELETE_INTENT,
    finish_offboarding,
    forget_key,
    revoke_key,
)
from reconciler.apply.secret_steps import RESET_INTENT
from reconciler.apply.transfer_steps import TRANSFER_INTENT
from reconciler.core.matching import project_owners
from reconciler.core.model import LiveFleet, OwnedKey, OwnedTenant
from reconciler.credentials import Credentials
from reconciler.errors import UsageError
from reconciler.ledger import Intent, IntentOutcome, Ledger
from reconciler.ledger.sql import NEON_RECOVERY_WINDOW as RECOVERY_WINDOW
from reconciler.neon import NeonClient, OrgApiKey
from reconciler.neon.mutators import NeonWriter


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
    owns: Callable[[str], bool] | None = None,
) -> RecoveryReport:
    """Settle every open intent; ``list_projects`` reads the managed orgs' projects if needed.

    ``owns`` limits recovery to the intents of some tenants (a shard's, ``--shard i/n``): the
    intents of other shards may belong to runs that are alive and hold their shard's lock.
    """
    intents = [i for i in ledger.pending_intents() if owns is None or owns(i.tenant)]
    if not intents:
        return RecoveryReport()
    project_intents = [i for i in intents if i.action == "create_project"]
    delete_intents = [i for i in intents if i.action == DELETE_INTENT]
    transfer_intents = [i for i in intents if i.action == TRANSFER_INTENT]
    needs_listing = project_intents or delete_intents or transfer_intents
    live = list_projects() if needs_listing else LiveFleet(projects={})
    names = {p.name for p in live.projects.values()}
    closed = 0
    revoked: list[str] = []
    key_intents = [i for i in intents if i.action == "create_api_key"]
    owners = set(project_owners(ledger.view())) if project_intents else set()
    for intent in project_intents:
        if str(intent.detail.get("name")) not in names:
            ledger.resolve_intent(intent.intent_id, IntentOutcome.ABANDONED)
            closed += 1
        elif (owned := ledger.tenant(intent.tenant)) is not None and owned.project_id:
            # The run died after recording the project but before closing its intent.
            ledger.resolve_intent(intent.intent_id, IntentOutcome.DONE)
            closed += 1
        elif owned is None and _record_created(ledger, live, owners, intent):
            closed += 1
    for org_id, group in _by_org(key_intents).items():
        try:
            key = credentials.org_key(org_id)
        except UsageError:
            continue  # an org no longer managed: leave its intents for a human to read
        listed = client.list_org_api_keys(key, org_id)
        for intent in group:
            # Recovery revokes what a dead run left untracked: it writes.
            writer = NeonWriter.over(client)
            if _settle_key(writer, credentials, ledger, (org_id, key), listed, intent, revoked):
                closed += 1
    for intent in transfer_intents:
        closed += _settle_transfer(ledger, live, intent)
    for intent in delete_intents:
        writer = NeonWriter.over(client)  # finishing an offboarding revokes keys
        closed += _settle_delete(writer, credentials, ledger, live, intent, revoked)
    for intent in intents:
        if intent.action == RESET_INTENT:
            secrets = intent.detail.get("secrets", ())
            ledger.deliveries.forget(intent.tenant, [str(s) for s in secrets])
            ledger.resolve_intent(intent.intent_id, IntentOutcome.DONE)
            closed += 1
    return RecoveryReport(closed, tuple(revoked))


def _settle_transfer(ledger: Ledger, live: LiveFleet, intent: Intent) -> int:
    """Record where an interrupted transfer left the project; 1 when its intent was closed."""
    project_id = str(intent.detail.get("project_id"))
    source = str(intent.detail.get("source_org_id"))
    destination = str(intent.detail.get("destination_org_id"))
    project = live.projects.get(project_id)
    if project is None:
        if {source, destination} <= live.observed_orgs:
            # In neither org: deleted since. The planner sees the tenant's project missing.
            ledger.resolve_intent(intent.intent_id, IntentOutcome.ABANDONED)
            return 1
        return 0  # an org could not be read completely: leave it for the next run
    owned = ledger.tenant(intent.tenant)
    if owned is not None and owned.project_id == project_id and owned.org_id != project.org_id:
        ledger.upsert_tenant(replace(owned, org_id=project.org_id))
    moved = project.org_id == destination
    ledger.resolve_intent(
        intent.intent_id, IntentOutcome.DONE if moved else IntentOutcome.ABANDONED
    )
    return 1


def _record_created(ledger: Ledger, live: LiveFleet, owners: set[str], intent: Intent) -> bool:
    """Record the one project a dead run's create made, so no manifest change can orphan it.

    Left to the planner (which adopts by name, or reports ambiguity) unless exactly one project
    of that name is in the intent's org and no other tenant's record owns it. Without this, a
    tenant removed from the manifests after its create was interrupted would never be adopted
    and its project would stay live and untracked.
    """
    name, org_id = str(intent.detail.get("name")), str(intent.detail.get("org_id"))
    found = [p for p in live.projects.values() if p.name == name and p.org_id == org_id]
    if len(found) != 1 or found[0].id in owners:
        return False
    owners.add(found[0].id)  # ``owners``: the ledger's, read once for every intent
    ledger.upsert_tenant(OwnedTenant(tenant=intent.tenant, project_id=found[0].id, org_id=org_id))
    ledger.resolve_intent(intent.intent_id, IntentOutcome.DONE)
    return True


def _settle_key(
    client: NeonWriter,
    credentials: Credentials,
    ledger: Ledger,
    org: tuple[str, str],
    listed: Sequence[OrgApiKey],
    intent: Intent,
    revoked: list[str],
) -> bool:
    """Revoke what an interrupted key create left untracked; True when its intent was closed."""
    org_id, key = org
    owned = ledger.tenant(intent.tenant)
    recorded = {k.key_id for k in owned.keys.values()} if owned else set()
    name = str(intent.detail.get("key_name"))
    replaced = _recorded_key(owned, intent.detail.get("replaces"))
    named = [found for found in listed if found.name == name]
    untracked = [found for found in named if found.id not in recorded]
    delivered = any(f.id in recorded and f.id != getattr(replaced, "key_id", None) for f in named)
    if untracked and replaced is not None:
        # The sink may hold an untracked key's token rather than the replaced key's: the
        # replaced key goes too and a fresh one is issued. It goes first, so that a run dying
        # half-way still finds the untracked keys that prove the sink is in doubt.
        try:
            other = key if replaced.org_id == org_id else credentials.org_key(replaced.org_id)
        except UsageError:
            pass  # an org no longer managed: out of reach, but no longer trusted either
        else:
            if not revoke_key(client, other, replaced.org_id, replaced.key_id):
                return False  # still live: keep the intent open for the next run
            revoked.append(f"{intent.tenant}: {name} (id {replaced.key_id}, replaced)")
        forget_key(ledger, intent.tenant, replaced.key_id)
    settled = True
    for found in untracked:
        if revoke_key(client, key, org_id, found.id):
            revoked.append(f"{intent.tenant}: {name} (id {found.id})")
        else:
            settled = False  # still live: keep the intent open for the next run
    if settled:
        outcome = IntentOutcome.DONE if delivered else IntentOutcome.ABANDONED
        ledger.resolve_intent(intent.intent_id, outcome)
    return settled


def _settle_delete(
    client: NeonWriter,
    credentials: Credentials,
    ledger: Ledger,
    live: LiveFleet,
    intent: Intent,
    revoked: list[str],
) -> int:
    """Finish or abandon one interrupted offboarding; 1 when its intent was closed."""
    project_id = str(intent.detail.get("project_id"))
    org_id = str(intent.detail.get("org_id"))
    if project_id in live.projects:
        ledger.resolve_intent(intent.intent_id, IntentOutcome.ABANDONED)
        return 1
    if org_id not in live.observed_orgs:
        return 0  # the org could not be read completely: leave the intent for the next run
    try:
        done = finish_offboarding(
            client,
            credentials.org_key,
            ledger,
            intent.tenant,
            project_id,
            note="deleted by fleet apply (prune); finished by recovery",
            recoverable_until=intent.created_at + RECOVERY_WINDOW,
        )
    except UsageError:
        return 0  # a recorded key of an org no longer managed: the plan shows what is left
    revoked.extend(f"{intent.tenant}: key id {key_id}" for key_id in done)
    ledger.resolve_intent(intent.intent_id, IntentOutcome.DONE)
    return 1


def _recorded_key(owned: OwnedTenant | None, key_id: object) -> OwnedKey | None:
    """The key the tenant's record lists with id ``key_id``, if any."""
    if owned is None or not isinstance(key_id, int):
        return None
    return next((k for k in owned.keys.values() if k.key_id == key_id), None)


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
