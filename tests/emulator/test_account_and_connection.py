"""``/users/me``, ``/projects/shared``, project permissions and ``connection_uri``."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


def test_users_me_answers_the_personal_keys_user(client_for):
    me = client_for("personal-admin").get("/users/me")
    assert me.status_code == 200
    body = me.json()
    assert body["id"] and "@" in body["email"]
    assert body["auth_accounts"][0]["email"] == body["email"]
    assert client_for("org-paid-key").get("/users/me").status_code == 403
    assert client_for(None).get("/users/me").status_code == 401


def test_projects_shared_is_an_empty_list_not_a_project_lookup(client_for):
    for token in ("personal-admin", "org-paid-key", "tenant-key"):
        shared = client_for(token).get("/projects/shared", params={"limit": 5})
        assert shared.status_code == 200, shared.text
        assert shared.json()["projects"] == []
    assert client_for("personal-admin").get("/projects/shared?limit=0").status_code == 400


def test_permissions_grant_list_revoke(client_for, project):
    client = client_for("org-paid-key")
    project_id = project["project"]["id"]
    assert client.get(f"/projects/{project_id}/permissions").json() == {"project_permissions": []}
    granted = client.post(f"/projects/{project_id}/permissions", json={"email": "a@example.com"})
    assert granted.status_code == 200
    permission = granted.json()
    again = client.post(f"/projects/{project_id}/permissions", json={"email": "A@example.com"})
    assert again.status_code == 409
    bad = client.post(f"/projects/{project_id}/permissions", json={"email": "not-an-email"})
    assert bad.status_code == 400
    listed = client.get(f"/projects/{project_id}/permissions").json()["project_permissions"]
    assert [p["id"] for p in listed] == [permission["id"]]
    revoked = client.delete(f"/projects/{project_id}/permissions/{permission['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    gone = client.delete(f"/projects/{project_id}/permissions/{permission['id']}")
    assert gone.status_code == 404
    assert client.get(f"/projects/{project_id}/permissions").json()["project_permissions"] == []
    other_org = client_for("org-free-key").get(f"/projects/{project_id}/permissions")
    assert other_org.status_code == 404


def test_connection_uri_direct_and_pooled_use_neons_host_scheme(client_for, project):
    client = client_for("org-paid-key")
    project_id = project["project"]["id"]
    role = project["roles"][0]
    endpoint_id = project["endpoints"][0]["id"]
    query = {"database_name": "neondb", "role_name": "neondb_owner"}
    direct = client.get(f"/projects/{project_id}/connection_uri", params=query)
    assert direct.status_code == 200
    assert direct.json()["uri"] == project["connection_uris"][0]["connection_uri"]
    pooled = client.get(
        f"/projects/{project_id}/connection_uri", params={**query, "pooled": "true"}
    )
    uri = pooled.json()["uri"]
    assert re.fullmatch(
        rf"postgresql://neondb_owner:{role['password']}@{endpoint_id}-pooler"
        r"\.us-east-2\.aws\.neon\.tech/neondb\?sslmode=require",
        uri,
    ), uri
    assert role["password"].startswith("npg_")
    explicit = client.get(
        f"/projects/{project_id}/connection_uri",
        params={**query, "branch_id": project["branch"]["id"], "endpoint_id": endpoint_id,
                "pooled": "False"},
    )  # fmt: skip
    assert explicit.json()["uri"] == direct.json()["uri"]
    base = f"/projects/{project_id}/branches/{project['branch']['id']}"
    reset = client.post(f"{base}/roles/neondb_owner/reset_password").json()["role"]["password"]
    after_reset = client.get(f"/projects/{project_id}/connection_uri", params=query).json()["uri"]
    assert f"neondb_owner:{reset}@" in after_reset and reset != role["password"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"role_name": "neondb_owner"}, 400),
        ({"database_name": "neondb", "role_name": "nobody"}, 404),
        ({"database_name": "nodb", "role_name": "neondb_owner"}, 404),
        ({"database_name": "neondb", "role_name": "neondb_owner", "pooled": "maybe"}, 400),
        ({"database_name": "neondb", "role_name": "neondb_owner", "branch_id": "br-x"}, 404),
        ({"database_name": "neondb", "role_name": "neondb_owner", "endpoint_id": "ep-x"}, 404),
    ],
)
def test_connection_uri_refuses_what_neon_refuses(client_for, project, params, status):
    answer = client_for("org-paid-key").get(
        f"/projects/{project['project']['id']}/connection_uri", params=params
    )
    assert answer.status_code == status, answer.text
