"""Databases, roles, connection secrets, Neon Auth and branch computes in manifests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.core.catalog import (
    AuthSpec,
    BranchCompute,
    ConnectionSecretSpec,
    DatabaseSpec,
    RoleSpec,
)
from reconciler.core.model import DesiredFleet, Sourced
from reconciler.errors import ManifestError
from reconciler.manifests import load_fleet
from tests.manifests.conftest import FLEET, TIER, tenant_yaml

SINK = "  secrets: {file: .secrets}\n"
TIER_WITH_ACCESS = (
    TIER
    + "  databases: [{name: app, owner: app_owner}]\n"
    + "  roles: [{name: app_owner}]\n"
    + "  connection_secrets:\n"
    + "    - {name: app-direct, role: app_owner, database: app}\n"
    + "    - {name: app-pooled, role: app_owner, database: app, pooled: true}\n"
)


def load(root: Path) -> DesiredFleet:
    return load_fleet(root, now=datetime(2026, 1, 15, tzinfo=UTC))


def problems(root: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load(root)
    return [f"{p.field}: {p.message}" for p in caught.value.problems]


def test_tier_values_are_inherited_with_their_origin_and_absent_keys_are_unmanaged(write_fleet):
    root = write_fleet(
        tenant_yaml("  tier: free\n"),
        tenant_yaml("  tier: free\n  roles: [{name: app_owner}, {name: ro}]\n", name="cust-2"),
        fleet=FLEET + SINK,
        tier=TIER_WITH_ACCESS,
    )
    fleet = load(root)
    one, two = fleet.tenants["cust-1"], fleet.tenants["cust-2"]
    assert one.databases == Sourced((DatabaseSpec("app", "app_owner"),), "tier free")
    assert one.roles == Sourced((RoleSpec("app_owner"),), "tier free")
    assert one.connection_secrets is not None
    assert one.connection_secrets.value == (
        ConnectionSecretSpec("app-direct", "app_owner", "app"),
        ConnectionSecretSpec("app-pooled", "app_owner", "app", pooled=True),
    )
    assert one.auth is None and one.manages_catalog
    # The tenant's list replaces the tier's as a whole.
    assert two.roles == Sourced((RoleSpec("app_owner"), RoleSpec("ro")), "tenant cust-2")
    assert two.databases is not None and two.databases.origin == "tier free"


def test_plain_tenants_manage_nothing_of_it(write_fleet):
    tenant = load(write_fleet(tenant_yaml("  tier: free\n"))).tenants["cust-1"]
    assert (tenant.databases, tenant.roles, tenant.connection_secrets, tenant.auth) == (
        None,
        None,
        None,
        None,
    )
    assert not tenant.manages_catalog


def test_auth_and_branch_compute_are_read(write_fleet):
    spec = (
        "  tier: free\n  databases: [{name: neondb, owner: neondb_owner}]\n"
        "  auth: {provider: better_auth, database: neondb}\n"
        "  branches:\n    - {name: dev, compute: {min_cu: 0.25, max_cu: 1, suspend_timeout: 300}}\n"
    )
    tenant = load(write_fleet(tenant_yaml(spec), fleet=FLEET + SINK)).tenants["cust-1"]
    assert tenant.auth == Sourced(AuthSpec("better_auth", "neondb"), "tenant cust-1")
    assert tenant.branches[0].compute == BranchCompute(0.25, 1, 300)


def test_references_are_checked_where_they_are_set(write_fleet):
    spec = (
        "  tier: free\n"
        "  databases: [{name: app, owner: app_ownr}, {name: app, owner: app_owner}]\n"
        "  roles: [{name: app_owner}]\n"
        "  connection_secrets:\n"
        "    - {name: s, role: nobody, database: appp, branch: dev}\n"
        "  auth: {provider: better_auth, database: other}\n"
        "  branches:\n    - {name: dev}\n"
    )
    assert problems(write_fleet(tenant_yaml(spec), fleet=FLEET + SINK)) == [
        "spec.databases[0].owner: database 'app': unknown owner role 'app_ownr'; "
        "did you mean 'app_owner'?",
        "spec.databases[1].name: duplicate name 'app'; already declared at spec.databases[0]",
        "spec.connection_secrets[0].role: unknown role 'nobody' (expected one of: app_owner)",
        "spec.connection_secrets[0].database: unknown database 'appp'; did you mean 'app'?",
        "spec.connection_secrets[0].branch: unknown branch with a compute 'dev' "
        "(expected one of: main)",
        "spec.auth.database: unknown database 'other' (expected one of: app)",
    ]


def test_secrets_need_a_sink_and_a_branch_compute_range_is_checked(write_fleet):
    spec = (
        "  tier: free\n  connection_secrets: [{name: s, role: r, database: d}]\n"
        "  branches:\n    - {name: dev, compute: {min_cu: 2, max_cu: 1}}\n"
    )
    assert problems(write_fleet(tenant_yaml(spec))) == [
        "spec.connection_secrets: connection_secrets deliver secrets, "
        "but the Fleet declares no secrets sink",
        "spec.branches[0].compute: min_cu 2 is greater than max_cu 1",
    ]


def test_a_bad_name_is_a_schema_problem_with_its_line(write_fleet):
    root = write_fleet(tenant_yaml("  tier: free\n  roles: [{name: 'bad name'}]\n"))
    (problem,) = problems(root)
    assert problem.startswith("spec.roles[0].name: must be a Postgres name")


def test_a_secret_may_not_take_an_api_key_or_neon_auth_file_in_the_sink(write_fleet):
    spec = (
        "  tier: free\n  api_keys: [{name: runtime}]\n"
        "  connection_secrets:\n"
        "    - {name: runtime, role: r, database: d}\n"
        "    - {name: neon-auth, role: r, database: d}\n"
    )
    assert problems(write_fleet(tenant_yaml(spec), fleet=FLEET + SINK)) == [
        "spec.connection_secrets[0].name: 'runtime' is taken in the secret sink "
        "(an API key, or Neon Auth)",
        "spec.connection_secrets[1].name: 'neon-auth' is taken in the secret sink "
        "(an API key, or Neon Auth)",
    ]
