"""Schema and semantic problems are reported in one run (issue 12): a document that fails its
schema is still checked semantically on its readable part, and the broken part causes no
follow-on problems."""

from __future__ import annotations

import pytest

from reconciler.errors import ManifestError
from reconciler.manifests import load_fleet
from tests.manifests.conftest import TIER, tenant_yaml
from tests.support.cli import run_in_process


def messages(root) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_fleet(root)
    return [f"{p.field}: {p.message}" for p in caught.value.problems]


def test_validate_reports_schema_and_semantic_errors_in_one_run(write_fleet):
    root = write_fleet(tenant_yaml("  tier: fre\n  labels: {team: 7}\n"))
    result = run_in_process(["validate", str(root)])
    assert result.code == 1
    assert result.err.splitlines()[1:] == [
        f"{root / 'tenants.yaml'}:5:9: spec.tier: unknown tier 'fre'; did you mean 'free'?",
        f"{root / 'tenants.yaml'}:6:18: spec.labels.team: must be a string, got 7",
    ]


def test_a_broken_part_causes_no_follow_on_problems(write_fleet):
    branches = (
        "  tier: free\n  branches:\n"
        "    - {name: dev, protected: 'yes'}\n"
        "    - {name: feature, parent: dev}\n"
    )
    # The broken branch list is left out as a whole: "unknown parent branch 'dev'" would be
    # nonsense, since dev is declared (only its protected flag is wrong).
    assert messages(write_fleet(tenant_yaml(branches))) == [
        "spec.branches[0].protected: must be true or false, got 'yes'"
    ]


def test_a_document_missing_a_required_key_is_not_checked_further(write_fleet):
    tier = TIER.replace("  org: free\n", "  org: 5\n")
    root = write_fleet(tenant_yaml("  tier: free\n  region: aws-us-east-9\n"), tier=tier)
    # The tier is unreadable (its org is required): tenants naming it get no "unknown tier",
    # and the tenant's own region typo is still found in the same run.
    assert messages(root) == [
        "spec.org: must be a string, got 5",
        "spec.region: unknown Neon region 'aws-us-east-9'; did you mean 'aws-us-east-2'?",
    ]
