"""fleet.example loads, with the expected effective values, origins and digests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from reconciler.core.model import BranchSpec, Sourced
from reconciler.manifests import fleet_parts_for, load_fleet, tenant_digest

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


@pytest.fixture(scope="module")
def fleet():
    return load_fleet(EXAMPLE)


def test_fleet_config(fleet):
    config = fleet.fleet
    assert config.name == "acme"
    assert {a: (o.id, o.api_key_env) for a, o in config.orgs.items()} == {
        "free": ("org-free-1", "NEON_FREE_ORG_KEY"),
        "paid": ("org-paid-1", "NEON_PAID_ORG_KEY"),
    }
    assert config.personal_api_key_env == "NEON_PERSONAL_KEY"
    assert (config.region, config.pg_version) == ("aws-us-east-2", 17)
    assert config.project_name_template == "t-{tenant}"
    assert config.policy.max_deletes == 2 and config.policy.parallelism == 8
    assert config.policy.prune is False and config.policy.prune_branches is False
    assert config.policy.old_branch_max_age_seconds == 7 * 86400
    assert config.ledger_url == "sqlite:///.fleet/ledger.db"
    assert (config.secrets.kind, config.secrets.target) == ("file", ".fleet/secrets")


def test_tiers(fleet):
    assert list(fleet.tiers) == ["free", "pro"]
    free, pro = fleet.tiers["free"], fleet.tiers["pro"]
    assert free.org_alias == "free" and pro.org_alias == "paid"
    assert free.quota["compute_time_seconds"] == 9000 and free.max_branches == 5
    assert "data_transfer_bytes" not in pro.quota  # deliberately not managed
    assert pro.compute == {
        "autoscaling_limit_min_cu": 0.5,
        "autoscaling_limit_max_cu": 4,
        "suspend_timeout_seconds": 0,
    }


def test_tenants_are_sorted_by_name_and_cover_the_features(fleet):
    tenants = fleet.tenants
    assert list(tenants) == sorted(tenants) and len(tenants) >= 6
    assert any(t.lifecycle.prevent_destroy for t in tenants.values())
    assert any(t.lifecycle.ignore_changes for t in tenants.values())
    assert any(t.api_keys for t in tenants.values())
    assert any(b.protected for t in tenants.values() for b in t.branches)
    assert any(b.expires_in_seconds for t in tenants.values() for b in t.branches)
    assert {t.org_id for t in tenants.values()} == {"org-free-1", "org-paid-1"}


def test_overrides_and_origins_of_cust_00042(fleet):
    t = fleet.tenants["cust-00042"]
    assert (t.tier, t.org_alias, t.org_id) == ("free", "free", "org-free-1")
    assert t.project_name == "t-cust-00042"
    assert t.region == Sourced("aws-us-east-2", "fleet defaults")
    assert t.pg_version == Sourced(17, "fleet defaults")
    assert t.quota["compute_time_seconds"] == Sourced(18000, "tenant cust-00042")
    assert t.quota["active_time_seconds"] == Sourced(36000, "tier free")
    assert t.compute["autoscaling_limit_max_cu"] == Sourced(1, "tier free")
    assert t.branches == (
        BranchSpec(name="staging", parent="main"),
        BranchSpec(name="preview-pr-7", parent="staging", expires_in_seconds=7 * 86400),
    )
    assert [k.name for k in t.api_keys] == ["runtime"]
    assert t.lifecycle.prevent_destroy is True
    assert t.lifecycle.ignore_changes == ("quota.data_transfer_bytes",)
    assert t.labels == {"plan": "free", "owner": "team-growth"}
    assert t.max_branches == 5
    assert t.location is not None and t.location.path.endswith("cust-00042.yaml")
    assert t.location.line == 4


def test_pro_tenant_overrides_region_version_and_protects_main(fleet):
    t = fleet.tenants["cust-00100"]
    assert t.org_id == "org-paid-1"
    assert t.region == Sourced("aws-eu-central-1", "tenant cust-00100")
    assert t.pg_version == Sourced(16, "tenant cust-00100")
    assert t.history_retention_seconds == Sourced(604800, "tenant cust-00100")
    assert t.compute["autoscaling_limit_max_cu"] == Sourced(8, "tenant cust-00100")
    assert t.compute["autoscaling_limit_min_cu"] == Sourced(0.5, "tier pro")
    assert "data_transfer_bytes" not in t.quota
    assert t.branches[0] == BranchSpec(name="main", parent="", protected=True)


def test_zero_quota_is_kept_as_unlimited_and_hipaa(fleet):
    t = fleet.tenants["cust-00101"]
    assert t.quota["written_data_bytes"] == Sourced(0, "tenant cust-00101")
    assert t.hipaa is True
    assert t.lifecycle.ignore_changes == ("compute.suspend_timeout_seconds",)
    assert fleet.tenants["cust-00043"].hipaa is None
    assert fleet.tenants["cust-00043"].project_id is None


def test_multi_document_file_yields_several_tenants(fleet):
    agents = [t for t in fleet.tenants.values() if t.location.path.endswith("agents.yaml")]
    assert [t.name for t in agents] == ["agent-run-0001", "agent-run-0002"]
    assert agents[0].compute["suspend_timeout_seconds"] == Sourced(60, "tenant agent-run-0001")


def test_tenant_digest_is_the_public_function_over_its_inputs(fleet):
    fleet_doc = yaml.safe_load((EXAMPLE / "fleet.yaml").read_text())
    tiers = {
        d["metadata"]["name"]: d for d in yaml.safe_load_all((EXAMPLE / "tiers.yaml").read_text())
    }
    tenant_doc = yaml.safe_load((EXAMPLE / "tenants" / "cust-00042.yaml").read_text())
    parts = fleet_parts_for(fleet_doc, "free")
    assert fleet.tenants["cust-00042"].digest == tenant_digest(tenant_doc, tiers["free"], parts)


def test_digests_ignore_file_layout_formatting_and_comments(fleet, tmp_path):
    docs = [
        EXAMPLE / "fleet.yaml",
        EXAMPLE / "tiers.yaml",
        *sorted((EXAMPLE / "tenants").glob("*.yaml")),
    ]
    parsed = [d for path in docs for d in yaml.safe_load_all(path.read_text())]
    # One file, reversed order, flow style, no comments.
    (tmp_path / "all.yml").write_text(
        yaml.safe_dump_all(reversed(parsed), default_flow_style=True, sort_keys=False)
    )
    again = load_fleet(tmp_path / "all.yml")
    assert again.digest == fleet.digest
    assert {n: t.digest for n, t in again.tenants.items()} == {
        n: t.digest for n, t in fleet.tenants.items()
    }


def test_digests_move_only_for_tenants_whose_inputs_moved(fleet, tmp_path):
    copy = tmp_path / "fleet"
    shutil.copytree(EXAMPLE, copy)
    tiers = copy / "tiers.yaml"
    tiers.write_text(tiers.read_text().replace("max_branches: 20", "max_branches: 21"))
    changed = load_fleet(copy)
    assert changed.digest != fleet.digest
    moved = {n for n, t in changed.tenants.items() if t.digest != fleet.tenants[n].digest}
    assert moved == {n for n, t in fleet.tenants.items() if t.tier == "pro"}


def test_every_example_file_carries_the_schema_modeline():
    for path in sorted(EXAMPLE.rglob("*.yaml")):
        first = path.read_text().splitlines()[0]
        kind = (
            "fleet"
            if path.name == "fleet.yaml"
            else "tier"
            if path.name == "tiers.yaml"
            else "tenant"
        )
        rel = "../" * (len(path.relative_to(EXAMPLE).parts))
        assert first == f"# yaml-language-server: $schema={rel}schemas/{kind}.schema.json", path
        assert (path.parent / first.split("$schema=")[1]).resolve().exists()
