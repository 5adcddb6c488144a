"""Fixtures for emulator tests: a fake clock, seeded emulators and contract-checking clients.

Every client here sends through ``ContractTransport``, which validates each response against
the official OpenAPI schema for its route and status. So every emulator test is also a
contract test. The only responses not validated are listed in ``UNVALIDATED`` with a reason.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, seed_from_mapping
from tests.support.openapi import load_spec, validate_response

#: Responses the contract check skips, each with the reason.
UNVALIDATED = {
    "/_emulator/": "the emulator's own admin API is not part of Neon's API",
    "unknown route": "404/405 for paths or methods the spec does not have (no schema exists)",
}

BASE_SEED: dict[str, Any] = {
    "orgs": [
        {"id": "org-free-1", "name": "Sponsored free", "plan": "free", "project_limit": 30000},
        {"id": "org-paid-1", "name": "Paid", "plan": "scale"},
        {"id": "org-launch-1", "name": "Launch", "plan": "launch"},
        {"id": "org-tiny-1", "name": "Tiny", "plan": "enterprise", "project_limit": 1},
    ],
    "keys": [
        {
            "token": "personal-admin",
            "kind": "personal",
            "orgs": {
                "org-free-1": "admin",
                "org-paid-1": "admin",
                "org-launch-1": "admin",
                "org-tiny-1": "admin",
            },
        },
        {"token": "personal-member", "kind": "personal", "orgs": {"org-paid-1": "member"}},
        {"token": "org-free-key", "kind": "org", "org": "org-free-1"},
        {"token": "org-paid-key", "kind": "org", "org": "org-paid-1"},
        {"token": "tenant-key", "kind": "project", "org": "org-free-1", "project": "tenant-1"},
    ],
    "projects": [
        {"id": "legacy-app-1", "name": "legacy-app-1", "org": "org-free-1",
         "integration": "github"},
        {"id": "legacy-app-2", "name": "legacy-app-2", "org": "org-free-1",
         "integration": "vercel"},
        {"id": "tenant-1", "name": "tenant-1", "org": "org-free-1",
         "quota": {"active_time_seconds": 5}},
    ],
    "limits": {"requests_per_minute": 100000, "route_requests_per_second": 100000},
    "operation_duration_ms": 500,
}  # fmt: skip


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str, int]]:
    compiled = []
    for template in load_spec()["paths"]:
        regex = re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template))
        compiled.append((re.compile(f"^{regex}$"), template, template.count("{")))
    # Prefer literal segments (``/projects/shared``) over parameters (``/projects/{id}``).
    return sorted(compiled, key=lambda item: item[2])


def spec_template(path: str) -> str | None:
    """The OpenAPI path template matching a concrete API path (``None`` if there is none)."""
    for pattern, template, _ in _templates():
        if pattern.match(path):
            return template
    return None


class ContractTransport(httpx.BaseTransport):
    """Send through ``inner``; assert each API response matches the OpenAPI document."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.validated = 0

    def close(self) -> None:
        self.inner.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        path = request.url.path
        if "/_emulator/" in path:
            return response
        response.read()
        template = spec_template(path.split("/api/v2", 1)[1])
        methods = load_spec()["paths"].get(template or "", {})
        if template is None or request.method.lower() not in methods:
            assert response.status_code in (404, 405), f"unexpected route {request.method} {path}"
            return response
        body = json.loads(response.content) if response.content else None
        validate_response(request.method, template, response.status_code, body)
        if (
            response.status_code >= 400 and isinstance(body, dict) and "message" in body
        ):  # GeneralError, not 406/422
            assert body["request_id"], "GeneralError without request_id"
        self.validated += 1
        return response


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[Emulator]:
    emulator = Emulator(None, seed_from_mapping(BASE_SEED), clock=clock, sleep=lambda _s: None)
    yield emulator
    emulator.close()


ClientFactory = Callable[..., httpx.Client]


@pytest.fixture
def client_for(emu: Emulator) -> Iterator[ClientFactory]:
    """``client_for("token")`` → an httpx client on the in-process emulator (None: no auth)."""
    clients: list[httpx.Client] = []

    def make(token: str | None, emulator: Emulator | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = ContractTransport(httpx.WSGITransport(app=emulator or emu))
        client = httpx.Client(
            transport=transport, base_url="http://emulator.test/api/v2", headers=headers
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def admin(emu: Emulator) -> Iterator[httpx.Client]:
    """A client for the emulator's admin API."""
    with httpx.Client(
        transport=httpx.WSGITransport(app=emu), base_url="http://emulator.test/_emulator"
    ) as client:
        yield client


@pytest.fixture
def project(client_for: ClientFactory, clock: FakeClock) -> dict[str, Any]:
    """A fresh project of ``org-paid-1`` whose creating operations finished: its create answer."""
    created = client_for("org-paid-key").post("/projects", json={"project": {"name": "fresh"}})
    assert created.status_code == 201, created.text
    clock.advance(2)
    body: dict[str, Any] = created.json()
    return body
