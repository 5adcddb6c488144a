"""Property: plan, apply the plan to an in-memory model, plan again → nothing left to do.

Fleets are generated with hypothesis: tenants of both tiers with quota/compute overrides,
branches (some nested, protected or expiring) and keys; live state that is absent, stale in
every planner-visible way (wrong tier/org, quotas, compute, endpoints, branches, keys), or
matched only by name; pending creates; and removed tenants with and without pruning.
Generated states avoid what is a blocker by design (region changes, integrations, duplicates).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.core.model import BranchSpec, DesiredTenant, LiveApiKey
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
from tests.core.simulate import apply_plan

BRANCH_CHOICES = {
    "dev": BranchSpec("dev"),
    "qa": BranchSpec("qa", parent="dev"),
    "locked": BranchSpec("locked", protected=True),
    "tmp": BranchSpec("tmp", expires_in_seconds=3600),
    "fixed": BranchSpec("fixed", expires_at="2026-12-20T00:00:00Z"),
}
quota_values = st.sampled_from([0, 3600, 7200, 18000])
cu_values = st.sampled_from([0.25, 0.5, 1, 2])


@st.composite
def desired_tenant(draw: st.DrawFn, name: str) -> DesiredTenant:
    branch_names = draw(st.sets(st.sampled_from(sorted(BRANCH_CHOICES))))
    if "qa" in branch_names:
        branch_names.add("dev")
    return tenant(
        name,
        draw(st.sampled_from(["free", "paid"])),
        quota=draw(st.dictionaries(st.sampled_from(["compute_time_seconds"]), quota_values)),
        compute=draw(st.dictionaries(st.sampled_from(["autoscaling_limit_max_cu"]), cu_values)),
        branches=[BRANCH_CHOICES[b] for b in sorted(branch_names)],
        api_keys=sorted(draw(st.sets(st.sampled_from(["app", "ci", "ops"])))),
        history_retention_seconds=draw(st.sampled_from([None, 3600, 86400])),
    )


@st.composite
def live_state(draw: st.DrawFn, t: DesiredTenant, index: int) -> dict[str, Any]:
    """What exists for ``t``: nothing, or a project that is stale in drawn ways."""
    kind = draw(st.sampled_from(["absent", "owned", "by_name", "pending_landed", "pending_lost"]))
    if kind in ("absent", "pending_lost"):
        return {"projects": [], "keys": [], "record": None, "pending": kind == "pending_lost"}
    stale = tenant(
        t.name,
        draw(st.sampled_from(["free", "paid"])),
        quota=draw(st.dictionaries(st.sampled_from(["compute_time_seconds"]), quota_values)),
        compute=draw(st.dictionaries(st.sampled_from(["autoscaling_limit_max_cu"]), cu_values)),
        branches=[BRANCH_CHOICES[b] for b in sorted(draw(st.sets(st.sampled_from(["dev"]))))],
    )
    project = live_project_for(stale)
    key_names = draw(st.sets(st.sampled_from(["app", "old", "ci"])))
    keys = [key_for(stale, k, 1000 * index + i) for i, k in enumerate(sorted(key_names))]
    if draw(st.booleans()):
        keys.append(LiveApiKey(1000 * index + 900, "hand-made", stale.org_id, project.id))
    record = owned(stale, org_id=stale.org_id, keys=keys[:1]) if kind == "owned" else None
    return {
        "projects": [project],
        "keys": keys,
        "record": record,
        "pending": kind == "pending_landed",
    }


@st.composite
def fleets(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    count = draw(st.integers(min_value=1, max_value=5))
    tenants = [draw(desired_tenant(f"cust-{i}")) for i in range(count)]
    states = [draw(live_state(t, i + 1)) for i, t in enumerate(tenants)]
    removed = [tenant(f"gone-{i}") for i in range(draw(st.integers(0, 2)))]
    projects = [p for s in states for p in s["projects"]]
    keys = [k for s in states for k in s["keys"]]
    records = [s["record"] for s in states if s["record"] is not None]
    for gone in removed:
        projects.append(live_project_for(gone))
        records.append(owned(gone, org_id=ORG_FREE))
    prune = draw(st.booleans())
    fleet = desired(
        *tenants, prune=prune, max_deletes=len(removed), prune_branches=draw(st.booleans())
    )
    pending = [t.name for t, s in zip(tenants, states, strict=True) if s["pending"]]
    return fleet, live(*projects, keys=keys), ledger(*records, pending=pending)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_applying_a_plan_then_planning_again_is_empty(inputs: tuple[Any, Any, Any]) -> None:
    fleet, observed, records = inputs
    first = build_plan(fleet, observed, records, options())
    assert first.blockers == ()
    after_live, after_ledger = apply_plan(first, observed, records)
    second = build_plan(fleet, after_live, after_ledger, options())
    assert second.steps == (), [s.id for s in second.steps]
    assert second.blockers == ()


def test_simulator_resolves_created_ids_through_the_ledger() -> None:
    t = tenant("cust-1", branches=[BranchSpec("dev"), BranchSpec("qa", parent="dev")])
    first = build_plan(desired(t), live(), ledger(), options())
    after_live, after_ledger = apply_plan(first, live(), ledger())
    project = after_live.projects[after_ledger.tenants["cust-1"].project_id]
    assert project.branches is not None
    by_name = {b.name: b for b in project.branches}
    assert by_name["qa"].parent_id == by_name["dev"].id
    assert replace(project, branches=None).name == "cust-1"
