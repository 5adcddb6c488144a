"""NeonClient over a MockTransport that checks every request against the official OpenAPI schema.

The fake answers each route with a spec-conformant sample (checked with ``validate_response``),
so these tests pin both directions of the contract for every client method; the integration
tests repeat the exercise against the emulator.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from reconciler import errors
from reconciler.neon import UNSET, EndpointDefaults
from reconciler.neon.mutators import NeonWriter
from tests.neon import samples as s
from tests.neon.fakes import BASE_URL, KEY, make_client
from tests.neon.routes import match_route
from tests.support.openapi import validate_request, validate_response


class FakeNeon:
    """A MockTransport handler: validates requests, serves samples, records what it saw."""

    def __init__(self, projects: int = 3, branches: int = 3) -> None:
        self.seen: list[tuple[str, str, Any, httpx.Request]] = []
        self.projects = [s.list_item(f"proj-{i:03d}", f"tenant-{i:03d}") for i in range(projects)]
        self.branches = [s.branch(f"br-{i:03d}", f"b{i:03d}") for i in range(branches)]
        self.statuses: dict[tuple[str, str], int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        method = request.method
        template = match_route(method, request.url.path)
        body = json.loads(request.content) if request.content else None
        validate_request(method, template, body)
        self.seen.append((method, template, body, request))
        query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        status, answer = self.answer(method, template, body, query)
        status = self.statuses.get((method, template), status)
        validate_response(method, template, status, answer)
        if answer is None:
            return httpx.Response(status)
        return httpx.Response(status, json=answer)

    def answer(self, method: str, template: str, body: Any, query: dict[str, str]) -> Any:
        ops = [s.operation()]
        routes: dict[tuple[str, str], Any] = {
            ("POST", "/projects"): lambda: (
                201,
                {
                    "project": s.project(name=body["project"]["name"]),
                    "connection_uris": [s.connection_uri()],
                    "roles": [s.role()],
                    "databases": [s.database()],
                    "operations": ops,
                    "branch": s.branch(),
                    "endpoints": [s.endpoint()],
                },
            ),
            ("GET", "/projects/{project_id}"): lambda: (200, {"project": s.project()}),
            ("PATCH", "/projects/{project_id}"): lambda: (
                200,
                {"project": s.project(), "operations": ops},
            ),
            ("DELETE", "/projects/{project_id}"): lambda: (200, {"project": s.project()}),
            ("POST", "/projects/{project_id}/branches"): lambda: (
                201,
                {
                    "branch": s.branch("br-new", body["branch"]["name"]),
                    "endpoints": [s.endpoint()],
                    "operations": ops,
                    "roles": [s.role()],
                    "databases": [s.database()],
                },
            ),
            ("PATCH", "/projects/{project_id}/branches/{branch_id}"): lambda: (
                200,
                {"branch": s.branch(), "operations": ops},
            ),
            ("DELETE", "/projects/{project_id}/branches/{branch_id}"): lambda: (
                200,
                {"branch": s.branch(), "operations": ops},
            ),
            ("GET", "/projects/{project_id}/endpoints"): lambda: (
                200,
                {"endpoints": [s.endpoint()]},
            ),
            ("GET", "/projects/{project_id}/endpoints/{endpoint_id}"): lambda: (
                200,
                {"endpoint": s.endpoint()},
            ),
            ("PATCH", "/projects/{project_id}/endpoints/{endpoint_id}"): lambda: (
                200,
                {"endpoint": s.endpoint(), "operations": ops},
            ),
            ("GET", "/projects/{project_id}/operations/{operation_id}"): lambda: (
                200,
                {"operation": s.operation("finished")},
            ),
            ("GET", "/projects/{project_id}/operations"): lambda: (
                200,
                {"operations": [s.operation("finished")], "pagination": {"cursor": "c"}},
            ),
            ("GET", "/organizations/{org_id}/api_keys"): lambda: (
                200,
                [s.api_key_listed(), s.api_key_listed(12, None)],
            ),
            ("POST", "/organizations/{org_id}/api_keys"): lambda: (
                200,
                s.api_key_created(project_id=body.get("project_id")),
            ),
            ("DELETE", "/organizations/{org_id}/api_keys/{key_id}"): lambda: (
                200,
                s.api_key_revoked(),
            ),
            ("GET", "/api_keys"): lambda: (200, [s.api_key_listed(project_id=None)]),
            ("POST", "/api_keys"): lambda: (200, s.api_key_created(project_id=None)),
            ("DELETE", "/api_keys/{key_id}"): lambda: (200, s.api_key_revoked()),
            ("POST", "/organizations/{source_org_id}/projects/transfer"): lambda: (200, {}),
            ("GET", "/organizations/{org_id}"): lambda: (200, s.organization()),
            ("GET", "/users/me/organizations"): lambda: (
                200,
                {"organizations": [s.organization()]},
            ),
            ("GET", "/auth"): lambda: (200, {"account_id": "acc-1", "auth_method": "api_key_org"}),
            ("GET", "/projects/{project_id}/branches/{branch_id}/databases"): lambda: (
                200,
                {"databases": [s.database()]},
            ),
            ("GET", "/projects/{project_id}/branches/{branch_id}/roles"): lambda: (
                200,
                {"roles": [s.role()]},
            ),
            ("GET", "/projects/{project_id}/connection_uri"): lambda: (
                200,
                {"uri": s.connection_uri()["connection_uri"]},
            ),
        }
        if (method, template) == ("GET", "/projects"):
            return 200, self._project_page(query)
        if (method, template) == ("GET", "/projects/{project_id}/branches"):
            return 200, self._branch_page(query)
        return routes[(method, template)]()

    def _project_page(self, query: dict[str, str]) -> dict[str, Any]:
        limit = int(query.get("limit", "10"))
        start = int(query["cursor"]) if "cursor" in query else 0
        page = self.projects[start : start + limit]
        cursor = str(start + len(page)) if page else str(start)
        return {
            "projects": page,
            "pagination": {"cursor": cursor},
            "applications": {},
            "integrations": {p["id"]: ["github"] for p in page[:1]},
        }

    def _branch_page(self, query: dict[str, str]) -> dict[str, Any]:
        limit = int(query["limit"])
        start = int(query.get("cursor", "0"))
        page = self.branches[start : start + limit]
        answer: dict[str, Any] = {"branches": page, "annotations": {}}
        if start + limit < len(self.branches):
            answer["pagination"] = {"next": str(start + limit), "sort_by": "updated_at"}
        return answer

    def routes_seen(self) -> list[str]:
        return [f"{method} {template}" for method, template, _, _ in self.seen]


@pytest.fixture
def fake() -> FakeNeon:
    return FakeNeon()


@pytest.fixture
def client(fake: FakeNeon) -> NeonWriter:
    made, _ = make_client(fake)
    return made


@pytest.mark.parametrize("limit", [1, 2, 3, 400])
def test_project_pages_to_the_end(limit: int) -> None:
    fake = FakeNeon(projects=5)
    client, _ = make_client(fake)
    listing = client.list_projects(KEY, org_id=s.ORG, limit=limit)
    assert [p.id for p in listing.projects] == [f"proj-{i:03d}" for i in range(5)]
    # ceil(5/limit) pages, plus one empty page when the last page was exactly full.
    expected_pages = -(-5 // limit) + (1 if 5 % limit == 0 else 0)
    assert listing.pages == expected_pages == len(fake.seen)
    assert listing.integrations["proj-000"] == ("github",)
    first = listing.projects[0]
    assert first.quota == {"active_time_seconds": 3600, "compute_time_seconds": 0}
    assert first.default_endpoint_settings == EndpointDefaults(0.25, 2.0, 300)


def test_branch_pages_use_the_next_dialect() -> None:
    fake = FakeNeon(branches=5)
    client, _ = make_client(fake)
    pages = list(client.iter_branches(KEY, s.PID, limit=2))
    assert [len(page.branches) for page in pages] == [2, 2, 1]
    assert [req.url.params.get("cursor") for *_, req in fake.seen] == [None, "2", "4"]
    assert len(client.list_branches(KEY, s.PID)) == 5


def test_every_call_is_authorised_with_the_given_key_and_tagged(
    client: NeonWriter, fake: FakeNeon
) -> None:
    client.get_project("key-one", s.PID)
    client.get_project("key-two", s.PID)
    (_, _, _, first), (_, _, _, second) = fake.seen
    assert first.headers["Authorization"] == "Bearer key-one"
    assert second.headers["Authorization"] == "Bearer key-two"
    ids = {first.headers["X-Request-ID"], second.headers["X-Request-ID"]}
    assert len(ids) == 2 and all(uuid.UUID(value) for value in ids)
    assert first.headers["User-Agent"].startswith("neon-fleet/")


def test_create_project_sends_a_valid_body_and_drops_secrets(
    client: NeonWriter, fake: FakeNeon
) -> None:
    quota = {key: 0 for key in ("active_time_seconds", "compute_time_seconds")}
    created = client.create_project(
        KEY,
        name="tenant-a",
        org_id=s.ORG,
        region_id="aws-us-east-2",
        pg_version=17,
        quota=quota,
        default_endpoint_settings=EndpointDefaults(0.25, 2, 300),
        history_retention_seconds=3600,
        hipaa=False,
    )
    _, _, body, _ = fake.seen[-1]
    assert body["project"]["settings"] == {"quota": quota, "hipaa": False}
    assert body["project"]["default_endpoint_settings"] == {
        "autoscaling_limit_min_cu": 0.25,
        "autoscaling_limit_max_cu": 2,
        "suspend_timeout_seconds": 300,
    }
    assert created.project.name == "tenant-a" and created.project.hipaa is True
    assert created.project.consumption_period_start == "0001-01-01T00:00:00Z"
    assert created.branch is not None and created.branch.default
    assert [e.id for e in created.endpoints] == [s.EID]
    assert [op.status for op in created.operations] == ["running"]
    assert s.SECRET_PASSWORD not in repr(created)
    assert not hasattr(created, "connection_uris")


def test_update_project_sends_the_full_quota(client: NeonWriter, fake: FakeNeon) -> None:
    quota = {
        "active_time_seconds": 1,
        "compute_time_seconds": 2,
        "written_data_bytes": 3,
        "data_transfer_bytes": 4,
        "logical_size_bytes": 5,
    }
    project, ops = client.update_project(
        KEY, s.PID, name="n", quota=quota, default_endpoint_settings={"suspend_timeout_seconds": 60}
    )
    _, template, body, _ = fake.seen[-1]
    assert template == "/projects/{project_id}"
    assert body == {
        "project": {
            "name": "n",
            "settings": {"quota": quota},
            "default_endpoint_settings": {"suspend_timeout_seconds": 60},
        }
    }
    assert project.id == s.PID and len(ops) == 1


def test_unknown_quota_key_is_refused_before_sending(client: NeonWriter, fake: FakeNeon) -> None:
    with pytest.raises(errors.UsageError, match="cpu_seconds"):
        client.update_project(KEY, s.PID, quota={"cpu_seconds": 1})
    assert fake.seen == []


def test_branch_calls(client: NeonWriter, fake: FakeNeon) -> None:
    created = client.create_branch(
        KEY,
        s.PID,
        name="preview",
        parent_id=s.BID,
        protected=False,
        expires_at="2030-01-01T00:00:00Z",
        endpoint_type="read_write",
        endpoint_settings=EndpointDefaults(0.25, 1, 300),
    )
    assert created.branch.name == "preview" and len(created.endpoints) == 1
    assert fake.seen[-1][2]["endpoints"] == [
        {
            "type": "read_write",
            "autoscaling_limit_min_cu": 0.25,
            "autoscaling_limit_max_cu": 1,
            "suspend_timeout_seconds": 300,
        }
    ]
    client.update_branch(KEY, s.PID, s.BID, name="x", protected=True)
    assert fake.seen[-1][2] == {"branch": {"name": "x", "protected": True}}
    client.update_branch(KEY, s.PID, s.BID, expires_at=None)
    assert fake.seen[-1][2] == {"branch": {"expires_at": None}}
    client.update_branch(KEY, s.PID, s.BID, expires_at=UNSET)
    assert fake.seen[-1][2] == {"branch": {}}
    deleted = client.delete_branch(KEY, s.PID, s.BID)
    assert deleted is not None and deleted[0].id == s.BID


def test_delete_of_a_missing_branch_returns_none(fake: FakeNeon) -> None:
    fake.statuses[("DELETE", "/projects/{project_id}/branches/{branch_id}")] = 204
    fake_answer = fake.answer

    def answer(method: str, template: str, body: Any, query: dict[str, str]) -> Any:
        if method == "DELETE" and template.endswith("{branch_id}"):
            return 204, None
        return fake_answer(method, template, body, query)

    fake.answer = answer  # type: ignore[method-assign]
    client, _ = make_client(fake)
    assert client.delete_branch(KEY, s.PID, "br-gone") is None


def test_endpoint_and_operation_calls(client: NeonWriter, fake: FakeNeon) -> None:
    (endpoint,) = client.list_endpoints(KEY, s.PID)
    assert endpoint.autoscaling_limit_max_cu == 1.0 and "host" not in repr(endpoint)
    assert client.get_endpoint(KEY, s.PID, s.EID) == endpoint
    _, ops = client.update_endpoint(
        KEY,
        s.PID,
        s.EID,
        autoscaling_limit_min_cu=0.5,
        autoscaling_limit_max_cu=2,
        suspend_timeout_seconds=300,
    )
    assert fake.seen[-1][2] == {
        "endpoint": {
            "autoscaling_limit_min_cu": 0.5,
            "autoscaling_limit_max_cu": 2,
            "suspend_timeout_seconds": 300,
        }
    }
    done = client.wait_for_operations(KEY, s.PID, ops, timeout=10)
    assert [op.status for op in done] == ["finished"]
    pages = list(client.iter_operations(KEY, s.PID, limit=10))
    assert len(pages) == 1 and pages[0].operations[0].status == "finished"


def test_org_and_key_calls(client: NeonWriter, fake: FakeNeon) -> None:
    keys = client.list_org_api_keys(KEY, s.ORG)
    assert [(k.id, k.project_id) for k in keys] == [(11, s.PID), (12, None)]
    minted = client.create_org_api_key(KEY, s.ORG, "tenant-a-app", project_id=s.PID)
    assert minted.token == s.TOKEN and minted.project_id == s.PID
    assert s.TOKEN not in repr(minted) and s.TOKEN not in str(minted)
    assert client.revoke_org_api_key(KEY, s.ORG, 11).revoked
    assert client.get_organization(KEY, s.ORG).plan == "free_v3"
    assert [o.id for o in client.list_my_organizations(KEY)] == [s.ORG]
    assert client.get_auth(KEY).auth_method == "api_key_org"
    assert client.list_api_keys(KEY)[0].project_id is None
    assert client.create_api_key(KEY, "ops").token == s.TOKEN
    assert client.revoke_api_key(KEY, 11).id == 11
    assert client.list_databases(KEY, s.PID, s.BID)[0].name == "neondb"
    (role,) = client.list_roles(KEY, s.PID, s.BID)
    assert role.name == "neondb_owner" and s.SECRET_PASSWORD not in repr(role)
    uri = client.get_connection_uri(KEY, s.PID, database_name="neondb", role_name="neondb_owner")
    assert s.SECRET_PASSWORD in uri.uri and s.SECRET_PASSWORD not in repr(uri)


def test_transfer_validates_and_reports(client: NeonWriter, fake: FakeNeon) -> None:
    result = client.transfer_projects(KEY, s.ORG, "org-paid-1", ["p-1", "p-2"])
    assert result.project_ids == ("p-1", "p-2") and result.destination_org_id == "org-paid-1"
    assert fake.seen[-1][2] == {"destination_org_id": "org-paid-1", "project_ids": ["p-1", "p-2"]}
    with pytest.raises(errors.UsageError, match="at most 400"):
        client.transfer_projects(KEY, s.ORG, "org-paid-1", [f"p-{i}" for i in range(401)])
    with pytest.raises(errors.UsageError):
        client.transfer_projects(KEY, s.ORG, "org-paid-1", [])
    assert len(fake.seen) == 1


def test_find_projects_by_name_filters_partial_matches() -> None:
    fake = FakeNeon(projects=0)
    fake.projects = [s.list_item("p-a", "acme"), s.list_item("p-b", "acme-2")]
    client, _ = make_client(fake)
    assert [p.id for p in client.find_projects_by_name(KEY, "acme")] == ["p-a"]
    assert fake.seen[-1][3].url.params["search"] == "acme"


def test_stats_count_per_route_template(client: NeonWriter) -> None:
    client.get_project(KEY, "p-1")
    client.get_project(KEY, "p-2")
    client.list_endpoints(KEY, "p-1")
    snapshot = client.stats.snapshot()
    assert snapshot.requests == {
        "GET /projects/{project_id}": 2,
        "GET /projects/{project_id}/endpoints": 1,
    }
    assert snapshot.total_requests == 3 and snapshot.total_retries == 0


def test_keys_never_reach_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "napi_very_secret_key_material"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": "", "message": "invalid API key"})

    client, _ = make_client(handler)
    with pytest.raises(errors.Unauthorized) as info:
        client.get_project(secret, "p-1")
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert secret not in caplog.text
    assert secret not in repr(client)


def test_a_call_without_key_is_a_usage_error(client: NeonWriter) -> None:
    with pytest.raises(errors.UsageError):
        client.get_project("", "p-1")


def test_bad_base_url_is_a_usage_error() -> None:
    with pytest.raises(errors.UsageError):
        NeonWriter("console.neon.tech/api/v2")


def test_path_values_are_quoted() -> None:
    raw_paths: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        raw_paths.append(request.url.raw_path)
        return httpx.Response(200, json={"project": s.project()})

    client, _ = make_client(handler)
    client.get_project(KEY, "../api_keys")
    assert raw_paths == [b"/api/v2/projects/..%2Fapi_keys"]


def test_client_is_a_context_manager() -> None:
    with NeonWriter(BASE_URL, transport=httpx.MockTransport(FakeNeon())) as client:
        assert client.get_project(KEY, s.PID).id == s.PID
