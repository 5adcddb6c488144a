"""State survives restarts (new Emulator, server restart); the loopback server works.

The loopback tests go through ``ContractTransport`` around httpx's real HTTP transport, so
they are contract tests as well.
"""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from reconciler.emulator import Emulator, seed_from_mapping, serve
from tests.emulator.conftest import BASE_SEED, ContractTransport

pytestmark = pytest.mark.integration


def _client(url: str, token: str) -> httpx.Client:
    transport = ContractTransport(httpx.HTTPTransport())
    return httpx.Client(
        transport=transport, base_url=url, headers={"Authorization": f"Bearer {token}"}
    )


def test_state_file_survives_a_new_emulator(tmp_path, clock, client_for):
    state = tmp_path / "emulator.db"
    seed = seed_from_mapping(BASE_SEED)
    first = Emulator(state, seed, clock=clock)
    client = client_for("org-paid-key", first)
    project_id = client.post("/projects", json={"project": {"name": "keep"}}).json()["project"][
        "id"
    ]
    token = client.post("/organizations/org-paid-1/api_keys", json={"key_name": "k"}).json()["key"]
    first.close()
    second = Emulator(state, seed, clock=clock)  # re-seeding an existing state adds nothing
    again = client_for("org-paid-key", second)
    assert again.get(f"/projects/{project_id}").json()["project"]["name"] == "keep"
    assert client_for(token, second).get(f"/projects/{project_id}").status_code == 200
    free = client_for("org-free-key", second).get("/projects", params={"limit": 400}).json()
    assert sorted(p["id"] for p in free["projects"]) == ["legacy-app-1", "legacy-app-2", "tenant-1"]
    second.close()
    third = Emulator(state, clock=clock)  # no seed: keys and limits come from the state file
    assert client_for("org-paid-key", third).get(f"/projects/{project_id}").status_code == 200
    assert third.limits.requests_per_minute == 100000
    third.close()


def test_deleted_seed_project_is_not_recreated(tmp_path, clock, client_for):
    state = tmp_path / "emulator.db"
    seed = seed_from_mapping(BASE_SEED)
    first = Emulator(state, seed, clock=clock)
    assert client_for("org-free-key", first).delete("/projects/tenant-1").status_code == 200
    first.close()
    second = Emulator(state, seed, clock=clock)
    assert client_for("org-free-key", second).get("/projects/tenant-1").status_code == 404
    second.close()


def test_server_restart_keeps_state(tmp_path):
    state = tmp_path / "emulator.db"
    seed = seed_from_mapping(BASE_SEED)
    with serve(Emulator(state, seed)) as running, _client(running.url, "org-paid-key") as c:
        assert running.url.startswith("http://127.0.0.1:") and running.url.endswith("/api/v2")
        project_id = c.post("/projects", json={"project": {"name": "srv"}}).json()["project"]["id"]
    with serve(Emulator(state, seed)) as running, _client(running.url, "org-paid-key") as c:
        assert c.get(f"/projects/{project_id}").json()["project"]["name"] == "srv"


def test_concurrent_keep_alive_requests(tmp_path):
    emulator = Emulator(tmp_path / "e.db", seed_from_mapping(BASE_SEED))
    with serve(emulator) as running, _client(running.url, "org-paid-key") as client:

        def create(n: int) -> int:
            answer = client.post("/projects", json={"project": {"name": f"c{n}"}})
            return answer.status_code

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            assert list(pool.map(create, range(40))) == [201] * 40
        listed = client.get("/projects", params={"limit": 400}).json()["projects"]
        assert len(listed) == 40
        assert client.delete("/projects/tenant-1").status_code == 404


def test_connection_faults_over_loopback(tmp_path):
    emulator = Emulator(tmp_path / "e.db", seed_from_mapping(BASE_SEED))
    with serve(emulator) as running, _client(running.url, "org-paid-key") as client:
        admin_url = running.url.replace("/api/v2", "/_emulator")
        httpx.put(f"{admin_url}/faults", json={"lost_response_rate": 1.0})
        with pytest.raises(httpx.TransportError):
            client.post("/projects", json={"project": {"name": "lost"}})
        httpx.put(f"{admin_url}/faults", json={"lost_response_rate": 0.0, "drop_rate": 1.0})
        with pytest.raises(httpx.TransportError):
            client.post("/projects", json={"project": {"name": "dropped"}})
        httpx.put(f"{admin_url}/faults", json={"drop_rate": 0.0})
        names = [p["name"] for p in client.get("/projects").json()["projects"]]
        assert names == ["lost"]
