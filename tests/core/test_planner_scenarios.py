"""Table-driven planner tests over the named scenarios (their golden files are in render tests).

Each row states the exact ordered step ids, the blocked tenants and a fragment every warning
list must contain, so a change of behaviour shows up as a readable diff.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reconciler.core.plan import Action
from tests.core.scenarios import SCENARIOS, plan_for

T_UP = "transfer/org-free-1->org-paid-1/1"
T_DOWN = "transfer/org-paid-1->org-free-1/1"


@dataclass(frozen=True)
class Expect:
    steps: tuple[str, ...]
    blocked: tuple[str, ...] = ()
    warning: str | None = None


EXPECTED: dict[str, Expect] = {
    "new_tenant": Expect(
        (
            "cust-00001/create_project",
            "cust-00001/create_branch/dev",
            "cust-00001/create_branch/preview",
            "cust-00001/create_api_key/app",
        )
    ),
    "quota_change": Expect(
        ("cust-00002/update_project", "cust-00002/update_endpoint/ep-prj-cust-00002")
    ),
    "tier_upgrade": Expect(
        (
            T_UP,
            "cust-00003/update_project",
            "cust-00003/update_endpoint/ep-prj-cust-00003",
            "cust-00003/create_api_key/app",
            "cust-00003/create_api_key/ci",
            "cust-00003/revoke_api_key/201",
            "cust-00003/revoke_api_key/202",
        )
    ),
    "downgrade": Expect(
        (
            T_DOWN,
            "cust-00004/update_project",
            "cust-00004/update_endpoint/ep-prj-cust-00004",
            "cust-00004/create_api_key/app",
            "cust-00004/revoke_api_key/301",
        )
    ),
    "removed_without_prune": Expect((), warning="policy.prune is off"),
    "removed_with_prune": Expect(
        ("cust-00020/revoke_api_key/400", "cust-00020/delete_project"),
        blocked=("cust-00021", "cust-00022"),
    ),
    "adoption": Expect(
        ("cust-00005/adopt_project", "cust-00005/update_project", "cust-00006/adopt_project")
    ),
    "blockers": Expect((), blocked=("cust-00007", "cust-00007", "cust-00008", "cust-00009")),
    "ignore_changes": Expect(("cust-00011/update_project",)),
    "no_op": Expect(()),
    "branches": Expect(
        (
            "cust-00014/create_branch/qa",
            "cust-00014/update_branch/dev",
            "cust-00014/delete_branch/main (old)",
        )
    ),
}


def test_every_scenario_has_expectations() -> None:
    assert set(EXPECTED) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario(name: str) -> None:
    plan = plan_for(name)
    expect = EXPECTED[name]
    assert tuple(s.id for s in plan.steps) == expect.steps
    assert tuple(b.tenant for b in plan.blockers) == expect.blocked
    if expect.warning:
        assert any(expect.warning in w for w in plan.warnings)
    assert plan.has_changes == bool(expect.steps or expect.blocked)
    assert plan_for(name) == plan  # deterministic


def test_tier_upgrade_orders_transfer_before_quota_and_key_reissue() -> None:
    plan = plan_for("tier_upgrade")
    transfer = plan.steps[0]
    assert transfer.tenant is None
    assert transfer.after == {
        "source_org_id": "org-free-1",
        "destination_org_id": "org-paid-1",
        "project_ids": ["prj-cust-00003"],
        "tenants": ["cust-00003"],
    }
    for step in plan.steps[1:]:
        assert T_UP in step.depends_on
    update = plan.steps[1]
    assert update.after is not None
    # The full quota object (unmanaged keys keep live values), changes only what differs.
    assert update.after["quota"] == {
        "active_time_seconds": 0,
        "compute_time_seconds": 360000,
        "data_transfer_bytes": 0,
        "logical_size_bytes": 10737418240,
        "written_data_bytes": 0,
    }
    assert [c.path for c in update.changes] == [
        "default_endpoint_settings.autoscaling_limit_max_cu",
        "quota.compute_time_seconds",
        "quota.logical_size_bytes",
    ]
    created = [s for s in plan.steps if s.action is Action.CREATE_API_KEY]
    assert {s.after["org_id"] for s in created if s.after} == {"org-paid-1"}
    revoked = [s for s in plan.steps if s.action is Action.REVOKE_API_KEY]
    assert {s.before["org_id"] for s in revoked if s.before} == {"org-free-1"}


def test_quota_change_names_origins_and_restart() -> None:
    plan = plan_for("quota_change")
    update, endpoint = plan.steps
    by_path = {c.path: c for c in update.changes}
    assert by_path["quota.compute_time_seconds"].origin == "tenant cust-00002"
    assert by_path["default_endpoint_settings.autoscaling_limit_max_cu"].origin == "tier free"
    assert "restarts the compute" in endpoint.reason


def test_blocker_messages_explain() -> None:
    messages = " ".join(b.message for b in plan_for("blockers").blockers)
    assert "Neon cannot change region_id in place" in messages
    assert "never destroys and recreates" in messages
    assert "github integration" in messages
    assert "2 live projects are named" in messages


def test_ignore_changes_leaves_ignored_values_live() -> None:
    (update,) = plan_for("ignore_changes").steps
    assert update.after is not None
    assert update.after["quota"]["compute_time_seconds"] == 18000
    assert [c.path for c in update.changes] == ["quota.written_data_bytes"]
