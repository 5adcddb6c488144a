"""Token-bucket 429s, and seeded fault injection (5xx, 429 storms, drops, lost responses)."""

from __future__ import annotations

import pytest

from reconciler.emulator import ConnectionDropped, Emulator, ResponseLost, seed_from_mapping
from tests.emulator.conftest import BASE_SEED

pytestmark = pytest.mark.integration


def test_route_bucket_gives_429_then_refills(client_for, admin, clock):
    admin.put("/limits", json={"route_requests_per_second": 3, "requests_per_minute": 1000})
    client = client_for("org-paid-key")
    statuses = [client.get("/projects").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/users/me/organizations").status_code == 200  # another route's bucket
    clock.advance(1.0)
    assert client.get("/projects").status_code == 200


def test_account_bucket_gives_429_per_account(client_for, admin, clock):
    admin.put("/limits", json={"route_requests_per_second": 100, "requests_per_minute": 5})
    client = client_for("org-paid-key")
    statuses = [client.get(path).status_code for path in ["/projects", "/auth"] * 3]
    assert statuses == [200, 200, 200, 200, 200, 429]
    assert client_for("org-free-key").get("/projects").status_code == 200  # other account
    clock.advance(12.0)  # 5 per minute: one token back every 12 s
    assert client.get("/projects").status_code == 200
    assert client.get("/projects").status_code == 429
    assert admin.get("/stats").json()["rate_limited"] == 2


def test_storm_429(client_for, admin, emu):
    admin.put("/faults", json={"storm_429_requests": 2})
    client = client_for("org-paid-key")
    assert [client.get("/projects").status_code for _ in range(3)] == [429, 429, 200]
    assert admin.get("/faults").json()["storm_429_requests"] == 0
    assert emu.stats().rate_limited == 2


def _statuses(emulator: Emulator, client_for, count: int) -> list[int | str]:
    client = client_for("org-paid-key", emulator)
    seen: list[int | str] = []
    for _ in range(count):
        try:
            seen.append(client.get("/projects").status_code)
        except ConnectionDropped:
            seen.append("dropped")
    return seen


def test_seeded_faults_are_deterministic(client_for, clock):
    faults = {"server_error_rate": 0.3, "drop_rate": 0.2, "random_seed": 7}
    runs = []
    for _ in range(2):
        emulator = Emulator(None, seed_from_mapping({**BASE_SEED, "faults": faults}), clock=clock)
        runs.append(_statuses(emulator, client_for, 60))
        emulator.close()
    assert runs[0] == runs[1]
    assert {200, 500, 503, "dropped"} <= set(runs[0])
    # The rates hold roughly: 20% drops, then 30% of the rest are 5xx.
    assert 4 <= runs[0].count("dropped") <= 20
    assert 6 <= runs[0].count(500) + runs[0].count(503) <= 26


def test_errors_carry_general_error_bodies(client_for, admin):
    admin.put("/faults", json={"server_error_rate": 1.0})
    answer = client_for("org-paid-key").get("/projects", headers={"X-Request-ID": "r-1"})
    assert answer.status_code in (500, 503)
    assert answer.json()["request_id"] == "r-1"


def test_dropped_request_is_not_performed(client_for, admin):
    admin.put("/faults", json={"drop_rate": 1.0})
    client = client_for("org-paid-key")
    with pytest.raises(ConnectionDropped):
        client.post("/projects", json={"project": {"name": "never"}})
    admin.put("/faults", json={"drop_rate": 0.0})
    names = [p["name"] for p in client.get("/projects").json()["projects"]]
    assert "never" not in names


def test_lost_response_is_performed(client_for, admin, emu):
    admin.put("/faults", json={"lost_response_rate": 1.0})
    client = client_for("org-paid-key")
    with pytest.raises(ResponseLost):
        client.post("/projects", json={"project": {"name": "ghost"}})
    admin.put("/faults", json={"lost_response_rate": 0.0})
    names = [p["name"] for p in client.get("/projects").json()["projects"]]
    assert names == ["ghost"]
    assert emu.stats().lost_responses == 1


def test_latency_uses_the_injected_sleep(clock, client_for):
    slept: list[float] = []
    seed = seed_from_mapping({**BASE_SEED, "latency_ms": 250})
    emulator = Emulator(None, seed, clock=clock, sleep=slept.append)
    client_for("org-paid-key", emulator).get("/projects")
    emulator.close()
    assert slept == [0.25]


def test_admin_api_rejects_bad_input(admin):
    assert admin.put("/faults", json={"drop_rate": 2}).status_code == 400
    assert admin.put("/limits", json={"nope": 1}).status_code == 400
    assert admin.get("/nothing").status_code == 404
    assert admin.put("/faults", content=b"[]").status_code == 400


def test_admin_projects_create_and_patch(admin, client_for):
    created = admin.post(
        "/projects", json={"name": "drifted", "org": "org-paid-1", "integration": "github"}
    )
    assert created.status_code == 201
    project_id = created.json()["project"]["id"]
    assert admin.post("/projects", json={"name": "drifted", "org": "org-paid-1"}).status_code == 409
    client = client_for("org-paid-key")
    listed = client.get("/projects").json()
    assert listed["integrations"] == {project_id: ["github"]}
    patched = admin.patch(
        f"/projects/{project_id}",
        json={"name": "renamed", "settings": {"quota": {"compute_time_seconds": 1}},
              "integration": None},
    )  # fmt: skip
    assert patched.status_code == 200
    project = client.get(f"/projects/{project_id}").json()["project"]
    assert project["name"] == "renamed"
    assert project["settings"]["quota"] == {"compute_time_seconds": 1}
    assert admin.patch("/projects/nope", json={}).status_code == 404
    assert admin.patch(f"/projects/{project_id}", json={"bad": 1}).status_code == 400


def test_stats_count_per_route(client_for, emu, admin):
    client = client_for("org-paid-key")
    client.get("/projects")
    client.get("/projects")
    client.get("/projects/tenant-1")
    stats = emu.stats()
    assert stats.requests[("GET", "/projects")] == 2
    assert stats.requests[("GET", "/projects/{project_id}")] == 1
    assert admin.get("/stats").json()["requests"]["GET /projects"] == 2
