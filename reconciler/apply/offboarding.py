"""Settling revokes and deletes whose outcome is unknown, and finishing an offboarding.

Neon has no idempotency keys, and a write whose answer was lost (``OutcomeUnknown``) or that
failed with a 5xx other than 503 may or may not have happened. Revokes and deletes are read
back instead of guessed, and the ledger follows what Neon says:

* a key is revoked once the org's key list no longer shows it;
* a project is deleted once reading it answers 404.

An offboarding (``delete_project``) drops the tenant's ledger record last, after the project is
gone and every key the record still lists is revoked, so the ledger never loses track of a live
key. The delete handler records a ``delete_project`` intent first; a run that dies half-way
leaves it open and recovery finishes the offboarding with ``finish_offboarding``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from reconciler.errors import ApiError, ApiServerError, NotFound, OutcomeUnknown
from reconciler.ledger import Ledger
from reconciler.neon import NeonClient

#: The intent action the delete handler records before deleting a project.
DELETE_INTENT = "delete_project"


def outcome_unknown(exc: ApiError) -> bool:
    """True when a failed write may still have been performed (lost answer, or a 5xx)."""
    return isinstance(exc, OutcomeUnknown | ApiServerError)


def key_is_live(client: NeonClient, org_key: str, org_id: str, key_id: int) -> bool:
    """Read back whether the org still lists key ``key_id`` (Neon lists live keys only)."""
    return any(listed.id == key_id for listed in client.list_org_api_keys(org_key, org_id))


def revoke_key(client: NeonClient, org_key: str, org_id: str, key_id: int) -> bool:
    """Revoke a key, reading back when the answer is unknown; True once it is gone.

    Already gone (404) counts as revoked. False means the read-back still lists the key, so
    the revoke did not happen and the caller must keep tracking it.
    """
    try:
        client.revoke_org_api_key(org_key, org_id, key_id)
    except NotFound:
        return True
    except ApiError as exc:
        if not outcome_unknown(exc):
            raise
        return not key_is_live(client, org_key, org_id, key_id)
    return True


def forget_key(ledger: Ledger, tenant: str, key_id: int) -> None:
    """Drop key ``key_id`` from the tenant's ledger record (nothing when it is not there)."""
    owned = ledger.tenant(tenant)
    if owned is None or all(k.key_id != key_id for k in owned.keys.values()):
        return
    keys = {name: key for name, key in owned.keys.items() if key.key_id != key_id}
    ledger.upsert_tenant(replace(owned, keys=keys))


def project_is_gone(client: NeonClient, org_key: str, project_id: str) -> bool:
    """Read back a project: True when Neon answers 404."""
    try:
        client.get_project(org_key, project_id)
    except NotFound:
        return True
    return False


def finish_offboarding(
    client: NeonClient,
    org_key_for: Callable[[str], str],
    ledger: Ledger,
    tenant: str,
    project_id: str,
    *,
    note: str,
    recoverable_until: datetime,
) -> list[int]:
    """After ``project_id`` is gone: revoke the keys the record still lists, then forget it.

    Does nothing when the tenant's record no longer points at ``project_id`` (already forgotten,
    or the tenant has a new project since). A key that cannot be revoked raises, leaving the
    record (and the caller's intent) in place for the next run. Returns the revoked key ids.
    """
    owned = ledger.tenant(tenant)
    if owned is None or owned.project_id != project_id:
        return []
    revoked: list[int] = []
    for key in sorted(owned.keys.values(), key=lambda k: k.key_id):
        if not revoke_key(client, org_key_for(key.org_id), key.org_id, key.key_id):
            raise ApiError(
                f"the revoke of key {key.key_id} of tenant {tenant} got no answer and the key "
                "is still live; apply again"
            )
        forget_key(ledger, tenant, key.key_id)
        revoked.append(key.key_id)
    ledger.forget_tenant(tenant, note=note, recoverable_until=recoverable_until)
    return revoked
