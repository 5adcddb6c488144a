"""Small pure rules: project name templates, durations, timestamps and branch graphs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.core.model import DesiredFleet
from reconciler.errors import ManifestError
from reconciler.manifests import load_fleet, render_project_name
from reconciler.manifests.templates import project_name_problem, template_problem
from reconciler.manifests.timing import parse_duration, parse_utc_timestamp
from tests.manifests.conftest import tenant_yaml


def test_templates():
    assert template_problem("t-{tenant}") is None and template_problem("{{x}}-{tenant}") is None
    assert render_project_name("t-{tenant}", "cust-1") == "t-cust-1"
    assert (
        template_problem("{tenant!r}") == "placeholder {tenant} takes no format spec or conversion"
    )
    assert (
        template_problem("{tenant:>9}") == "placeholder {tenant} takes no format spec or conversion"
    )
    assert template_problem("{tenent}") == (
        "unknown placeholder {tenent}; did you mean 'tenant'? (the only placeholder is {tenant})"
    )
    assert str(template_problem("{tenant.name}")).startswith("unknown placeholder {tenant.name}")


def test_project_name_rule():
    assert project_name_problem("t-Cust_1") is None
    assert project_name_problem("a" * 64) is None
    assert "65 characters long" in str(project_name_problem("a" * 65))
    assert "is invalid" in str(project_name_problem("-leading-hyphen"))
    assert "is invalid" in str(project_name_problem("has space"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("12h", 43200), ("7d", 604800), ("2w", 1209600), ("0s", None),
     ("7days", None), ("1.5h", None), ("", None), ("-1d", None)],
)  # fmt: skip
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_timestamps():
    assert parse_utc_timestamp("2026-01-20T00:00:00Z") == (datetime(2026, 1, 20, tzinfo=UTC), "")
    assert parse_utc_timestamp("2026-01-20 00:00:00z")[0] == datetime(2026, 1, 20, tzinfo=UTC)
    assert parse_utc_timestamp("2026-01-20T00:00:00-05:00")[1] == "must be in UTC (end with Z)"


def test_a_three_branch_cycle_is_reported_once(write_fleet):
    root = write_fleet(
        tenant_yaml(
            "  tier: free\n  branches:\n"
            "    - {name: b, parent: c}\n    - {name: c, parent: a}\n"
            "    - {name: a, parent: b}\n"
        )
    )
    with pytest.raises(ManifestError) as caught:
        load(root)
    (problem,) = caught.value.problems
    assert problem.field == "spec.branches[0].parent"
    assert problem.message == "branch parents form a cycle: b -> c -> a -> b"


def test_main_may_be_declared_to_protect_it_but_takes_no_parent(write_fleet):
    root = write_fleet(tenant_yaml("  tier: free\n  branches:\n    - {name: main, parent: x}\n"))
    with pytest.raises(ManifestError) as caught:
        load(root)
    assert [p.message for p in caught.value.problems] == ["the default branch main has no parent"]


def load(root: Path) -> DesiredFleet:
    return load_fleet(root, now=datetime(2026, 1, 15, tzinfo=UTC))
