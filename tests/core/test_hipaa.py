"""HIPAA: planned on create and as a one-way update; turning it off is a blocker."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.plan import Action, FieldChange
from reconciler.core.planner import build_plan
from tests.core import factories as f


def test_create_carries_hipaa():
    t = replace(f.tenant("h"), hipaa=True)
    plan = build_plan(f.desired(t), f.live(), f.ledger(), f.options())
    [create] = [s for s in plan.steps if s.action is Action.CREATE_PROJECT]
    assert create.after is not None and create.after["hipaa"] is True
    assert FieldChange("hipaa", None, True, "tenant h") in create.changes


def test_enabling_hipaa_is_an_update_that_says_it_cannot_be_undone():
    t = replace(f.tenant("h"), hipaa=True)
    live = f.live(f.live_project_for(t, hipaa=False))
    plan = build_plan(f.desired(t), live, f.ledger(f.owned(t)), f.options())
    [update] = plan.steps
    assert update.action is Action.UPDATE_PROJECT
    assert update.after is not None and update.after["hipaa"] is True
    assert "cannot be undone" in update.reason


def test_turning_hipaa_off_is_a_blocker_and_ignore_changes_silences_it():
    t = replace(f.tenant("h"), hipaa=False)
    live = f.live(f.live_project_for(t, hipaa=True))
    plan = build_plan(f.desired(t), live, f.ledger(f.owned(t)), f.options())
    assert not plan.steps
    assert "Neon cannot turn it off" in plan.blockers[0].message
    ignoring = replace(t, lifecycle=replace(t.lifecycle, ignore_changes=("hipaa",)))
    plan = build_plan(f.desired(ignoring), live, f.ledger(f.owned(t)), f.options())
    assert not plan.steps and not plan.blockers


def test_hipaa_is_listed_once_in_a_create_plan():
    t = replace(f.tenant("h"), hipaa=True)
    plan = build_plan(f.desired(t), f.live(), f.ledger(), f.options())
    [create] = [s for s in plan.steps if s.action is Action.CREATE_PROJECT]
    hipaa = [c for c in create.changes if c.path == "hipaa"]
    assert hipaa == [FieldChange("hipaa", None, True, "tenant h")]
    assert all(c.origin for c in create.changes), create.changes
