"""The delivery store: what neon-fleet last delivered to the secret sink, as fingerprints.

Tables come from migration ``v0008_delivered_secrets``. A row per (tenant, secret name) holds the
``shape`` fingerprint (the secret's observable description: the planner compares it with what
it would deliver now, so an endpoint change or a transfer re-delivers) and the ``payload``
fingerprint (the whole document, password included; a rotation changes it). Neither is the
secret: both are sha256 digests, and the values are checked by ``reject_secrets`` all the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from reconciler.errors import LedgerError
from reconciler.ledger.guard import reject_secrets
from reconciler.ledger.sql_access import SqlAccess

_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Delivery:
    """One delivered secret: whose, which, of what kind, and its two fingerprints."""

    tenant: str
    name: str
    kind: str  # "connection_secret" | "neon_auth"
    shape: str
    payload: str


class DeliveryStore:
    """Delivered-secret fingerprints in a ledger (SQLite or PostgreSQL): ``Ledger.deliveries``."""

    def __init__(self, ledger: SqlAccess) -> None:
        self._ledger = ledger

    def record(self, delivery: Delivery, *, at: datetime | None = None) -> None:
        """Remember ``delivery`` (replacing the tenant's earlier row of that name)."""
        for fingerprint in (delivery.shape, delivery.payload):
            if not _FINGERPRINT.match(fingerprint):
                raise LedgerError("a delivery fingerprint must be sha256:<64 hex digits>")
        reject_secrets({"tenant": delivery.tenant, "name": delivery.name}, "delivery")
        ledger = self._ledger
        moment = ledger.time_in(at or ledger.now())
        with ledger.transaction(write=True) as tx:
            tx.execute(
                "INSERT INTO delivered_secrets (tenant, name, kind, shape, payload, delivered_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, name) DO UPDATE SET"
                " kind = excluded.kind, shape = excluded.shape, payload = excluded.payload,"
                " delivered_at = excluded.delivered_at",
                (
                    delivery.tenant,
                    delivery.name,
                    delivery.kind,
                    delivery.shape,
                    delivery.payload,
                    moment,
                ),
            )

    def forget(self, tenant: str, names: Iterable[str] | None = None) -> int:
        """Drop the rows of ``tenant`` (only ``names`` when given); returns how many went."""
        with self._ledger.transaction(write=True) as tx:
            if names is None:
                return tx.execute("DELETE FROM delivered_secrets WHERE tenant = ?", (tenant,))
            return sum(
                tx.execute(
                    "DELETE FROM delivered_secrets WHERE tenant = ? AND name = ?", (tenant, name)
                )
                for name in sorted(set(names))
            )

    def of_tenant(self, tenant: str) -> dict[str, Delivery]:
        """The tenant's deliveries by secret name."""
        return self.all().get(tenant, {})

    def all(self) -> dict[str, dict[str, Delivery]]:
        """Every delivery, tenant → secret name → row."""
        with self._ledger.transaction() as tx:
            rows = tx.all(
                "SELECT tenant, name, kind, shape, payload FROM delivered_secrets"
                " ORDER BY tenant, name"
            )
        found: dict[str, dict[str, Delivery]] = {}
        for tenant, name, kind, shape, payload in rows:
            row = Delivery(str(tenant), str(name), str(kind), str(shape), str(payload))
            found.setdefault(row.tenant, {})[row.name] = row
        return found


def shapes(deliveries: Mapping[str, Mapping[str, Delivery]]) -> dict[str, dict[str, str]]:
    """tenant → secret name → shape fingerprint (what ``LedgerView.deliveries`` holds)."""
    return {
        tenant: {name: row.shape for name, row in rows.items()}
        for tenant, rows in deliveries.items()
    }
