"""Branches (``pagination.next`` dialect), endpoints, and the 423 lock while operations run."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.emulator import Emulator, seed_from_mapping
from tests.emulator.conftest import BASE_SEED, ContractTransport, FakeClock

pytestmark = pytest.mark.integration


@pytest.fixture
def project(client_for, clock) -> str:
    client = client_for("org-paid-key")
    project_id: str = client.post("/projects", json={"project": {"name": "b"}}).json()["project"][
        "id"
    ]
    clock.advance(2)
    return project_id


def test_mutation_gets_423_while_operations_run_then_succeeds(client_for, clock):
    client = client_for("org-paid-key")
    created = client.post("/projects", json={"project": {"name": "busy"}})
    project_id = created.json()["project"]["id"]
    locked = client.post(f"/projects/{project_id}/branches", json={"branch": {"name": "dev"}})
    assert locked.status_code == 423
    assert "running operations" in locked.json()["message"]
    clock.advance(0.6)  # create_timeline finished, start_compute still running
    assert (
        client.patch(f"/projects/{project_id}", json={"project": {"name": "x"}}).status_code == 423
    )
    clock.advance(0.5)
    ok = client.post(f"/projects/{project_id}/branches", json={"branch": {"name": "dev"}})
    assert ok.status_code == 201


def test_branch_crud_and_endpoint_patch(client_for, clock, project):
    client = client_for("org-paid-key")
    created = client.post(
        f"/projects/{project}/branches",
        json={"branch": {"name": "preview", "protected": False},
              "endpoints": [{"type": "read_write", "autoscaling_limit_max_cu": 2}]},
    )  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    branch_id = body["branch"]["id"]
    assert body["branch"]["parent_id"] and body["branch"]["current_state"] == "init"
    assert [op["action"] for op in body["operations"]] == ["create_branch", "start_compute"]
    assert body["endpoints"][0]["autoscaling_limit_max_cu"] == 2
    assert body["connection_uris"]
    assert client.post(f"/projects/{project}/branches", json={}).status_code == 423
    clock.advance(1.1)
    got = client.get(f"/projects/{project}/branches/{branch_id}").json()
    assert got["branch"]["current_state"] == "ready"
    dup = client.post(f"/projects/{project}/branches", json={"branch": {"name": "preview"}})
    assert dup.status_code == 409
    expires = "2026-06-01T00:00:00Z"  # clock starts at 2026-05-28
    patched = client.patch(
        f"/projects/{project}/branches/{branch_id}",
        json={"branch": {"name": "preview2", "expires_at": expires}},
    ).json()["branch"]
    assert patched["name"] == "preview2" and patched["expires_at"] == expires
    cleared = client.patch(
        f"/projects/{project}/branches/{branch_id}", json={"branch": {"expires_at": None}}
    ).json()["branch"]
    assert "expires_at" not in cleared
    endpoints = client.get(f"/projects/{project}/endpoints").json()["endpoints"]
    assert len(endpoints) == 2
    mine = next(e for e in endpoints if e["branch_id"] == branch_id)
    updated = client.patch(
        f"/projects/{project}/endpoints/{mine['id']}",
        json={"endpoint": {"autoscaling_limit_min_cu": 0.5, "suspend_timeout_seconds": 600}},
    )
    assert updated.status_code == 200
    assert updated.json()["endpoint"]["suspend_timeout_seconds"] == 600
    assert [op["action"] for op in updated.json()["operations"]] == ["apply_config"]
    bad = client.patch(
        f"/projects/{project}/endpoints/{mine['id']}",
        json={"endpoint": {"autoscaling_limit_min_cu": 1, "autoscaling_limit_max_cu": 16}},
    )
    assert bad.status_code in (400, 423)
    clock.advance(1)
    assert (
        client.patch(
            f"/projects/{project}/endpoints/{mine['id']}",
            json={"endpoint": {"autoscaling_limit_min_cu": 1, "autoscaling_limit_max_cu": 16}},
        ).status_code
        == 400
    )
    deleted = client.delete(f"/projects/{project}/branches/{branch_id}")
    assert deleted.status_code == 200
    assert [op["action"] for op in deleted.json()["operations"]] == [
        "suspend_compute",
        "delete_timeline",
    ]
    gone = client.delete(f"/projects/{project}/branches/{branch_id}")
    assert gone.status_code == 204 and gone.content == b""
    assert client.get(f"/projects/{project}/branches/{branch_id}").status_code == 404


def test_default_branch_cannot_be_deleted(client_for, project):
    client = client_for("org-paid-key")
    [main] = client.get(f"/projects/{project}/branches").json()["branches"]
    assert client.delete(f"/projects/{project}/branches/{main['id']}").status_code == 400


def test_expiry_rules(client_for, project):
    client = client_for("org-paid-key")
    url = f"/projects/{project}/branches"
    far = {"branch": {"name": "x", "expires_at": "2027-01-01T00:00:00Z"}}
    assert client.post(url, json=far).status_code == 400
    protected = {"branch": {"name": "y", "protected": True, "expires_at": "2026-06-01T00:00:00Z"}}
    assert client.post(url, json=protected).status_code == 400


@pytest.fixture(scope="module")
def many_branches() -> Iterator[tuple[Emulator, str]]:
    seed = dict(BASE_SEED, operation_duration_ms=0)
    emulator = Emulator(None, seed_from_mapping(seed), clock=FakeClock())
    headers = {"Authorization": "Bearer org-paid-key"}
    transport = httpx.WSGITransport(app=emulator)
    with httpx.Client(transport=transport, base_url="http://e/api/v2", headers=headers) as client:
        project_id = client.post("/projects", json={"project": {}}).json()["project"]["id"]
        for n in range(402):
            answer = client.post(
                f"/projects/{project_id}/branches", json={"branch": {"name": f"b{n:03d}"}}
            )
            assert answer.status_code == 201
    yield emulator, project_id
    emulator.close()


@pytest.mark.parametrize("limit", [1, 7, 400])
@pytest.mark.parametrize(("sort_by", "sort_order"), [("updated_at", "desc"), ("name", "asc")])
def test_branches_paginate_to_the_last_page(many_branches, limit, sort_by, sort_order):
    emulator, project_id = many_branches
    transport = ContractTransport(httpx.WSGITransport(app=emulator))
    headers = {"Authorization": "Bearer org-paid-key"}
    names: list[str] = []
    with httpx.Client(transport=transport, base_url="http://e/api/v2", headers=headers) as client:
        params: dict[str, str | int] = {
            "limit": limit,
            "sort_by": sort_by,
            "sort_order": sort_order,
        }
        while True:
            body = client.get(f"/projects/{project_id}/branches", params=params).json()
            names += [b["name"] for b in body["branches"]]
            assert body["pagination"]["sort_by"] == sort_by
            if "next" not in body["pagination"]:
                break
            params = {**params, "cursor": body["pagination"]["next"]}
    assert len(names) == len(set(names)) == 403
    if sort_by == "name":
        assert names == sorted(names)


def test_branch_list_without_limit_returns_all(many_branches):
    emulator, project_id = many_branches
    transport = ContractTransport(httpx.WSGITransport(app=emulator))
    headers = {"Authorization": "Bearer org-paid-key"}
    with httpx.Client(transport=transport, base_url="http://e/api/v2", headers=headers) as client:
        body = client.get(f"/projects/{project_id}/branches", params={"search": "b00"}).json()
        assert sorted(b["name"] for b in body["branches"]) == [f"b00{n}" for n in range(10)]
        assert "pagination" not in body
        bad = client.get(f"/projects/{project_id}/branches", params={"cursor": "%%%"})
        assert bad.status_code == 400
