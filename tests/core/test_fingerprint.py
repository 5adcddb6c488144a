"""Fingerprints: stable, sensitive to what the planner reads, blind to what it does not."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.fingerprint import ABSENT, fingerprint, live_fingerprints
from tests.core.factories import desired, key_for, ledger, live, live_project_for, owned, tenant


def test_absent_project_has_its_own_fingerprint() -> None:
    assert fingerprint(None, None) == ABSENT
    assert ABSENT.startswith("sha256:")


def test_fingerprint_changes_with_read_fields_only() -> None:
    t = tenant("cust-1", api_keys=["app"])
    project = live_project_for(t)
    key = key_for(t, "app", 7)
    base = fingerprint(project, [key])
    assert fingerprint(project, [key]) == base
    assert fingerprint(replace(project, quota={**(project.quota or {}), "x": 1}), [key]) != base
    assert fingerprint(project, []) != base
    assert fingerprint(project, None) != fingerprint(project, [])
    assert fingerprint(replace(project, branches=None), [key]) != base
    other_project_key = replace(key, id=8, project_id="prj-other")
    assert fingerprint(project, [key, other_project_key]) == base
    # Order of branches or keys does not matter.
    assert project.branches is not None
    reordered = replace(project, branches=tuple(reversed(project.branches)))
    assert fingerprint(reordered, [key]) == base


def test_live_fingerprints_match_the_planner() -> None:
    from tests.core.scenarios import plan_for, tier_upgrade

    fleet, observed, records, _ = tier_upgrade()
    plan = plan_for("tier_upgrade")
    assert live_fingerprints(fleet, observed, records, plan.fingerprints) == plan.fingerprints


def test_a_project_appearing_by_name_changes_the_fingerprint() -> None:
    t = tenant("cust-1")
    before = live_fingerprints(desired(t), live(), ledger(), ["cust-1"])
    after = live_fingerprints(desired(t), live(live_project_for(t)), ledger(), ["cust-1"])
    assert before == {"cust-1": ABSENT}
    assert after["cust-1"] != ABSENT
    owned_view = live_fingerprints(
        desired(), live(live_project_for(t)), ledger(owned(t)), ["cust-1"]
    )
    assert owned_view == after
