"""Computes: create (one read_write per branch, Neon's limits), start/suspend/restart, delete."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _branch(client, clock, project: dict[str, Any], name: str) -> str:
    answer = client.post(
        f"/projects/{project['project']['id']}/branches", json={"branch": {"name": name}}
    )
    assert answer.status_code == 201
    clock.advance(2)
    branch_id: str = answer.json()["branch"]["id"]
    return branch_id


def test_create_start_suspend_restart_delete_follow_current_state(client_for, clock, project):
    client = client_for("org-paid-key")
    pid = project["project"]["id"]
    branch_id = _branch(client, clock, project, "dev")
    assert client.get(f"/projects/{pid}/branches/{branch_id}/endpoints").json()["endpoints"] == []
    created = client.post(
        f"/projects/{pid}/endpoints",
        json={"endpoint": {"branch_id": branch_id, "type": "read_write",
                           "autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 2,
                           "suspend_timeout_seconds": 600}},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    endpoint = created.json()["endpoint"]
    assert [op["action"] for op in created.json()["operations"]] == ["start_compute"]
    assert endpoint["host"].startswith(endpoint["id"] + ".") and endpoint["id"].startswith("ep-")
    assert endpoint["current_state"] == "init"
    url = f"/projects/{pid}/endpoints/{endpoint['id']}"
    clock.advance(1)
    assert client.get(url).json()["endpoint"]["current_state"] == "active"
    suspended = client.post(f"{url}/suspend")
    assert [op["action"] for op in suspended.json()["operations"]] == ["suspend_compute"]
    clock.advance(1)
    assert client.get(url).json()["endpoint"]["current_state"] == "idle"
    assert client.post(f"{url}/restart").status_code == 409  # only an active compute restarts
    started = client.post(f"{url}/start")
    assert started.status_code == 200
    assert started.json()["endpoint"]["pending_state"] == "active"
    clock.advance(1)
    assert client.get(url).json()["endpoint"]["current_state"] == "active"
    restarted = client.post(f"{url}/restart")
    assert [op["action"] for op in restarted.json()["operations"]] == [
        "suspend_compute",
        "start_compute",
    ]
    clock.advance(2)
    listed = client.get(f"/projects/{pid}/branches/{branch_id}/endpoints").json()["endpoints"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    clock.advance(600)  # the suspend timeout elapses with no connection keeping it awake
    assert client.get(url).json()["endpoint"]["current_state"] == "idle"
    deleted = client.delete(url)
    assert deleted.status_code == 200
    assert [op["action"] for op in deleted.json()["operations"]] == ["suspend_compute"]
    clock.advance(1)
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 204


def test_a_branch_has_at_most_one_read_write_endpoint(client_for, clock, project):
    client = client_for("org-paid-key")
    pid = project["project"]["id"]
    main = project["branch"]["id"]
    second = client.post(
        f"/projects/{pid}/endpoints", json={"endpoint": {"branch_id": main, "type": "read_write"}}
    )
    assert second.status_code == 409
    replica = client.post(
        f"/projects/{pid}/endpoints", json={"endpoint": {"branch_id": main, "type": "read_only"}}
    )
    assert replica.status_code == 201
    clock.advance(1)
    types = [
        e["type"]
        for e in client.get(f"/projects/{pid}/branches/{main}/endpoints").json()["endpoints"]
    ]
    assert types == ["read_write", "read_only"]


@pytest.mark.parametrize(
    ("options", "status"),
    [
        ({"autoscaling_limit_min_cu": 0.1, "autoscaling_limit_max_cu": 1}, 400),
        ({"autoscaling_limit_min_cu": 1, "autoscaling_limit_max_cu": 10}, 400),  # spread > 8
        ({"autoscaling_limit_min_cu": 10, "autoscaling_limit_max_cu": 17}, 400),  # > 16 CU
        ({"autoscaling_limit_min_cu": 2, "autoscaling_limit_max_cu": 1}, 400),
        ({"autoscaling_limit_min_cu": 56, "autoscaling_limit_max_cu": 56}, 201),  # fixed size
        ({"suspend_timeout_seconds": 604801}, 400),
        ({"suspend_timeout_seconds": -1}, 201),
        ({"region_id": "aws-eu-central-1"}, 400),
        ({"type": "primary"}, 400),
        ({"branch_id": "br-missing-00000000"}, 404),
        ({"name": "x" * 65}, 400),
    ],
)
def test_endpoint_create_checks_neons_documented_limits(
    client_for, clock, project, options, status
):
    client = client_for("org-paid-key")
    branch_id = _branch(client, clock, project, "limits")
    spec = {"branch_id": branch_id, "type": "read_write", **options}
    answer = client.post(f"/projects/{project['project']['id']}/endpoints", json={"endpoint": spec})
    assert answer.status_code == status, answer.text


def test_endpoint_routes_respect_key_scope_and_the_lock(client_for, project):
    pid = project["project"]["id"]
    url = f"/projects/{pid}/endpoints/{project['endpoints'][0]['id']}"
    assert client_for("org-free-key").post(f"{url}/start").status_code == 404
    assert client_for("tenant-key").post(f"{url}/suspend").status_code == 403
    client = client_for("org-paid-key")
    assert client.post(f"{url}/suspend").status_code == 200
    assert client.post(f"{url}/start").status_code == 423  # the suspend is still running


def test_starting_an_active_compute_keeps_it_active(client_for, clock, project):
    client = client_for("org-paid-key")
    url = f"/projects/{project['project']['id']}/endpoints/{project['endpoints'][0]['id']}"
    client.post(f"{url}/start")
    clock.advance(1)
    again = client.post(f"{url}/start").json()["endpoint"]
    assert again["current_state"] == "active" and "pending_state" not in again
