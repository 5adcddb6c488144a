"""What previews need from the emulator and the client: branch sizes and endpoint activity."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.neon.wire import Endpoint
from tests.checkpoints.conftest import ContractTransport, FakeClock

SEED: dict[str, Any] = {
    "orgs": [{"id": "org-1", "plan": "agent"}],
    "keys": [{"token": "org-key", "kind": "org", "org": "org-1"}],
    "projects": [{"id": "p-1", "name": "t-1", "org": "org-1"}],
    "limits": {"requests_per_minute": 100000, "route_requests_per_second": 100000},
    "operation_duration_ms": 0,
}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    emulator = Emulator(None, seed_from_mapping(SEED), clock=FakeClock(), sleep=lambda _s: None)
    yield emulator
    emulator.close()


def test_the_admin_api_sets_what_a_branch_s_logical_size_reports(emu: Emulator) -> None:
    api = httpx.Client(
        transport=ContractTransport(httpx.WSGITransport(app=emu)),
        base_url="http://emulator.test/api/v2",
        headers={"Authorization": "Bearer org-key"},
    )
    admin = httpx.Client(transport=httpx.WSGITransport(app=emu), base_url="http://emulator.test")
    with api, admin:
        [main] = api.get("/projects/p-1/branches").json()["branches"]
        assert main["logical_size"] == 0
        answer = admin.patch(f"/_emulator/branches/{main['id']}", json={"logical_size": 12345})
        assert answer.status_code == 200 and answer.json()["branch"]["logical_size"] == 12345
        [listed] = api.get("/projects/p-1/branches").json()["branches"]
        assert listed["logical_size"] == 12345
        for body in ({"logical_size": -1}, {"logical_size": True}, {"size": 1}, {}):
            assert admin.patch(f"/_emulator/branches/{main['id']}", json=body).status_code == 400
        assert (
            admin.patch("/_emulator/branches/br-none", json={"logical_size": 1}).status_code == 404
        )


def test_an_endpoint_s_last_activity_is_read_when_neon_reports_it() -> None:
    wire = {
        "id": "ep-1",
        "project_id": "p-1",
        "branch_id": "br-1",
        "type": "read_write",
        "autoscaling_limit_min_cu": 0.25,
        "autoscaling_limit_max_cu": 1,
        "last_active": "2026-06-01T11:30:00Z",
    }
    assert Endpoint.from_wire(wire).last_active == "2026-06-01T11:30:00Z"
    del wire["last_active"]  # a compute that never ran has none
    assert Endpoint.from_wire(wire).last_active is None
