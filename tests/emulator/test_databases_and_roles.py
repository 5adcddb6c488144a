"""Databases and roles per branch: CRUD, passwords, operations, and copy-on-write branching."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _base(project: dict[str, Any], branch_id: str | None = None) -> str:
    return f"/projects/{project['project']['id']}/branches/{branch_id or project['branch']['id']}"


def test_project_create_answer_carries_default_database_role_and_uri(project):
    assert [d["name"] for d in project["databases"]] == ["neondb"]
    assert [(r["name"], r["password"][:4]) for r in project["roles"]] == [("neondb_owner", "npg_")]
    assert project["roles"][0]["password"] in project["connection_uris"][0]["connection_uri"]


def test_database_crud_schedules_apply_config_and_refuses_duplicates(client_for, clock, project):
    client = client_for("org-paid-key")
    base = _base(project)
    assert [d["name"] for d in client.get(f"{base}/databases").json()["databases"]] == ["neondb"]
    created = client.post(
        f"{base}/databases", json={"database": {"name": "app", "owner_name": "neondb_owner"}}
    )
    assert created.status_code == 201
    ops = [op["action"] for op in created.json()["operations"]]
    assert ops == ["apply_config", "suspend_compute"]  # the compute was idle
    assert client.get(f"{base}/databases/app").json()["database"]["owner_name"] == "neondb_owner"
    locked = client.post(f"{base}/roles", json={"role": {"name": "while_busy"}})
    assert locked.status_code == 423
    clock.advance(2)
    duplicate = client.post(
        f"{base}/databases", json={"database": {"name": "app", "owner_name": "neondb_owner"}}
    )
    assert duplicate.status_code == 409
    unknown_owner = client.post(
        f"{base}/databases", json={"database": {"name": "x", "owner_name": "ghost"}}
    )
    assert unknown_owner.status_code == 404
    renamed = client.patch(f"{base}/databases/app", json={"database": {"name": "app2"}})
    assert renamed.status_code == 200 and renamed.json()["database"]["name"] == "app2"
    clock.advance(2)
    assert client.get(f"{base}/databases/app").status_code == 404
    deleted = client.delete(f"{base}/databases/app2")
    assert deleted.status_code == 200 and deleted.json()["database"]["name"] == "app2"
    clock.advance(2)
    assert client.delete(f"{base}/databases/app2").status_code == 204
    assert [d["name"] for d in client.get(f"{base}/databases").json()["databases"]] == ["neondb"]


def test_role_crud_reveal_and_reset_password(client_for, clock, project):
    client = client_for("org-paid-key")
    base = _base(project)
    created = client.post(f"{base}/roles", json={"role": {"name": "app_user"}})
    assert created.status_code == 201
    password = created.json()["role"]["password"]
    assert password.startswith("npg_")
    clock.advance(2)
    assert client.post(f"{base}/roles", json={"role": {"name": "app_user"}}).status_code == 409
    assert client.post(f"{base}/roles", json={"role": {"name": "pg_x"}}).status_code == 400
    assert client.post(f"{base}/roles", json={"role": {"name": "r" * 64}}).status_code == 400
    listed = client.get(f"{base}/roles").json()["roles"]
    assert [r["name"] for r in listed] == ["app_user", "neondb_owner"]
    assert all("password" not in r for r in listed)
    assert "password" not in client.get(f"{base}/roles/app_user").json()["role"]
    revealed = client.get(f"{base}/roles/app_user/reveal_password")
    assert revealed.json() == {"password": password}
    reset = client.post(f"{base}/roles/app_user/reset_password")
    assert reset.status_code == 200
    new_password = reset.json()["role"]["password"]
    assert new_password != password and new_password.startswith("npg_")
    assert client.get(f"{base}/roles/app_user/reveal_password").json()["password"] == new_password
    clock.advance(2)
    owner_drop = client.delete(f"{base}/roles/neondb_owner")
    assert owner_drop.status_code == 409  # it owns neondb
    dropped = client.delete(f"{base}/roles/app_user")
    assert dropped.status_code == 200 and dropped.json()["operations"]
    clock.advance(2)
    assert client.delete(f"{base}/roles/app_user").status_code == 204
    assert client.get(f"{base}/roles/app_user/reveal_password").status_code == 404


def test_branch_catalogs_are_copied_at_creation_and_then_independent(client_for, clock, project):
    client = client_for("org-paid-key")
    project_id = project["project"]["id"]
    main = _base(project)
    before = client.post(f"/projects/{project_id}/branches", json={"branch": {"name": "before"}})
    clock.advance(2)
    added = client.post(f"{main}/roles", json={"role": {"name": "late"}})
    assert added.status_code == 201
    clock.advance(2)
    after = client.post(f"/projects/{project_id}/branches", json={"branch": {"name": "after"}})
    clock.advance(2)
    old_branch = _base(project, before.json()["branch"]["id"])
    new_branch = _base(project, after.json()["branch"]["id"])
    assert [r["name"] for r in client.get(f"{old_branch}/roles").json()["roles"]] == [
        "neondb_owner"
    ]
    assert [r["name"] for r in client.get(f"{new_branch}/roles").json()["roles"]] == [
        "late",
        "neondb_owner",
    ]
    child_db = client.post(
        f"{new_branch}/databases", json={"database": {"name": "only_here", "owner_name": "late"}}
    )
    assert child_db.status_code == 201 and child_db.json()["operations"] == []  # no compute
    assert client.get(f"{main}/databases/only_here").status_code == 404
    # the parent's password, copied with the role, reaches the child's connection string
    late_main = client.get(f"{main}/roles/late/reveal_password").json()["password"]
    assert client.get(f"{new_branch}/roles/late/reveal_password").json()["password"] == late_main


def test_catalog_routes_respect_key_scope(client_for, project):
    base = _base(project)
    assert client_for("org-free-key").get(f"{base}/roles").status_code == 404
    assert client_for("tenant-key").get(f"{base}/databases").status_code == 403
    missing = f"/projects/{project['project']['id']}/branches/br-missing-1/roles"
    assert client_for("org-paid-key").get(missing).status_code == 404
