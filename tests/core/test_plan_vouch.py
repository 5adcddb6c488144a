"""The apply-time comparison of a saved plan with a fresh re-plan (``core.plan_vouch``)."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.plan import Blocker, Step
from reconciler.core.plan_codec import plan_from_dict, plan_to_dict
from reconciler.core.plan_payloads import DeleteProject, UpdateProject
from reconciler.core.plan_vouch import stale_tenants, touched_tenants, unvouched_steps
from tests.core.scenarios import plan_for


def test_an_honest_plan_read_back_from_its_file_is_vouched_for() -> None:
    fresh = plan_for("tier_upgrade")
    saved = plan_from_dict(plan_to_dict(fresh))  # tuples became lists on the way
    assert unvouched_steps(saved, fresh) == []
    assert stale_tenants(saved, fresh) == []
    # A re-plan may hold more (live moved for tenants the plan does not touch).
    assert unvouched_steps(replace(saved, steps=saved.steps[:1]), fresh) == []


def test_an_added_or_changed_step_is_named_with_the_reason() -> None:
    fresh = plan_for("quota_change")
    first = fresh.steps[0]
    bogus = Step(f"{first.tenant}/delete_project", first.tenant, DeleteProject("x", None, "o"))
    assert isinstance(first.payload, UpdateProject)
    changed = replace(first, payload=replace(first.payload, new={**first.payload.new, "extra": 1}))
    saved = replace(fresh, steps=(changed, *fresh.steps[1:], bogus))
    mismatches = unvouched_steps(saved, fresh)
    assert [(m.step_id, m.why) for m in mismatches] == [
        (first.id, "after differ from what the manifests plan"),
        (bogus.id, "the manifests do not plan this step"),
    ]


def test_a_touched_tenant_without_fingerprint_is_unvouched_and_a_moved_one_stale() -> None:
    fresh = plan_for("quota_change")
    [tenant] = sorted(touched_tenants(fresh))
    unfingerprinted = replace(fresh, fingerprints={})
    assert [m.why for m in unvouched_steps(unfingerprinted, fresh)] == [
        "the plan has no fingerprint for it"
    ]
    moved = replace(fresh, fingerprints={**fresh.fingerprints, tenant: "sha256:" + "0" * 64})
    assert stale_tenants(fresh, moved) == [tenant]


def test_a_step_of_a_tenant_blocked_at_apply_time_names_the_blocker() -> None:
    fresh = plan_for("quota_change")
    step = fresh.steps[0]
    blocked = replace(fresh, steps=(), blockers=(Blocker(str(step.tenant), "no personal key"),))
    [mismatch] = unvouched_steps(replace(fresh, steps=(step,)), blocked)
    assert mismatch.why == f"{step.tenant} is blocked now: no personal key"
