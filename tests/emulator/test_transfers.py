"""Project transfers: 200/403/406/422 bodies, atomicity, project-scoped keys dying."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

URL = "/organizations/{}/projects/transfer"


def _project(client, org_id: str) -> str:
    answer = client.post("/projects", json={"project": {"org_id": org_id}})
    assert answer.status_code == 201
    project_id: str = answer.json()["project"]["id"]
    return project_id


def test_transfer_moves_projects_and_kills_their_scoped_keys(client_for, clock):
    admin = client_for("personal-admin")
    project_id = _project(admin, "org-free-1")
    scoped = (
        client_for("org-free-key")
        .post(
            "/organizations/org-free-1/api_keys", json={"key_name": "t", "project_id": project_id}
        )
        .json()
    )
    tenant = client_for(scoped["key"])
    assert tenant.get(f"/projects/{project_id}").status_code == 200
    moved = admin.post(
        URL.format("org-free-1"),
        json={"destination_org_id": "org-paid-1", "project_ids": [project_id]},
    )
    assert moved.status_code == 200 and moved.json() == {}
    assert admin.get(f"/projects/{project_id}").json()["project"]["org_id"] == "org-paid-1"
    assert tenant.get(f"/projects/{project_id}").status_code == 401
    assert client_for("tenant-key").get("/projects/tenant-1").status_code == 200  # untouched
    assert client_for("org-paid-key").get(f"/projects/{project_id}").status_code == 200
    assert client_for("org-free-key").get(f"/projects/{project_id}").status_code == 404


def test_org_keys_and_non_members_get_403(client_for):
    body = {"destination_org_id": "org-paid-1", "project_ids": ["tenant-1"]}
    answer = client_for("org-free-key").post(URL.format("org-free-1"), json=body)
    assert answer.status_code == 403 and answer.json()["message"]
    member = client_for("personal-member")
    back = {"destination_org_id": "org-free-1", "project_ids": ["tenant-1"]}
    assert member.post(URL.format("org-paid-1"), json=back).status_code == 403


def test_lower_plan_destination_is_406(client_for):
    admin = client_for("personal-admin")
    project_id = _project(admin, "org-paid-1")
    answer = admin.post(
        URL.format("org-paid-1"),
        json={"destination_org_id": "org-launch-1", "project_ids": [project_id]},
    )
    assert answer.status_code == 406
    assert answer.json() == {
        "limits": [{"name": "subscription_type", "expected": "scale", "actual": "launch"}]
    }
    assert admin.get(f"/projects/{project_id}").json()["project"]["org_id"] == "org-paid-1"


def test_project_limit_is_406(client_for):
    admin = client_for("personal-admin")
    ids = [_project(admin, "org-paid-1") for _ in range(2)]
    answer = admin.post(
        URL.format("org-paid-1"), json={"destination_org_id": "org-tiny-1", "project_ids": ids}
    )
    assert answer.status_code == 406
    assert answer.json()["limits"] == [{"name": "projects_count", "expected": "1", "actual": "2"}]


def test_integrations_are_422_for_all_offenders_and_nothing_moves(client_for):
    admin = client_for("personal-admin")
    answer = admin.post(
        URL.format("org-free-1"),
        json={
            "destination_org_id": "org-paid-1",
            "project_ids": ["tenant-1", "legacy-app-1", "legacy-app-2"],
        },
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "projects": [
            {"id": "legacy-app-1", "integration": "github"},
            {"id": "legacy-app-2", "integration": "vercel"},
        ]
    }
    assert admin.get("/projects/tenant-1").json()["project"]["org_id"] == "org-free-1"


def test_bad_transfer_bodies(client_for):
    admin = client_for("personal-admin")
    url = URL.format("org-free-1")
    assert admin.post(url, json={"project_ids": ["tenant-1"]}).status_code == 400
    too_many = {"destination_org_id": "org-paid-1", "project_ids": [f"p{n}" for n in range(401)]}
    assert admin.post(url, json=too_many).status_code == 400
    unknown = {"destination_org_id": "org-paid-1", "project_ids": ["nope"]}
    assert admin.post(url, json=unknown).status_code == 404
