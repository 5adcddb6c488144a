"""Databases, roles and Neon Auth are read only for tenants that manage them, after branches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from reconciler.core.catalog import AuthSpec, DatabaseSpec, LiveDatabase, LiveRole
from reconciler.core.fingerprint import fingerprint
from reconciler.core.model import DesiredFleet, LedgerView, Sourced
from reconciler.credentials import Credentials
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.neon import NeonClient, RateLimiter
from reconciler.observe import needs_for, observe
from tests.checkpoints.conftest import ORG, ORG_KEY, SEED, FakeClock
from tests.core.factories import desired, live_project_for, tenant
from tests.core.factories import live as live_of

CREDENTIALS = Credentials(org_keys={ORG: ORG_KEY, "org-paid-1": "org-paid-key"})


@pytest.fixture
def client() -> Iterator[NeonClient]:
    clock = FakeClock()
    emu = Emulator(None, seed_from_mapping(SEED), clock=clock, sleep=lambda _s: None)
    with NeonClient(
        "http://emulator.test/api/v2",
        transport=httpx.WSGITransport(app=emu),
        limiter=RateLimiter(clock=clock, sleep=clock.advance),
        sleep=clock.advance,
        clock=clock,
    ) as neon:
        yield neon
    emu.close()


def _fleet() -> DesiredFleet:
    managed = replace(
        tenant("tenant-1"),
        databases=Sourced((DatabaseSpec("neondb", "neondb_owner"),), "tier free"),
        auth=Sourced(AuthSpec("better_auth", "neondb"), "tenant tenant-1"),
    )
    return desired(managed, replace(tenant("paid-1", tier="paid")))


def test_only_managing_tenants_get_their_catalog_read(client: NeonClient):
    fleet = _fleet()
    live, needs = observe(
        client,
        CREDENTIALS,
        [ORG, "org-paid-1"],
        lambda listed: needs_for(fleet, LedgerView(), listed),
    )
    assert needs.catalogs == needs.auth == frozenset({"tenant-1"})
    assert "tenant-1" in needs.branches and "paid-1" not in needs.branches
    catalog = live.projects["tenant-1"].catalog
    assert catalog is not None
    assert catalog.databases == (LiveDatabase("neondb", "neondb_owner"),)
    assert catalog.roles == (LiveRole("neondb_owner"),)
    assert catalog.auth_database is None and catalog.auth_observed
    assert live.projects["paid-1"].catalog is None
    per_route = client.stats.snapshot().requests
    assert per_route["GET /projects/{project_id}/branches/{branch_id}/databases"] == 1
    assert per_route["GET /projects/{project_id}/branches/{branch_id}/roles"] == 1
    assert per_route["GET /projects/{project_id}/branches/{branch_id}/auth"] == 1


def test_the_catalog_counts_in_the_fingerprint_only_when_observed(client: NeonClient):
    fleet = _fleet()
    live, _ = observe(
        client, CREDENTIALS, [ORG], lambda listed: needs_for(fleet, LedgerView(), listed)
    )
    project = live.projects["tenant-1"]
    unobserved = replace(project, catalog=None)
    assert fingerprint(project, None) != fingerprint(unobserved, None)


def test_a_recorded_auth_delivery_keeps_auth_observed_after_it_is_undeclared():
    plain = desired(tenant("tenant-1"))
    snapshot = live_of(live_project_for(plain.tenants["tenant-1"]))
    pid = next(iter(snapshot.projects))
    view = LedgerView(deliveries={"tenant-1": {"neon-auth": "sha256:" + "a" * 64}})
    needs = needs_for(plain, view, snapshot)
    assert pid in needs.catalogs and pid in needs.auth
    assert needs_for(plain, LedgerView(), snapshot).catalogs == frozenset()
