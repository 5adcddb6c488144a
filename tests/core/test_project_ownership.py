"""A project belongs to one tenant: bindings hand it over, nothing else takes or deletes it."""

from __future__ import annotations

from reconciler.core.plan import Action, Plan
from reconciler.core.planner import build_plan
from tests.core import factories as f


def _actions(plan: Plan) -> list[tuple[str | None, Action]]:
    return [(s.tenant, s.action) for s in plan.steps]


def test_a_binding_hands_over_the_project_of_a_removed_tenant_without_deleting_it():
    old = f.tenant("old")
    new = f.tenant("new", project_id=f.project_id_of("old"))
    live = f.live(f.live_project_for(old))
    plan = build_plan(
        f.desired(new, prune=True, max_deletes=5), live, f.ledger(f.owned(old)), f.options()
    )
    assert (("old", Action.DELETE_PROJECT)) not in _actions(plan)
    [adopt] = [s for s in plan.steps if s.action is Action.ADOPT_PROJECT]
    assert adopt.tenant == "new"
    assert adopt.after is not None and adopt.after["handover_from"] == "old"
    assert "handed over, not deleted" in adopt.reason
    assert not plan.blockers


def test_a_name_match_never_takes_the_project_another_tenant_owns():
    x = f.tenant("x")
    y = f.tenant("y")
    project = f.live_project_for(x, name="y")  # carries y's deterministic name
    plan = build_plan(
        f.desired(y, prune=True, max_deletes=5), f.live(project), f.ledger(f.owned(x)), f.options()
    )
    assert _actions(plan) == []
    blockers = {b.tenant: b.message for b in plan.blockers}
    assert "recorded in the ledger for tenant x" in blockers["y"]
    assert "carries the name of declared tenant y" in blockers["x"]


def test_two_declared_tenants_cannot_share_one_project():
    a = f.tenant("a")
    b = f.tenant("b", project_id=f.project_id_of("a"))
    plan = build_plan(
        f.desired(a, b), f.live(f.live_project_for(a)), f.ledger(f.owned(a)), f.options()
    )
    assert [s for s in plan.steps if s.tenant == "b"] == []
    [blocker] = plan.blockers
    assert blocker.tenant == "b"
    assert "recorded in the ledger for tenant a" in blocker.message
    assert not [s for s in plan.steps if s.action is Action.UPDATE_PROJECT]
