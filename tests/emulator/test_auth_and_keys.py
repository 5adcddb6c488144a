"""Auth rules per key kind, API key lifecycle, orgs and ``GET /auth``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_missing_and_unknown_keys_are_401(client_for):
    assert client_for(None).get("/projects").status_code == 401
    answer = client_for("no-such-token").get("/projects")
    assert answer.status_code == 401
    assert set(answer.json()) == {"code", "message", "request_id"}


def test_request_id_is_echoed(client_for):
    answer = client_for(None).get("/projects", headers={"X-Request-ID": "trace-123"})
    assert answer.json()["request_id"] == "trace-123"
    assert answer.headers["X-Request-ID"] == "trace-123"


def test_org_key_acts_only_inside_its_org(client_for):
    client = client_for("org-paid-key")
    assert client.get("/projects/tenant-1").status_code == 404
    assert client.get("/projects", params={"org_id": "org-free-1"}).status_code == 403
    assert client.get("/organizations/org-free-1").status_code == 403
    assert client.get("/organizations/org-paid-1").json()["plan"] == "scale"
    other = client.post("/projects", json={"project": {"org_id": "org-free-1"}})
    assert other.status_code == 403
    assert client.get("/organizations/org-free-1/api_keys").status_code == 403


def test_project_key_only_on_its_project(client_for, clock):
    client = client_for("tenant-key")
    assert client.get("/projects/tenant-1").status_code == 200
    assert client.get("/projects/legacy-app-1").status_code == 403
    assert [p["id"] for p in client.get("/projects").json()["projects"]] == ["tenant-1"]
    assert client.post("/projects", json={"project": {}}).status_code == 403
    assert client.delete("/projects/tenant-1").status_code == 403
    assert client.get("/organizations/org-free-1/api_keys").status_code == 403
    assert client.post("/api_keys", json={"key_name": "x"}).status_code == 403
    created = client.post("/projects/tenant-1/branches", json={"branch": {"name": "dev"}})
    assert created.status_code == 201  # member-level access to its own project
    orgs = client.get("/users/me/organizations").json()["organizations"]
    assert [o["id"] for o in orgs] == ["org-free-1"]


def test_personal_key_reaches_member_orgs_only(client_for):
    member = client_for("personal-member")
    assert member.get("/projects", params={"org_id": "org-paid-1"}).status_code == 200
    assert member.get("/projects", params={"org_id": "org-free-1"}).status_code == 403
    assert member.get("/projects/tenant-1").status_code == 404
    orgs = member.get("/users/me/organizations").json()["organizations"]
    assert [o["id"] for o in orgs] == ["org-paid-1"]
    # Creating org keys needs an admin.
    assert (
        member.post("/organizations/org-paid-1/api_keys", json={"key_name": "k"}).status_code == 403
    )
    admin = client_for("personal-admin")
    assert admin.post("/projects", json={"project": {}}).status_code == 400  # org_id needed
    assert admin.post("/projects", json={"project": {"org_id": "org-paid-1"}}).status_code == 201


def test_auth_details(client_for):
    assert client_for("personal-admin").get("/auth").json()["auth_method"] == "api_key_user"
    details = client_for("org-free-key").get("/auth").json()
    assert details == {"account_id": "org-free-1", "auth_method": "api_key_org"}


def test_personal_keys_lifecycle(client_for):
    admin = client_for("personal-admin")
    created = admin.post("/api_keys", json={"key_name": "ci"})
    assert created.status_code == 200
    token, key_id = created.json()["key"], created.json()["id"]
    listed = admin.get("/api_keys").json()
    assert isinstance(listed, list) and key_id in [k["id"] for k in listed]
    assert all("key" not in k for k in listed)  # tokens only at creation
    fresh = client_for(token)
    assert fresh.get("/projects", params={"org_id": "org-paid-1"}).status_code == 200
    revoked = admin.delete(f"/api_keys/{key_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert fresh.get("/projects", params={"org_id": "org-paid-1"}).status_code == 401
    assert key_id not in [k["id"] for k in admin.get("/api_keys").json()]
    assert admin.delete("/api_keys/1").status_code == 404
    assert client_for("org-paid-key").get("/api_keys").status_code == 403


def test_org_and_project_scoped_keys(client_for, clock):
    org = client_for("org-paid-key")
    project_id = org.post("/projects", json={"project": {}}).json()["project"]["id"]
    scoped = org.post(
        "/organizations/org-paid-1/api_keys", json={"key_name": "tenant", "project_id": project_id}
    ).json()
    assert scoped["project_id"] == project_id
    listed = org.get("/organizations/org-paid-1/api_keys").json()
    assert {"id": scoped["id"], "project_id": project_id}.items() <= next(
        k for k in listed if k["id"] == scoped["id"]
    ).items()
    tenant = client_for(scoped["key"])
    assert tenant.get(f"/projects/{project_id}").status_code == 200
    assert tenant.post("/projects", json={"project": {}}).status_code == 403
    missing = org.post(
        "/organizations/org-paid-1/api_keys", json={"key_name": "t", "project_id": "tenant-1"}
    )
    assert missing.status_code == 404
    assert org.post("/organizations/org-paid-1/api_keys", json={}).status_code == 400
    revoked = org.delete(f"/organizations/org-paid-1/api_keys/{scoped['id']}")
    assert revoked.json()["revoked"] is True and revoked.json()["project_id"] == project_id
    assert tenant.get(f"/projects/{project_id}").status_code == 401


def test_unknown_route_and_method(client_for):
    client = client_for("org-paid-key")
    assert client.get("/nowhere").status_code == 404
    assert client.put("/projects").status_code == 405
