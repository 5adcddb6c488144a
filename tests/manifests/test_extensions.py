"""Fleet pricing, alert thresholds and drift ignores; tier checkpoint policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.core.branch_policies import CheckpointPolicy
from reconciler.core.model import DriftIgnore, Pricing, Rate
from reconciler.errors import ManifestError
from reconciler.manifests import load_fleet

FLEET = """\
apiVersion: neon-fleet/v1
kind: Fleet
metadata: {name: acme}
spec:
  orgs: {free: {id: org-free-1, api_key_env: NEON_FREE_ORG_KEY}}
  defaults: {region: aws-us-east-2}
  policy:
    drift_ignore: [{path: quota.data_transfer_bytes}, {tenant: "cust-*", path: "branches.*"}]
  pricing:
    currency: USD
    rates:
      compute_unit_seconds: {price: 0.16, per: 3600}
      public_network_transfer_bytes: {price: 0.1, per: 1073741824}
  alerts: {quota_thresholds: [0.5, 0.9]}
---
apiVersion: neon-fleet/v1
kind: Tier
metadata: {name: free}
spec:
  org: free
  checkpoints: {keep_last: 5, max_age: 30d, every: 1d}
---
apiVersion: neon-fleet/v1
kind: Tenant
metadata: {name: cust-1}
spec: {tier: free}
"""


def test_extension_blocks_reach_the_model(tmp_path: Path):
    (tmp_path / "fleet.yaml").write_text(FLEET)
    desired = load_fleet(tmp_path / "fleet.yaml")
    fleet = desired.fleet
    assert fleet.pricing == Pricing(
        currency="USD",
        rates={
            "compute_unit_seconds": Rate(0.16, 3600.0),
            "public_network_transfer_bytes": Rate(0.1, 1073741824.0),
        },
    )
    assert fleet.quota_thresholds == (0.5, 0.9)
    assert fleet.policy.drift_ignore == (
        DriftIgnore(path="quota.data_transfer_bytes", tenant="*"),
        DriftIgnore(path="branches.*", tenant="cust-*"),
    )
    policy = CheckpointPolicy(keep_last=5, max_age_seconds=30 * 86400, every_seconds=86400)
    assert desired.tiers["free"].checkpoints == policy
    assert desired.tenants["cust-1"].checkpoints == policy


def test_defaults_without_the_blocks(tmp_path: Path):
    lines = FLEET.splitlines(keepends=True)
    kept = [
        line
        for line in lines
        if not line.startswith(
            (
                "  policy:",
                "    drift_ignore",
                "  pricing:",
                "    currency",
                "    rates:",
                "      compute_unit",
                "      public_network",
                "  alerts:",
                "  checkpoints:",
            )
        )
    ]
    (tmp_path / "fleet.yaml").write_text("".join(kept))
    desired = load_fleet(tmp_path / "fleet.yaml")
    assert desired.fleet.pricing is None
    assert desired.fleet.quota_thresholds == (0.8, 0.95)
    assert desired.fleet.policy.drift_ignore == ()
    assert desired.tenants["cust-1"].checkpoints is None


def test_pricing_rejects_a_metric_neon_does_not_report(tmp_path: Path):
    (tmp_path / "fleet.yaml").write_text(FLEET.replace("compute_unit_seconds:", "cpu_hours:"))
    with pytest.raises(ManifestError, match=r"spec\.pricing\.rates"):
        load_fleet(tmp_path / "fleet.yaml")


def test_yaml_files_that_are_not_manifests_are_skipped_in_a_directory(tmp_path: Path):
    (tmp_path / "fleet.yaml").write_text(FLEET)
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "plan.yml").write_text("name: plan\non: [pull_request]\njobs: {}\n")
    assert sorted(load_fleet(tmp_path).tenants) == ["cust-1"]
    with pytest.raises(ManifestError):
        load_fleet(tmp_path / "ci" / "plan.yml")  # named explicitly: always read


def test_a_misspelt_kind_in_a_directory_is_reported_not_skipped(tmp_path: Path):
    (tmp_path / "fleet.yaml").write_text(FLEET)
    (tmp_path / "t1.yaml").write_text(
        "apiversion: neon-fleet/v1\nKind: Tenant\nmetadata: {name: cust-2}\nspec: {tier: free}\n"
    )
    with pytest.raises(ManifestError) as caught:
        load_fleet(tmp_path)
    assert str(tmp_path / "t1.yaml") in str(caught.value)


def test_a_nul_byte_is_reported_where_it_is(tmp_path: Path):
    (tmp_path / "fleet.yaml").write_text(FLEET.replace("metadata: {name: cust-1}", "metadata: \0"))
    with pytest.raises(ManifestError) as caught:
        load_fleet(tmp_path / "fleet.yaml")
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (25, 11)
    assert problem.message == "invalid YAML: control characters are not allowed (character #x0000)"
