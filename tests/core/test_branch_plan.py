"""Branch planning: creation order, updates, expiry rules, pruning and limits."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.model import BranchSpec, LiveBranch, LiveEndpoint, LiveProject
from reconciler.core.plan import Plan
from reconciler.core.planner import build_plan
from tests.core.factories import desired, ledger, live, live_project_for, options, owned, tenant


def plan_with(project: LiveProject, *specs: BranchSpec, **policy: object) -> Plan:
    t = tenant("cust-1", branches=specs)
    return build_plan(desired(t, **policy), live(project), ledger(owned(t)), options())


def base_project(*extra: LiveBranch) -> LiveProject:
    project = live_project_for(tenant("cust-1"))
    assert project.branches is not None
    return replace(project, branches=(*project.branches, *extra))


def branch(name: str, parent: str | None = "br-prj-cust-1-main", **kw: object) -> LiveBranch:
    values: dict[str, object] = {
        "id": f"br-{name}",
        "name": name,
        "parent_id": parent,
        "protected": False,
        "default": False,
        "created_at": "2026-11-20T00:00:00Z",
    }
    values.update(kw)
    return LiveBranch(**values)  # type: ignore[arg-type]


def test_missing_parent_is_a_blocker() -> None:
    plan = plan_with(base_project(), BranchSpec("qa", parent="nowhere"))
    assert plan.steps == ()
    assert "parent 'nowhere' neither exists nor is declared" in plan.blockers[0].message


def test_parent_cycle_is_a_blocker() -> None:
    plan = plan_with(base_project(), BranchSpec("a", parent="b"), BranchSpec("b", parent="a"))
    assert "cycle" in plan.blockers[0].message


def test_relative_expiry_is_not_replanned_once_some_expiry_exists() -> None:
    live_tmp = branch("tmp", expires_at="2026-11-27T00:00:00Z")
    plan = plan_with(base_project(live_tmp), BranchSpec("tmp", expires_in_seconds=999999))
    assert plan.steps == ()
    without = plan_with(base_project(branch("tmp")), BranchSpec("tmp", expires_in_seconds=60))
    (step,) = without.steps
    assert step.after == {"name": "tmp", "branch_id": "br-tmp", "expires_in_seconds": 60}


def test_absolute_expiry_compares_instants_and_undeclared_expiry_is_removed() -> None:
    same = branch("fixed", expires_at="2026-12-01T00:00:00+00:00")
    plan = plan_with(base_project(same), BranchSpec("fixed", expires_at="2026-12-01T00:00:00Z"))
    assert plan.steps == ()
    plan = plan_with(base_project(same), BranchSpec("fixed"))
    (step,) = plan.steps
    assert step.after is not None and step.after["expires_at"] is None
    assert step.changes[0].path == "branches.fixed.expires_at"


def test_expiry_on_protected_or_default_branches_is_a_blocker() -> None:
    plan = plan_with(base_project(), BranchSpec("main", expires_in_seconds=60))
    assert "default branch" in plan.blockers[0].message
    plan = plan_with(base_project(), BranchSpec("x", protected=True, expires_in_seconds=60))
    assert "protected" in plan.blockers[0].message


def test_undeclared_branches_stay_unless_prune_branches_children_first() -> None:
    parent = branch("exp")
    child = branch("exp-child", parent="br-exp")
    project = base_project(parent, child)
    assert plan_with(project).steps == ()
    plan = plan_with(project, prune_branches=True)
    assert [s.id for s in plan.steps] == [
        "cust-1/delete_branch/exp-child",
        "cust-1/delete_branch/exp",
    ]
    assert plan.steps[1].depends_on == ("cust-1/delete_branch/exp-child",)


def test_a_branch_with_a_declared_child_is_not_deleted() -> None:
    parent = branch("exp")
    child = branch("keep", parent="br-exp")
    plan = plan_with(
        base_project(parent, child), BranchSpec("keep", parent="exp"), prune_branches=True
    )
    assert plan.steps == ()


def test_old_branches_left_by_restores_are_deleted_after_their_age() -> None:
    young = branch("dev (old)", created_at="2026-11-26T00:00:00Z")
    old = branch("main (old)", parent=None, created_at="2026-11-01T00:00:00Z")
    plan = plan_with(base_project(young, old), old_branch_max_age_seconds=86400 * 7)
    (step,) = plan.steps
    assert step.id == "cust-1/delete_branch/main (old)"
    assert "left by a snapshot restore" in step.reason
    assert plan_with(base_project(young, old)).steps == ()


def test_max_branches_counts_live_and_created_branches() -> None:
    existing = [branch(f"b{i}") for i in range(9)]
    plan = plan_with(base_project(*existing), *(BranchSpec(f"b{i}") for i in range(11)))
    assert "11 branches would exceed the tier's max_branches of 10" in plan.blockers[0].message


def test_branches_not_observed_warn() -> None:
    project = replace(base_project(), branches=None)
    plan = plan_with(project, BranchSpec("dev"))
    assert plan.steps == ()
    assert "branches were not observed" in plan.warnings[0]


def test_preview_and_promotion_branches_keep_their_branch_and_compute() -> None:
    # What `fleet preview` and `fleet promote bootstrap` make: branches the manifests do not
    # declare, with computes of their own (a short suspend timeout), recorded in the ledger.
    preview, dev, stray = branch("preview-run-1"), branch("dev", parent=None), branch("stray")
    base = base_project(preview, dev, stray)
    assert base.endpoints is not None
    own_compute = [
        LiveEndpoint(f"ep-{b.name}", b.id, "read_write", 0.25, 0.25, 60) for b in (preview, dev)
    ]
    project = replace(base, endpoints=(*base.endpoints, *own_compute))
    t = tenant("cust-1", compute={"suspend_timeout_seconds": 600})
    view = replace(
        ledger(owned(t)), runtime_branches={"cust-1": frozenset({"preview-run-1", "dev"})}
    )
    plan = build_plan(desired(t, prune_branches=True), live(project), view, options())
    planned = {s.id for s in plan.steps}
    assert "cust-1/delete_branch/stray" in planned  # prune_branches still prunes the rest
    assert not any("preview-run-1" in i or "/dev" in i or "ep-preview" in i for i in planned)
    # Without the ledger's record they are ordinary undeclared branches and computes.
    unrecorded = build_plan(
        desired(t, prune_branches=True), live(project), ledger(owned(t)), options()
    )
    assert {"cust-1/delete_branch/preview-run-1", "cust-1/delete_branch/dev"} <= {
        s.id for s in unrecorded.steps
    }
    assert {"cust-1/update_endpoint/ep-dev", "cust-1/update_endpoint/ep-preview-run-1"} <= {
        s.id for s in unrecorded.steps
    }
