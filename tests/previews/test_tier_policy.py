"""The Tier's ``previews`` block: defaults, parsing and schema errors with file and line."""

from __future__ import annotations

import pytest

from reconciler.core.branch_policies import (
    DEFAULT_PREVIEW_SUSPEND_SECONDS,
    DEFAULT_PREVIEW_TTL_SECONDS,
    PreviewPolicy,
)
from reconciler.errors import ManifestError
from reconciler.manifests import load_fleet
from tests.manifests.conftest import TIER, tenant_yaml


def test_a_tier_without_previews_gets_short_lived_cheap_defaults(write_fleet):
    fleet = load_fleet(write_fleet(tenant_yaml("  tier: free\n")))
    policy = fleet.tiers["free"].previews
    assert policy == PreviewPolicy()
    assert policy.ttl_seconds == DEFAULT_PREVIEW_TTL_SECONDS == 7200
    assert policy.suspend_timeout_seconds == DEFAULT_PREVIEW_SUSPEND_SECONDS == 300
    assert policy.idle_after_seconds is None  # gc collects expired previews only


def test_the_previews_block_is_parsed(write_fleet):
    tier = TIER + (
        "  previews:\n"
        "    ttl: 90m\n"
        "    idle_after: 1h\n"
        "    suspend_timeout: 1m\n"
        "    compute: {autoscaling_limit_max_cu: 0.5, autoscaling_limit_min_cu: 0.25}\n"
    )
    fleet = load_fleet(write_fleet(tenant_yaml("  tier: free\n"), tier=tier))
    assert fleet.tiers["free"].previews == PreviewPolicy(
        ttl_seconds=5400,
        suspend_timeout_seconds=60,
        idle_after_seconds=3600,
        compute={"autoscaling_limit_max_cu": 0.5, "autoscaling_limit_min_cu": 0.25},
    )


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("    ttl: 2 hours\n", "ttl"),
        ("    suspend_timeout: 0s\n", "suspend_timeout"),
        ("    compute: {suspend_timeout_seconds: 60}\n", "suspend_timeout_seconds"),
        ("    lifetime: 2h\n", "lifetime"),
    ],
)
def test_a_bad_previews_block_names_file_line_and_field(write_fleet, block, field):
    root = write_fleet(tenant_yaml("  tier: free\n"), tier=TIER + "  previews:\n" + block)
    with pytest.raises(ManifestError) as caught:
        load_fleet(root)
    [problem] = caught.value.problems
    assert "fleet.yaml" in str(problem) and field in str(problem)
