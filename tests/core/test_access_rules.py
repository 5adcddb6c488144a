"""The pure rules for databases, roles, Neon Auth and connection-secret shapes."""

from __future__ import annotations

from dataclasses import replace

from reconciler.core.access_rules import (
    NEW_PROJECT_CATALOG,
    AuthDiff,
    OwnerChange,
    diff_auth,
    diff_catalog,
    secret_shape,
    shape_fingerprint,
)
from reconciler.core.catalog import (
    AuthSpec,
    ConnectionSecretSpec,
    DatabaseSpec,
    LiveCatalog,
    LiveDatabase,
    LiveRole,
    RoleSpec,
)
from reconciler.core.model import DesiredTenant, Lifecycle, Policy, Sourced
from tests.core.factories import tenant

PRUNE = Policy(prune_databases=True)


def _declared(dbs: list[tuple[str, str]], roles: list[str] | None) -> DesiredTenant:
    return replace(
        tenant("cust-1"),
        databases=Sourced(tuple(DatabaseSpec(n, o) for n, o in dbs), "tier free"),
        roles=None if roles is None else Sourced(tuple(map(RoleSpec, roles)), "tier free"),
    )


def test_renaming_away_from_neondb_creates_then_prunes():
    wanted = _declared([("app", "app_owner")], ["app_owner"])
    diff = diff_catalog(wanted, NEW_PROJECT_CATALOG, PRUNE)
    assert diff.create_roles == ("app_owner",)
    assert diff.create_databases == (DatabaseSpec("app", "app_owner"),)
    assert diff.delete_databases == (LiveDatabase("neondb", "neondb_owner"),)
    assert diff.delete_roles == ("neondb_owner",)
    assert not diff.blockers and not diff.warnings


def test_without_prune_undeclared_ones_are_kept_with_a_warning():
    diff = diff_catalog(
        _declared([("app", "app_owner")], ["app_owner"]), NEW_PROJECT_CATALOG, Policy()
    )
    assert diff.delete_databases == () and diff.delete_roles == ()
    assert [w.split(":")[0] for w in diff.warnings] == ["cust-1", "cust-1"]
    assert "policy.prune_databases" in diff.warnings[0]


def test_prevent_destroy_blocks_a_database_deletion():
    wanted = replace(
        _declared([("app", "app_owner")], ["app_owner"]),
        lifecycle=Lifecycle(prevent_destroy=True),
    )
    diff = diff_catalog(wanted, NEW_PROJECT_CATALOG, PRUNE)
    assert diff.delete_databases == ()
    assert diff.blockers and "destroy their data" in diff.blockers[0]


def test_keeping_neondb_and_unmanaged_roles():
    diff = diff_catalog(_declared([("neondb", "neondb_owner")], None), NEW_PROJECT_CATALOG, PRUNE)
    assert diff.empty and not diff.warnings


def test_an_owner_change_and_a_role_that_still_owns_something_stays():
    live = LiveCatalog(
        "br-1",
        (LiveDatabase("app", "old_owner"), LiveDatabase("other", "keeper")),
        (LiveRole("old_owner"), LiveRole("keeper"), LiveRole("system", protected=True)),
    )
    wanted = replace(_declared([("app", "new_owner")], ["new_owner"]), databases=None)
    wanted = replace(wanted, databases=Sourced((DatabaseSpec("app", "new_owner"),), "t"))
    diff = diff_catalog(wanted, live, Policy(prune_databases=True))
    assert diff.change_owners == (OwnerChange("app", "old_owner", "new_owner"),)
    # "other" is pruned, so keeper owns nothing that stays; old_owner loses app.
    assert diff.delete_databases == (LiveDatabase("other", "keeper"),)
    assert diff.delete_roles == ("keeper", "old_owner")
    unmanaged_dbs = replace(wanted, databases=None)
    kept = diff_catalog(unmanaged_dbs, live, Policy(prune_databases=True))
    assert kept.delete_roles == () and "still own databases" in kept.warnings[0]


def test_auth_on_off_and_moves():
    on = replace(tenant("cust-1"), auth=Sourced(AuthSpec("better_auth", "app"), "tenant cust-1"))
    off = tenant("cust-1")
    assert diff_auth(on, None, Policy()) == AuthDiff(enable=AuthSpec("better_auth", "app"))
    assert diff_auth(on, "app", Policy()) == AuthDiff()
    assert diff_auth(off, None, Policy()) == AuthDiff()
    assert "allow_auth_removal" in diff_auth(off, "app", Policy()).blocker
    assert diff_auth(off, "app", Policy(allow_auth_removal=True)) == AuthDiff(disable="app")
    assert "does not move it" in diff_auth(on, "neondb", Policy()).blocker


def test_a_shape_changes_with_the_endpoint_and_the_org_but_holds_no_secret():
    spec = ConnectionSecretSpec("app", "app_owner", "app", pooled=True)
    shape = secret_shape(
        "cust-1", spec, project_id="p-1", org_id="org-1", branch_id="br-1", endpoint_id="ep-1"
    )
    moved = {**shape, "org_id": "org-2"}
    other = {**shape, "endpoint_id": "ep-2"}
    prints = {shape_fingerprint(s) for s in (shape, moved, other)}
    assert len(prints) == 3 and all(p.startswith("sha256:") for p in prints)
    assert shape_fingerprint(dict(reversed(list(shape.items())))) == shape_fingerprint(shape)
