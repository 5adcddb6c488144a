"""The schema files are valid 2020-12 schemas, ship in the package and agree with each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.manifests import SCHEMA_FILES, load_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "fleet.example"


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_schema_is_a_valid_draft_2020_12_schema(kind):
    schema = load_schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["kind"] == {"const": kind}
    assert schema["properties"]["apiVersion"] == {"const": "neon-fleet/v1"}


@pytest.mark.parametrize("kind", sorted(SCHEMA_FILES))
def test_packaged_schema_is_the_top_level_file(kind):
    on_disk = json.loads((ROOT / "schemas" / SCHEMA_FILES[kind]).read_text())
    assert load_schema(kind) == on_disk


def test_shared_definitions_are_identical_across_schemas():
    tier, tenant, fleet = (load_schema(k)["$defs"] for k in ("Tier", "Tenant", "Fleet"))
    for name in ("name", "metadata", "quota_value", "quota", "compute_units", "compute"):
        assert tier[name] == tenant[name], name
    for name in ("name", "metadata", "region", "pg_version", "duration"):
        assert fleet[name] == tenant[name], name


def test_every_example_document_is_valid_against_its_kind_schema():
    count = 0
    for path in sorted(EXAMPLE.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            Draft202012Validator(load_schema(doc["kind"])).validate(doc)
            count += 1
    assert count >= 9


def test_issue_shaped_manifests_are_valid():
    issue = """
apiVersion: neon-fleet/v1
kind: Tenant
metadata: {name: cust-00042}
spec:
  tier: free
  quota: {compute_time_seconds: 18000}
  branches:
    - {name: staging, parent: main}
    - {name: preview-pr-7, expires_in: 7d}
  api_keys: [{name: runtime}]
  lifecycle: {prevent_destroy: true, ignore_changes: [quota.data_transfer_bytes]}
"""
    Draft202012Validator(load_schema("Tenant")).validate(yaml.safe_load(issue))
