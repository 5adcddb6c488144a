"""Check, before planning, that the key configured for transfers can transfer at all.

Neon accepts only a personal API key for ``POST /organizations/{id}/projects/transfer``. A
variable that is unset, or that holds an org key by mistake, would fail in the middle of an
apply; finding it here turns every planned transfer into a blocker that says what to fix, and
nothing is applied. The key is asked about (``GET /auth``, one call) only when some tenant's
project sits in another org than its tier wants, so plans without transfers never use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.core.model import DesiredFleet, LedgerView, LiveFleet
from reconciler.credentials import Credentials
from reconciler.errors import ApiClientError
from reconciler.neon import NeonClient

#: ``GET /auth`` ``auth_method`` of a personal API key.
PERSONAL_KEY_METHOD = "api_key_user"


@dataclass(frozen=True)
class TransferKeyStatus:
    """Whether planned transfers can run, and if not, why (for the blocker text)."""

    available: bool
    problem: str = ""


def transfers_needed(desired: DesiredFleet, live: LiveFleet, ledger: LedgerView) -> bool:
    """True when a tenant's live project (by ledger record or name) is in another org."""
    by_name = live.by_name()
    for name, tenant in desired.tenants.items():
        record = ledger.tenants.get(name)
        project = live.projects.get(record.project_id) if record else None
        candidates = [project] if project else by_name.get(tenant.project_name, [])
        if any(p.org_id != tenant.org_id for p in candidates if p is not None):
            return True
    return False


def check_transfer_key(
    client: NeonClient,
    credentials: Credentials,
    desired: DesiredFleet,
    live: LiveFleet,
    ledger: LedgerView,
) -> TransferKeyStatus:
    """Whether the personal key can transfer the projects this plan will want to move."""
    if not credentials.can_transfer:
        return TransferKeyStatus(False)
    if not transfers_needed(desired, live, ledger):
        return TransferKeyStatus(True)
    source = credentials.personal_key_source or "the personal key"
    try:
        auth = client.get_auth(credentials.transfer_key())
    except ApiClientError as exc:
        return TransferKeyStatus(False, f"{source} was refused by Neon: {exc.detail}")
    if auth.auth_method != PERSONAL_KEY_METHOD:
        return TransferKeyStatus(
            False,
            f"{source} holds a key of kind {auth.auth_method}; Neon accepts only personal keys "
            "for transfers",
        )
    return TransferKeyStatus(True)
