"""Which tenants an incremental plan reads in full, and which details that costs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from reconciler.app.planning import quiet_list_only_warnings, refresh_counts
from reconciler.core.model import (
    BranchSpec,
    DesiredTenant,
    LedgerView,
    LiveFleet,
    OwnedKey,
    OwnedTenant,
)
from reconciler.core.plan_contract import REFRESH_MODES
from reconciler.observe import DetailNeeds, needs_for, tenants_to_refresh
from tests.core.factories import (
    ORG_FREE,
    ORG_PAID,
    desired,
    key_for,
    ledger,
    live,
    live_project_for,
    owned,
    tenant,
)


def converged(t: DesiredTenant, **changes: Any) -> OwnedTenant:
    """The ledger record of a tenant whose last apply converged on its current manifests."""
    return replace(owned(t, org_id=t.org_id), manifest_digest=t.digest, **changes)


def _fleet() -> tuple[list[DesiredTenant], LiveFleet, LedgerView]:
    tenants = [tenant(f"cust-{n}") for n in range(4)]
    return tenants, live(*(live_project_for(t) for t in tenants)), ledger(*map(converged, tenants))


def test_the_modes_are_changed_and_all() -> None:
    assert REFRESH_MODES == ("changed", "all")


def test_a_converged_fleet_needs_no_tenant_refreshed() -> None:
    tenants, snapshot, view = _fleet()
    fleet = desired(*tenants)
    assert tenants_to_refresh(fleet, view, snapshot) == frozenset()
    assert needs_for(fleet, view, snapshot, only=frozenset()) == DetailNeeds()


def test_new_edited_pending_and_digestless_tenants_are_refreshed() -> None:
    tenants, snapshot, _ = _fleet()
    edited = replace(tenants[1], digest="digest-edited")
    fleet = desired(tenants[0], edited, *tenants[2:])
    view = ledger(
        converged(tenants[1]),  # recorded digest no longer matches the manifests
        replace(converged(tenants[2]), manifest_digest=""),  # never converged
        converged(tenants[3]),
        pending=["cust-3"],  # a crashed create left an intent
    )
    assert tenants_to_refresh(fleet, view, snapshot) == {"cust-0", "cust-1", "cust-2", "cust-3"}


def test_projects_gone_or_moved_behind_our_back_are_refreshed() -> None:
    tenants, _, view = _fleet()
    snapshot = live(
        live_project_for(tenants[0]),
        live_project_for(tenants[1], org_id=ORG_PAID),  # moved to another org
        # cust-2's project was deleted
        live_project_for(tenants[3]),
    )
    assert tenants_to_refresh(desired(*tenants), view, snapshot) == {"cust-1", "cust-2"}


def test_a_binding_to_another_project_is_refreshed() -> None:
    bound = tenant("cust-0", project_id="prj-elsewhere")
    snapshot = live(live_project_for(bound), live_project_for(bound, project_id="prj-cust-0"))
    view = ledger(converged(bound, project_id="prj-cust-0"))
    assert tenants_to_refresh(desired(bound), view, snapshot) == {"cust-0"}


def test_only_limits_endpoints_and_branches_but_not_org_key_lists() -> None:
    keyed = tenant("cust-0", api_keys=["runtime"])
    branched = tenant("cust-1", branches=[BranchSpec("staging", "main")])
    paid = tenant("cust-2", "paid")
    fleet = desired(keyed, branched, paid)
    snapshot = live(*(live_project_for(t) for t in (keyed, branched, paid)))
    view = ledger(*map(converged, (keyed, branched, paid)))
    full = needs_for(fleet, view, snapshot)
    assert full.endpoints == {"prj-cust-0", "prj-cust-1", "prj-cust-2"}
    assert full.branches == {"prj-cust-1"}
    assert full.key_orgs == {ORG_FREE}
    some = needs_for(fleet, view, snapshot, only={"cust-2"})
    assert some == DetailNeeds(frozenset({"prj-cust-2"}), frozenset(), frozenset({ORG_FREE}))
    assert needs_for(fleet, view, snapshot, only=None) == full


def test_branch_policies_read_branches_only_within_the_scope() -> None:
    tenants, snapshot, view = _fleet()
    fleet = desired(*tenants, prune_branches=True)
    assert needs_for(fleet, view, snapshot).branches == {f"prj-cust-{n}" for n in range(4)}
    assert needs_for(fleet, view, snapshot, only={"cust-3"}).branches == {"prj-cust-3"}


def test_removed_tenants_keys_are_still_listed() -> None:
    kept = tenant("cust-0")
    gone = tenant("cust-9", api_keys=["runtime"])
    key = key_for(gone, "runtime", 7)
    record = OwnedKey(key.name, key.id, key.org_id, "prj-cust-9")
    view = ledger(converged(kept), converged(gone, keys={key.name: record}))
    snapshot = live(live_project_for(kept), live_project_for(gone), keys=[key])
    assert needs_for(desired(kept), view, snapshot, only=frozenset()).key_orgs == {ORG_FREE}


def test_refresh_counts_counts_declared_tenants_only() -> None:
    tenants, _, _ = _fleet()
    fleet = desired(*tenants)
    assert refresh_counts(fleet, "all", None) == {
        "refresh_mode": "all",
        "refreshed_tenants": 4,
        "list_only_tenants": 0,
    }
    assert refresh_counts(fleet, "changed", {"cust-1", "removed-tenant"}) == {
        "refresh_mode": "changed",
        "refreshed_tenants": 1,
        "list_only_tenants": 3,
    }


@pytest.mark.parametrize("refreshed", [None, {"cust-0"}])
def test_not_observed_warnings_are_dropped_only_for_list_only_tenants(
    refreshed: set[str] | None,
) -> None:
    fleet = desired(*_fleet()[0])
    warnings = (
        "cust-0: endpoints were not observed; only default_endpoint_settings are compared",
        "cust-1: endpoints were not observed; only default_endpoint_settings are compared",
        "cust-2: branches were not observed; branch changes are not planned",
        "cust-2: the ledger records project prj-x, which no longer exists live",
        "not-a-tenant: endpoints were not observed; whatever",
        "unknown target tenant(s), not planned: cust-7",
    )
    kept = quiet_list_only_warnings(warnings, fleet, refreshed)
    if refreshed is None:
        assert kept == warnings
    else:
        assert kept == (warnings[0], *warnings[3:])
