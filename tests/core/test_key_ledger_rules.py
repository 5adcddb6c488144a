"""Issue 18, planner side: keys are resolved in favour of the ledger, offboarding revokes first.

The ledger records a key only after the secret sink took its token, so the recorded key is the
one the sink holds; ids say nothing about which key that is.
"""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.model import OwnedKey
from reconciler.core.plan import Plan
from reconciler.core.planner import build_plan
from tests.core.factories import (
    ORG_FREE,
    desired,
    key_for,
    ledger,
    live,
    live_project_for,
    options,
    owned,
    tenant,
)


def reasons(plan: Plan) -> dict[str, str]:
    return {s.id: s.reason for s in plan.steps}


def test_duplicate_keys_keep_the_recorded_key_not_the_lowest_id() -> None:
    t = tenant("cust-1", api_keys=["app"])
    old, new = key_for(t, "app", 1), key_for(t, "app", 2)  # an interrupted rotation
    plan = build_plan(
        desired(t),
        live(live_project_for(t), keys=[old, new]),
        ledger(owned(t, keys=[new])),
        options(),
    )
    assert reasons(plan) == {"cust-1/revoke_api_key/1": "a duplicate of the recorded key 2"}


def test_unrecorded_keys_of_a_declared_name_are_all_replaced() -> None:
    t = tenant("cust-1", api_keys=["app"])
    keys = [key_for(t, "app", 1), key_for(t, "app", 2)]
    plan = build_plan(desired(t), live(live_project_for(t), keys=keys), ledger(owned(t)), options())
    assert sorted(reasons(plan)) == [
        "cust-1/create_api_key/app",
        "cust-1/revoke_api_key/1",
        "cust-1/revoke_api_key/2",
    ]


def test_a_full_name_row_wins_over_a_legacy_bare_name_row() -> None:
    t = tenant("cust-1", api_keys=["app"])
    old, new = key_for(t, "app", 1), key_for(t, "app", 2)
    record = replace(
        owned(t, keys=[new]),
        keys={
            "app": OwnedKey("app", 1, ORG_FREE, "prj-cust-1"),
            new.name: OwnedKey(new.name, 2, ORG_FREE, "prj-cust-1"),
        },
    )
    plan = build_plan(
        desired(t), live(live_project_for(t), keys=[old, new]), ledger(record), options()
    )
    assert reasons(plan) == {"cust-1/revoke_api_key/1": "a duplicate of the recorded key 2"}


def test_an_undeclared_row_of_a_key_gone_from_neon_is_dropped() -> None:
    t = tenant("cust-1", api_keys=["app"])
    app, gone = key_for(t, "app", 1), key_for(t, "old", 2)
    plan = build_plan(
        desired(t),
        live(live_project_for(t), keys=[app]),
        ledger(owned(t, keys=[app, gone])),
        options(),
    )
    assert reasons(plan) == {
        "cust-1/revoke_api_key/2": "recorded in the ledger but gone from Neon: drop the record"
    }


def test_removed_tenant_keys_are_revoked_before_its_project_is_deleted() -> None:
    gone = tenant("gone", api_keys=["app"])
    keys = [key_for(gone, "app", 7)]
    plan = build_plan(
        desired(prune=True, max_deletes=5),
        live(live_project_for(gone), keys=keys),
        ledger(owned(gone, keys=keys)),
        options(),
    )
    assert [s.id for s in plan.steps] == ["gone/revoke_api_key/7", "gone/delete_project"]
    assert plan.steps[1].depends_on == ("gone/revoke_api_key/7",)


def test_removed_tenant_whose_project_vanished_is_forgotten_when_pruned() -> None:
    gone = tenant("gone", api_keys=["app"])
    keys = [key_for(gone, "app", 7)]
    record = owned(gone, keys=keys)
    plan = build_plan(desired(prune=True, max_deletes=5), live(), ledger(record), options())
    assert [s.id for s in plan.steps] == ["gone/revoke_api_key/7", "gone/delete_project"]
    assert plan.steps[1].before == {"id": "prj-gone", "name": None, "org_id": ORG_FREE}
    protected = replace(record, prevent_destroy=True)
    plan = build_plan(desired(prune=True, max_deletes=5), live(), ledger(protected), options())
    assert plan.steps == () and "no longer exists" in plan.warnings[0]
