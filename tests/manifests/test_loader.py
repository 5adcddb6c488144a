"""load_fleet: discovery, YAML details, expiry against an injected clock, origins, robustness."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.core.model import Sourced
from reconciler.errors import ManifestError, Problem
from reconciler.manifests import load_fleet, render_project_name
from tests.manifests.conftest import FLEET, TIER, tenant_yaml

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)


def problems_of(path: Path, now: datetime = NOW) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_fleet(path, now=now)
    return [str(p) for p in caught.value.problems]


def messages_of(path: Path, now: datetime = NOW) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_fleet(path, now=now)
    return [p.message for p in caught.value.problems]


def test_a_single_file_with_several_documents_loads(tmp_path):
    path = tmp_path / "all.yaml"
    path.write_text(
        "---\n" + FLEET + "---\n" + TIER + "---\n" + tenant_yaml("  tier: free\n") + "---\n"
    )
    fleet = load_fleet(path)
    assert list(fleet.tenants) == ["cust-1"]
    location = fleet.tenants["cust-1"].location
    assert location is not None and location.line == 18  # leading and trailing --- are ignored


def test_directories_are_walked_recursively_skipping_hidden_and_non_yaml(write_fleet):
    root = write_fleet(
        files={
            "tenants/a/one/x.yml": tenant_yaml("  tier: free\n", "a"),
            "tenants/b.yaml": tenant_yaml("  tier: free\n", "b"),
            ".fleet/broken.yaml": "not: [valid",
            "tenants/.hidden.yaml": "not: [valid",
            "notes.txt": "kind: Nothing",
        }
    )
    assert list(load_fleet(root).tenants) == ["a", "b"]


def test_problems_across_files_are_all_reported_in_file_and_line_order(write_fleet):
    root = write_fleet(
        tenant_yaml("  tier: fre\n", "b"),
        tenant_yaml("  tier: free\n  quota: {active_time_seconds: -1}\n", "a"),
        files={"zz/c.yaml": tenant_yaml("  tier: free\n  hipaa: 1\n", "c")},
    )
    found = problems_of(root)
    assert [p.split(":")[0].rsplit("/", 1)[-1] for p in found] == [
        "tenants.yaml", "tenants.yaml", "c.yaml",
    ]  # fmt: skip
    assert found[0].endswith("spec.tier: unknown tier 'fre'; did you mean 'free'?")
    assert ":12:32: spec.quota.active_time_seconds: must be a whole number" in found[1]


def test_problem_string_format():
    assert str(Problem("a.yaml", 3, 5, "spec.tier", "bad")) == "a.yaml:3:5: spec.tier: bad"
    assert str(Problem("dir", 1, 1, "", "no manifests")) == "dir:1:1: no manifests"


def test_expires_at_within_30_days_is_normalised(write_fleet):
    root = write_fleet(
        tenant_yaml(
            "  tier: free\n  branches:\n"
            "    - {name: a, expires_at: 2026-01-20T00:00:00Z}\n"  # unquoted: a YAML timestamp
            "    - {name: b, expires_at: '2026-02-14T12:00:00+00:00'}\n"
        )
    )
    branches = load_fleet(root, now=NOW).tenants["cust-1"].branches
    assert [b.expires_at for b in branches] == ["2026-01-20T00:00:00Z", "2026-02-14T12:00:00Z"]


NOW_TEXT = "(now is 2026-01-15T12:00:00Z)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-01-15T11:59:59Z", f"2026-01-15T11:59:59Z is in the past {NOW_TEXT}"),
        ("2026-02-14T12:00:01Z", f"2026-02-14T12:00:01Z is more than 30 days ahead {NOW_TEXT}"),
        (
            "2026-01-20T00:00:00.5Z",
            "must have whole seconds (Neon accepts second precision only), "
            "got '2026-01-20T00:00:00.5Z'",
        ),
        (
            "2026-02-30T00:00:00Z",
            "is not a real date and time (day is out of range for month), "
            "got '2026-02-30T00:00:00Z'",
        ),
        (
            "next tuesday",
            "must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z, got 'next tuesday'",
        ),
    ],
)
def test_expires_at_is_checked_against_the_injected_clock(write_fleet, value, message):
    root = write_fleet(
        tenant_yaml(f"  tier: free\n  branches:\n    - {{name: a, expires_at: '{value}'}}\n")
    )
    assert messages_of(root) == [message]


def test_a_naive_now_is_taken_as_utc(write_fleet):
    root = write_fleet(
        tenant_yaml(
            "  tier: free\n  branches:\n    - {name: a, expires_at: '2026-01-16T00:00:00Z'}\n"
        )
    )
    assert load_fleet(root, now=datetime(2026, 1, 15)).tenants["cust-1"].branches[0].expires_at
    assert messages_of(root, now=datetime(2026, 1, 17)) == [
        "2026-01-16T00:00:00Z is in the past (now is 2026-01-17T00:00:00Z)"
    ]


def test_anchors_and_merge_keys_are_resolved(write_fleet):
    root = write_fleet(
        tenant_yaml(
            "  tier: free\n"
            "  labels: &shared {team: core}\n"
            "  compute:\n"
            "    <<: {autoscaling_limit_min_cu: 1, autoscaling_limit_max_cu: 4}\n"
            "    autoscaling_limit_max_cu: 3\n"
        ),
        tenant_yaml("  tier: free\n  labels: {<<: {team: core}, site: eu}\n", "cust-2"),
    )
    fleet = load_fleet(root)
    assert fleet.tenants["cust-2"].labels == {"team": "core", "site": "eu"}
    compute = fleet.tenants["cust-1"].compute
    assert compute["autoscaling_limit_min_cu"] == Sourced(1, "tenant cust-1")
    assert compute["autoscaling_limit_max_cu"] == Sourced(3, "tenant cust-1")


def test_a_recursive_alias_is_a_problem_not_a_crash(write_fleet):
    root = write_fleet(tenant_yaml("  tier: free\n  labels: &loop {a: *loop}\n"))
    assert any("recursive alias" in m for m in messages_of(root))


def test_origins_of_partial_overrides_and_built_in_pg_version(write_fleet):
    root = write_fleet(
        tenant_yaml(
            "  tier: free\n  compute: {autoscaling_limit_min_cu: 1}\n  project_id: rough-sound-1\n"
        )
    )
    tenant = load_fleet(root).tenants["cust-1"]
    assert tenant.compute == {
        "autoscaling_limit_min_cu": Sourced(1, "tenant cust-1"),
        "autoscaling_limit_max_cu": Sourced(2, "tier free"),
    }
    assert tenant.quota == {}  # nothing sets a quota: nothing is managed
    assert tenant.pg_version == Sourced(17, "built-in default")
    assert tenant.project_id == "rough-sound-1"
    assert tenant.project_name == render_project_name("{tenant}", "cust-1") == "cust-1"


def test_an_invalid_tier_does_not_cascade_into_unknown_tier_problems(write_fleet):
    root = write_fleet(tenant_yaml("  tier: free\n"), tier=TIER.replace("org: free", "org: 7"))
    assert messages_of(root) == ["must be a string, got 7"]


def test_duplicate_tiers_are_reported(write_fleet):
    root = write_fleet(tenant_yaml("  tier: free\n"), files={"more.yaml": TIER})
    (found,) = problems_of(root)
    first = f"{root / 'fleet.yaml'}:11"  # the line of the first tier's metadata.name
    assert found.endswith(f"metadata.name: duplicate tier 'free'; first declared at {first}")


@pytest.mark.parametrize("enabled", [True, False])
def test_the_garbage_collector_state_is_restored(write_fleet, enabled):
    root = write_fleet(tenant_yaml("  tier: free\n"))
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        load_fleet(root)
        assert gc.isenabled() is enabled
        with pytest.raises(ManifestError):
            load_fleet(root / "missing")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_unreadable_bytes_are_a_problem(tmp_path):
    (tmp_path / "fleet.yaml").write_bytes(b"\xff\xfe\x00bad")
    (found,) = problems_of(tmp_path)
    assert "fleet.yaml:1:1: not UTF-8 text: byte 0xff cannot start a character" in found
