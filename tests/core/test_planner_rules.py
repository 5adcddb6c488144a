"""Planner rules one at a time: matching, safety, transfers, keys and targets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.core.model import LiveApiKey, OwnedKey
from reconciler.core.plan import Action, Plan
from reconciler.core.planner import TRANSFER_BATCH_MAX, build_plan
from reconciler.errors import PlanError
from tests.core.factories import (
    ORG_FREE,
    ORG_PAID,
    desired,
    key_for,
    ledger,
    live,
    live_project_for,
    options,
    owned,
    tenant,
)


def ids(plan: Plan) -> list[str]:
    return [s.id for s in plan.steps]


def test_pending_create_without_live_project_creates_again() -> None:
    t = tenant("cust-1")
    plan = build_plan(desired(t), live(), ledger(pending=["cust-1"]), options())
    assert ids(plan) == ["cust-1/create_project"]
    assert "earlier create did not land" in plan.steps[0].reason


def test_ledger_project_gone_is_recreated_with_a_warning() -> None:
    t = tenant("cust-1")
    plan = build_plan(desired(t), live(), ledger(owned(t, project_id="prj-gone")), options())
    assert ids(plan) == ["cust-1/create_project"]
    assert plan.steps[0].reason.startswith("recreate")
    assert "prj-gone" in plan.warnings[0]


def test_ledger_project_in_an_unobserved_org_is_not_recreated() -> None:
    t = tenant("cust-1")
    record = owned(t, project_id="prj-elsewhere", org_id="org-unlisted")
    plan = build_plan(desired(t), live(), ledger(record), options())
    assert plan.steps == ()
    assert "cannot tell whether it still exists" in plan.blockers[0].message


def test_ledger_project_gone_but_name_found_is_adopted() -> None:
    t = tenant("cust-1")
    plan = build_plan(
        desired(t), live(live_project_for(t)), ledger(owned(t, project_id="prj-gone")), options()
    )
    assert ids(plan) == ["cust-1/adopt_project"]
    assert "adopted instead" in plan.warnings[0]


def test_binding_adopts_or_blocks() -> None:
    t = tenant("cust-1", project_id="prj-legacy-name")
    project = live_project_for(t, name="legacy-name")
    plan = build_plan(desired(t), live(project), ledger(), options())
    assert ids(plan) == ["cust-1/adopt_project", "cust-1/update_project"]
    assert plan.steps[1].changes[0].path == "name"
    missing = build_plan(desired(t), live(), ledger(), options())
    assert missing.steps == ()
    assert "binds project_id" in missing.blockers[0].message


def test_unmanaged_org_projects_are_not_matched_by_name() -> None:
    t = tenant("cust-1")
    stranger = live_project_for(t, org_id="org-someone-else")
    plan = build_plan(desired(t), live(stranger), ledger(), options())
    assert ids(plan) == ["cust-1/create_project"]


def test_create_in_an_unobserved_org_is_blocked() -> None:
    plan = build_plan(
        desired(tenant("cust-1")), live(observed_orgs=[ORG_PAID]), ledger(), options()
    )
    assert plan.steps == ()
    assert "not fully observed" in plan.blockers[0].message


def test_transfer_without_personal_key_is_blocked() -> None:
    t = tenant("cust-1", "paid")
    project = live_project_for(t, org_id=ORG_FREE)
    plan = build_plan(
        desired(t), live(project), ledger(owned(t)), options(transfer_key_available=False)
    )
    assert plan.steps == ()
    assert "transfer needs a personal API key" in plan.blockers[0].message
    assert "NEON_PERSONAL_KEY" in plan.blockers[0].message


def test_transfers_are_batched_per_org_pair_at_most_400() -> None:
    count = TRANSFER_BATCH_MAX + 1
    tenants = [tenant(f"cust-{i:04d}", "paid") for i in range(count)]
    projects = [live_project_for(tenant(t.name, "free")) for t in tenants]
    blocked = tenant("cust-9999", "paid")
    projects.append(live_project_for(blocked, org_id=ORG_FREE, integrations=("vercel",)))
    plan = build_plan(desired(*tenants, blocked), live(*projects), ledger(), options())
    transfers = [s for s in plan.steps if s.action is Action.TRANSFER_PROJECTS]
    assert [s.id for s in transfers] == [
        "transfer/org-free-1->org-paid-1/1",
        "transfer/org-free-1->org-paid-1/2",
    ]
    assert transfers[0].after is not None and transfers[1].after is not None
    assert len(transfers[0].after["project_ids"]) == TRANSFER_BATCH_MAX
    assert transfers[1].after["tenants"] == ["cust-0400"]
    assert "prj-cust-9999" not in transfers[0].after["project_ids"]
    assert [b.tenant for b in plan.blockers] == ["cust-9999"]
    # Adopted projects are recorded before they move.
    assert "cust-0000/adopt_project" in transfers[0].depends_on
    last = next(s for s in plan.steps if s.id == "cust-0400/update_project")
    assert transfers[1].id in last.depends_on


def test_targets_restrict_the_plan_and_unknown_targets_warn() -> None:
    a, b = tenant("cust-a"), tenant("cust-b")
    plan = build_plan(desired(a, b), live(), ledger(), options(targets=("cust-b", "cust-z")))
    assert ids(plan) == ["cust-b/create_project"]
    assert plan.targets == ("cust-b", "cust-z")
    assert set(plan.fingerprints) == {"cust-b"}
    assert "cust-z" in plan.warnings[0]


def test_undeclared_owned_keys_are_revoked_and_foreign_keys_left_alone() -> None:
    t = tenant("cust-1", api_keys=["app"])
    keep = key_for(t, "app", 1)
    duplicate = replace(keep, id=2)
    stale = key_for(t, "old", 3)
    foreign = LiveApiKey(4, "hand-made", ORG_FREE, "prj-cust-1")
    recorded_other_name = LiveApiKey(5, "renamed-by-hand", ORG_FREE, "prj-cust-1")
    keys = [keep, duplicate, stale, foreign, recorded_other_name]
    record = owned(t, keys=[keep, recorded_other_name])
    plan = build_plan(desired(t), live(live_project_for(t), keys=keys), ledger(record), options())
    assert ids(plan) == [
        "cust-1/revoke_api_key/2",
        "cust-1/revoke_api_key/3",
        "cust-1/revoke_api_key/5",
    ]
    assert plan.steps[0].reason == "a duplicate of the recorded key 1"


def test_unobserved_keys_are_compared_with_the_ledger() -> None:
    t = tenant("cust-1", api_keys=["app", "ci"])
    record = replace(
        owned(t),
        keys={
            "app": OwnedKey("app", 1, ORG_FREE, "prj-cust-1"),
            "cust-1:gone": OwnedKey("cust-1:gone", 2, ORG_FREE, "prj-cust-1"),
        },
    )
    plan = build_plan(desired(t), live(live_project_for(t), key_orgs=[]), ledger(record), options())
    assert ids(plan) == ["cust-1/create_api_key/ci", "cust-1/revoke_api_key/2"]


def test_removed_tenant_whose_project_is_gone_only_warns_without_prune() -> None:
    plan = build_plan(desired(max_deletes=5), live(), ledger(owned("old")), options())
    assert plan.steps == ()
    assert "no longer exists, nothing to delete" in plan.warnings[0]


def test_unmanaged_projects_are_never_deleted() -> None:
    stranger = live_project_for(tenant("cust-x"))
    plan = build_plan(desired(prune=True, max_deletes=5), live(stranger), ledger(), options())
    assert not plan.has_changes


def test_endpoints_not_observed_warn() -> None:
    t = tenant("cust-1")
    project = live_project_for(t, endpoints=None)
    object.__setattr__(project, "endpoints", None)
    plan = build_plan(desired(t), live(project), ledger(owned(t)), options())
    assert plan.steps == ()
    assert "endpoints were not observed" in plan.warnings[0]


def test_bad_now_is_a_plan_error() -> None:
    with pytest.raises(PlanError, match="RFC 3339"):
        build_plan(desired(), live(), ledger(), options(now="yesterday"))


def test_create_waits_until_every_managed_org_was_observed() -> None:
    # The tenant's own org is listed, but the other managed org is not: the project could be
    # there (a transfer in flight), so creating it could duplicate it.
    paid_tenant = tenant("cust-2", "paid")
    plan = build_plan(desired(paid_tenant), live(observed_orgs=[ORG_PAID]), ledger(), options())
    assert plan.steps == ()
    assert "were not fully observed" in plan.blockers[0].message
    assert ORG_FREE in plan.blockers[0].message
