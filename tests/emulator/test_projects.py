"""Projects: create/get/patch/delete, list pagination (cursor dialect), operations."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.emulator import Emulator, seed_from_mapping
from tests.emulator.conftest import BASE_SEED, ContractTransport, FakeClock

pytestmark = pytest.mark.integration


def test_create_returns_everything_neon_returns(client_for, clock):
    client = client_for("org-paid-key")
    answer = client.post(
        "/projects",
        json={"project": {"name": "acme", "region_id": "aws-eu-central-1", "pg_version": 16}},
    )
    assert answer.status_code == 201
    body = answer.json()
    project = body["project"]
    assert project["name"] == "acme"
    assert project["org_id"] == "org-paid-1"
    assert project["region_id"] == "aws-eu-central-1"
    assert project["pg_version"] == 16
    assert body["branch"]["name"] == "main" and body["branch"]["default"] is True
    assert body["branch"]["id"].startswith("br-")
    [endpoint] = body["endpoints"]
    assert endpoint["id"].startswith("ep-") and endpoint["type"] == "read_write"
    assert [r["name"] for r in body["roles"]] == ["neondb_owner"]
    assert body["roles"][0]["password"]
    assert [d["name"] for d in body["databases"]] == ["neondb"]
    uri = body["connection_uris"][0]["connection_uri"]
    assert uri.startswith("postgresql://neondb_owner:") and endpoint["id"] in uri
    assert [op["action"] for op in body["operations"]] == ["create_timeline", "start_compute"]
    assert all(op["status"] in ("scheduling", "running") for op in body["operations"])


def test_get_patch_delete(client_for, clock):
    client = client_for("org-paid-key")
    project_id = client.post("/projects", json={"project": {"name": "p"}}).json()["project"]["id"]
    clock.advance(5)
    quota = {"active_time_seconds": 3600, "compute_time_seconds": 900}
    patched = client.patch(
        f"/projects/{project_id}",
        json={
            "project": {
                "name": "p2",
                "settings": {"quota": quota},
                "default_endpoint_settings": {"autoscaling_limit_max_cu": 2},
                "history_retention_seconds": 3600,
            }
        },
    )
    assert patched.status_code == 200
    assert [op["action"] for op in patched.json()["operations"]] == ["apply_storage_config"]
    clock.advance(5)
    got = client.get(f"/projects/{project_id}").json()["project"]
    assert got["name"] == "p2"
    assert got["settings"]["quota"] == quota
    assert got["default_endpoint_settings"]["autoscaling_limit_max_cu"] == 2
    assert got["history_retention_seconds"] == 3600
    # A later quota replaces the stored one whole.
    client.patch(f"/projects/{project_id}", json={"project": {"settings": {"quota": {}}}})
    assert client.get(f"/projects/{project_id}").json()["project"]["settings"]["quota"] == {}
    deleted = client.delete(f"/projects/{project_id}")
    assert deleted.status_code == 200 and deleted.json()["project"]["id"] == project_id
    assert client.get(f"/projects/{project_id}").status_code == 404
    assert client.delete(f"/projects/{project_id}").status_code == 404


def test_list_items_carry_org_settings_quota_and_integrations(client_for):
    body = client_for("org-free-key").get("/projects", params={"limit": 400}).json()
    by_id = {p["id"]: p for p in body["projects"]}
    assert by_id["tenant-1"]["settings"]["quota"] == {"active_time_seconds": 5}
    assert by_id["tenant-1"]["org_id"] == "org-free-1"
    assert "default_endpoint_settings" in by_id["tenant-1"]
    assert body["integrations"] == {"legacy-app-1": ["github"], "legacy-app-2": ["vercel"]}


def test_search_and_org_filter(client_for):
    client = client_for("personal-admin")
    found = client.get("/projects", params={"org_id": "org-free-1", "search": "legacy"}).json()
    assert sorted(p["id"] for p in found["projects"]) == ["legacy-app-1", "legacy-app-2"]
    assert client.get("/projects", params={"org_id": "org-paid-1"}).json()["projects"] == []


def test_bad_list_parameters_are_400(client_for):
    client = client_for("org-free-key")
    assert client.get("/projects", params={"limit": 0}).status_code == 400
    assert client.get("/projects", params={"limit": 401}).status_code == 400
    assert client.get("/projects", params={"limit": "x"}).status_code == 400


def test_create_validation(client_for):
    client = client_for("org-paid-key")
    assert client.post("/projects", json={"project": {"region_id": "mars-1"}}).status_code == 400
    assert client.post("/projects", json={"project": {"pg_version": 9}}).status_code == 400
    bad_cu = {"default_endpoint_settings": {"autoscaling_limit_min_cu": 4,
                                            "autoscaling_limit_max_cu": 1}}  # fmt: skip
    assert client.post("/projects", json={"project": bad_cu}).status_code == 400
    assert client.post("/projects", json={"nope": 1}).status_code == 400
    assert client.post("/projects", content=b"{not json").status_code == 400


def test_project_limit_on_create_is_422(client_for):
    client = client_for("personal-admin")
    first = client.post("/projects", json={"project": {"org_id": "org-tiny-1"}})
    assert first.status_code == 201
    # UNCONFIRMED in Neon: status 422 with code PROJECTS_LIMIT_EXCEEDED.
    second = client.post("/projects", json={"project": {"org_id": "org-tiny-1"}})
    assert second.status_code == 422
    assert second.json()["code"] == "PROJECTS_LIMIT_EXCEEDED"


@pytest.fixture(scope="module")
def big_fleet() -> Iterator[Emulator]:
    seed = dict(BASE_SEED)
    seed["projects"] = [{"name": f"tenant-{n:04d}", "org": "org-paid-1"} for n in range(403)]
    emulator = Emulator(None, seed_from_mapping(seed), clock=FakeClock())
    yield emulator
    emulator.close()


@pytest.mark.parametrize("limit", [1, 7, 400])
def test_projects_paginate_to_the_last_page(big_fleet, limit):
    transport = ContractTransport(httpx.WSGITransport(app=big_fleet))
    headers = {"Authorization": "Bearer org-paid-key"}
    seen: list[str] = []
    pages = 0
    with httpx.Client(transport=transport, base_url="http://e/api/v2", headers=headers) as client:
        params: dict[str, str | int] = {"limit": limit}
        while True:
            body = client.get("/projects", params=params).json()
            pages += 1
            seen += [p["id"] for p in body["projects"]]
            if len(body["projects"]) < limit:
                break
            params = {"limit": limit, "cursor": body["pagination"]["cursor"]}
    assert len(seen) == len(set(seen)) == 403
    assert pages == 403 // limit + 1
    # The last non-empty page still carries a cursor; an empty page carries none.
    if 403 % limit == 0:
        assert "pagination" not in body


def test_operations_get_and_list(client_for, clock):
    client = client_for("org-paid-key")
    created = client.post("/projects", json={"project": {}}).json()
    project_id = created["project"]["id"]
    first, second = created["operations"]
    clock.advance(0.2)  # each operation spends its first 20% scheduling
    assert (
        client.get(f"/projects/{project_id}/operations/{first['id']}").json()["operation"]["status"]
        == "running"
    )
    assert (
        client.get(f"/projects/{project_id}/operations/{second['id']}").json()["operation"][
            "status"
        ]
        == "scheduling"
    )
    clock.advance(1.0)
    listed = client.get(f"/projects/{project_id}/operations", params={"limit": 1}).json()
    assert [op["id"] for op in listed["operations"]] == [second["id"]]
    rest = client.get(
        f"/projects/{project_id}/operations",
        params={"limit": 1, "cursor": listed["pagination"]["cursor"]},
    ).json()
    assert [op["id"] for op in rest["operations"]] == [first["id"]]
    assert all(op["status"] == "finished" for op in rest["operations"] + listed["operations"])
    missing = client.get(f"/projects/{project_id}/operations/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
