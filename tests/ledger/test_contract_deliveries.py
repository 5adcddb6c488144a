"""The delivery store keeps fingerprints of delivered secrets, never the secrets, per backend."""

from __future__ import annotations

import pytest

from reconciler.core.model import OwnedTenant
from reconciler.errors import LedgerError
from reconciler.ledger import Ledger
from reconciler.ledger.deliveries import Delivery

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def test_a_delivery_is_recorded_replaced_and_seen_in_the_view(ledger: Ledger):
    store = ledger.deliveries
    store.record(Delivery("cust-1", "app-direct", "connection_secret", A, A))
    store.record(Delivery("cust-1", "app-direct", "connection_secret", B, A))
    store.record(Delivery("cust-2", "neon-auth", "neon_auth", A, B))
    assert store.of_tenant("cust-1") == {
        "app-direct": Delivery("cust-1", "app-direct", "connection_secret", B, A)
    }
    assert ledger.view().deliveries == {"cust-1": {"app-direct": B}, "cust-2": {"neon-auth": A}}
    assert store.forget("cust-1", ["app-direct", "gone"]) == 1
    assert ledger.view().deliveries == {"cust-2": {"neon-auth": A}}


def test_forgetting_a_tenant_forgets_its_deliveries(ledger: Ledger):
    ledger.upsert_tenant(OwnedTenant("cust-1", "proj-1", "org-1"))
    ledger.deliveries.record(Delivery("cust-1", "app", "connection_secret", A, A))
    assert ledger.forget_tenant("cust-1")
    assert ledger.view().deliveries == {}


@pytest.mark.parametrize(
    "delivery",
    [
        Delivery("cust-1", "app", "connection_secret", "npg_secretpassword", A),
        Delivery("cust-1", "app", "connection_secret", A, "postgresql://r:pw@h/db"),
        Delivery("cust-1", "npg_abcdef", "connection_secret", A, A),
    ],
)
def test_only_fingerprints_are_stored(ledger: Ledger, delivery: Delivery):
    with pytest.raises(LedgerError, match=r"refusing|fingerprint"):
        ledger.deliveries.record(delivery)
    assert ledger.view().deliveries == {}
