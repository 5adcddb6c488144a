"""Branch set_as_default, restore/reset, snapshot schedules, snapshot expiry updates, Neon Auth.

Every answer goes through ``ContractTransport`` (conftest), so each is also checked against the
official OpenAPI document.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.emulator import ids

pytestmark = pytest.mark.integration


@pytest.fixture
def project(client_for, clock) -> str:
    client = client_for("org-paid-key")
    body = client.post("/projects", json={"project": {"name": "actions"}}).json()
    clock.advance(2)
    return str(body["project"]["id"])


def _default_branch(client, project: str) -> dict[str, Any]:
    branches = client.get(f"/projects/{project}/branches").json()["branches"]
    return next(b for b in branches if b["default"])


def _child(client, clock, project: str, name: str, parent_id: str | None = None) -> str:
    branch: dict[str, Any] = {"name": name}
    if parent_id:
        branch["parent_id"] = parent_id
    created = client.post(f"/projects/{project}/branches", json={"branch": branch})
    assert created.status_code == 201, created.text
    clock.advance(2)
    return str(created.json()["branch"]["id"])


def test_set_as_default_moves_the_default_flag(client_for, clock, project):
    client = client_for("org-paid-key")
    main = _default_branch(client, project)
    dev = _child(client, clock, project, "dev")
    answer = client.post(f"/projects/{project}/branches/{dev}/set_as_default")
    assert answer.status_code == 200
    assert answer.json()["branch"]["default"] is True and answer.json()["operations"] == []
    assert _default_branch(client, project)["id"] == dev
    assert (
        client.get(f"/projects/{project}/branches/{main['id']}").json()["branch"]["default"]
        is False
    )
    missing = client.post(f"/projects/{project}/branches/br-missing-1/set_as_default")
    assert missing.status_code == 404


def test_reset_from_parent_as_neonctl_sends_it(client_for, clock, project):
    client = client_for("org-paid-key")
    main = _default_branch(client, project)
    dev = _child(client, clock, project, "dev")
    answer = client.post(
        f"/projects/{project}/branches/{dev}/restore", json={"source_branch_id": main["id"]}
    )
    assert answer.status_code == 200, answer.text
    branch = answer.json()["branch"]
    assert branch["id"] == dev and branch["name"] == "dev" and branch["parent_id"] == main["id"]
    assert branch["last_reset_at"]
    assert [op["action"] for op in answer.json()["operations"]] == ["create_timeline"]


def test_restore_from_itself_needs_a_point_in_time_and_preserve_under_name(
    client_for, clock, project
):
    client = client_for("org-paid-key")
    main = _default_branch(client, project)
    child = _child(client, clock, project, "child")
    url = f"/projects/{project}/branches/{main['id']}/restore"
    assert client.post(url, json={"source_branch_id": main["id"]}).status_code == 400
    at = main["created_at"]  # the earliest point of its history
    no_preserve = client.post(url, json={"source_branch_id": main["id"], "source_timestamp": at})
    assert no_preserve.status_code == 400
    point = {"source_branch_id": main["id"], "source_timestamp": at}
    taken = client.post(url, json={**point, "preserve_under_name": "child"})
    assert taken.status_code == 409
    done = client.post(url, json={**point, "preserve_under_name": "kept"})
    assert done.status_code == 200, done.text
    restored = done.json()["branch"]
    assert restored["id"] == main["id"] and restored["name"] == main["name"] and restored["default"]
    actions = [op["action"] for op in done.json()["operations"]]
    assert actions == ["create_timeline", "suspend_compute", "start_compute"]
    backup = client.get(f"/projects/{project}/branches/{restored['parent_id']}").json()["branch"]
    assert backup["name"] == "kept" and not backup["default"]
    moved = client.get(f"/projects/{project}/branches/{child}").json()["branch"]
    assert moved["parent_id"] == backup["id"]  # children move to the preserved branch


def test_restore_rejects_points_outside_the_window_and_bad_bodies(client_for, clock, project):
    client = client_for("org-paid-key")
    main = _default_branch(client, project)
    dev = _child(client, clock, project, "dev")
    url = f"/projects/{project}/branches/{dev}/restore"
    too_old = ids.timestamp(clock.now - 10 * 86400)
    assert (
        client.post(
            url, json={"source_branch_id": main["id"], "source_timestamp": too_old}
        ).status_code
        == 400
    )
    before_main = ids.timestamp(ids.parse_timestamp(main["created_at"]) - 1)
    early = {"source_branch_id": main["id"], "source_timestamp": before_main}
    assert client.post(url, json=early).status_code == 400
    both = {"source_branch_id": main["id"], "source_lsn": "0/1", "source_timestamp": too_old}
    assert client.post(url, json=both).status_code == 400
    assert client.post(url, json={}).status_code == 400
    assert client.post(url, json={"source_branch_id": "br-nope-1"}).status_code == 404


def test_backup_schedule_get_put_round_trip(client_for, clock, project):
    client = client_for("org-paid-key")
    main = _default_branch(client, project)
    url = f"/projects/{project}/branches/{main['id']}/backup_schedule"
    assert client.get(url).json() == {"schedule": []}
    schedule = [
        {"frequency": "daily", "hour": 3, "retention_seconds": 86400},
        {"frequency": "weekly", "day": 1},
    ]
    put = client.put(url, json={"schedule": schedule})
    assert put.status_code == 200 and put.json() == {}
    assert client.get(url).json() == {"schedule": schedule}
    bad_items = [
        {"frequency": "minutely"},
        {"frequency": "daily", "hour": 24},
        {"frequency": "daily", "retention_seconds": 60},
        {"frequency": "daily", "x": 1},
    ]
    for bad in bad_items:
        assert client.put(url, json={"schedule": [bad]}).status_code == 400, bad
    dev = _child(client, clock, project, "dev")
    on_child = client.put(
        f"/projects/{project}/branches/{dev}/backup_schedule", json={"schedule": schedule}
    )
    assert on_child.status_code == 400


def test_snapshot_patch_sets_clears_and_keeps_expires_at(client_for, clock, project):
    client = client_for("org-paid-key")
    main = _default_branch(client, project)
    created = client.post(
        f"/projects/{project}/branches/{main['id']}/snapshot", params={"name": "s"}
    )
    snapshot_id = created.json()["snapshot"]["id"]
    clock.advance(2)
    url = f"/projects/{project}/snapshots/{snapshot_id}"
    later = ids.timestamp(clock.now + 3600)
    assert (
        client.patch(url, json={"snapshot": {"expires_at": later}}).json()["snapshot"]["expires_at"]
        == later
    )
    renamed = client.patch(url, json={"snapshot": {"name": "t"}}).json()["snapshot"]
    assert renamed["name"] == "t" and renamed["expires_at"] == later  # absent leaves it
    cleared = client.patch(url, json={"snapshot": {"expires_at": None}}).json()["snapshot"]
    assert "expires_at" not in cleared
    past = ids.timestamp(clock.now - 1)
    assert client.patch(url, json={"snapshot": {"expires_at": past}}).status_code == 400
    client.patch(url, json={"snapshot": {"expires_at": later}})
    clock.advance(3601)  # the new expiry is the one Neon acts on
    assert client.get(f"/projects/{project}/snapshots").json()["snapshots"] == []


def test_neon_auth_enable_get_disable_and_users(client_for, clock, project):
    client = client_for("org-paid-key")
    main = _default_branch(client, project)
    url = f"/projects/{project}/branches/{main['id']}/auth"
    assert client.get(url).status_code == 404
    assert client.post(url, json={"auth_provider": "stack"}).status_code == 400
    created = client.post(url, json={"auth_provider": "better_auth"})
    assert created.status_code == 201
    keys = created.json()
    assert keys["pub_client_key"] and keys["secret_server_key"]
    assert client.post(url, json={"auth_provider": "better_auth"}).status_code == 409
    got = client.get(url).json()
    assert got["branch_id"] == main["id"] and got["db_name"] == "neondb"
    assert "secret_server_key" not in got and "pub_client_key" not in got  # shown once
    user = client.post(url + "/users", json={"email": "a@example.com", "name": "A"})
    assert user.status_code == 201
    assert client.post(url + "/users", json={"email": "a@example.com"}).status_code == 409
    assert client.post(url + "/users", json={"email": "nope"}).status_code == 400
    assert client.delete(url + f"/users/{user.json()['id']}").status_code == 204
    assert client.delete(url + f"/users/{user.json()['id']}").status_code == 404
    assert client.request("DELETE", url, json={"delete_data": True}).status_code == 200
    assert client.get(url).status_code == 404


def _database_names(client, project: str, branch: str) -> set[str]:
    answer = client.get(f"/projects/{project}/branches/{branch}/databases")
    assert answer.status_code == 200, answer.text
    return {d["name"] for d in answer.json()["databases"]}


def test_restore_takes_the_sources_databases_and_a_preserved_branch_keeps_the_old_ones(
    client_for, clock, project
):
    client = client_for("org-paid-key")
    main = _default_branch(client, project)["id"]
    dev = _child(client, clock, project, "dev")
    made = client.post(
        f"/projects/{project}/branches/{dev}/databases",
        json={"database": {"name": "scratch", "owner_name": "neondb_owner"}},
    )
    assert made.status_code == 201, made.text
    clock.advance(2)
    assert _database_names(client, project, dev) == {"neondb", "scratch"}
    kept = client.post(
        f"/projects/{project}/branches/{dev}/restore",
        json={"source_branch_id": main, "preserve_under_name": "dev-before"},
    )
    assert kept.status_code == 200, kept.text
    clock.advance(2)
    assert _database_names(client, project, dev) == {"neondb"}  # main's, as on Neon
    preserved = kept.json()["branch"]["parent_id"]
    assert _database_names(client, project, preserved) == {"neondb", "scratch"}


def test_a_new_branch_answers_with_its_parents_current_roles(client_for, clock, project):
    client = client_for("org-paid-key")
    main = _default_branch(client, project)["id"]
    role = client.post(
        f"/projects/{project}/branches/{main}/roles", json={"role": {"name": "app_user"}}
    )
    assert role.status_code == 201, role.text
    clock.advance(2)
    created = client.post(f"/projects/{project}/branches", json={"branch": {"name": "feature"}})
    assert created.status_code == 201, created.text
    assert {r["name"] for r in created.json()["roles"]} == {"neondb_owner", "app_user"}
