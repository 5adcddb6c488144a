"""Fixtures for checkpoint tests: an in-process emulator on a fake clock, contract-checked.

Every response of the snapshot routes is validated against the official OpenAPI document for
its route and status, so the emulator tests here are contract tests too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, seed_from_mapping
from tests.support.openapi import load_spec, validate_response

ORG = "org-free-1"
ORG_KEY = "org-free-key"

SEED: dict[str, Any] = {
    "orgs": [
        {"id": ORG, "name": "Free", "plan": "free", "snapshot_limit": 2, "root_branch_limit": 3},
        {"id": "org-paid-1", "name": "Paid", "plan": "scale"},
    ],
    "keys": [
        {"token": ORG_KEY, "kind": "org", "org": ORG},
        {"token": "org-paid-key", "kind": "org", "org": "org-paid-1"},
    ],
    "projects": [
        {"id": "tenant-1", "name": "tenant-1", "org": ORG},
        {"id": "paid-1", "name": "paid-1", "org": "org-paid-1"},
    ],
    "limits": {"requests_per_minute": 100000, "route_requests_per_second": 100000},
    "operation_duration_ms": 500,
}


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _template(path: str) -> str | None:
    candidates = []
    for template in load_spec()["paths"]:
        regex = re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template))
        if re.match(f"^{regex}$", path):
            candidates.append(template)
    return min(candidates, key=lambda t: t.count("{")) if candidates else None


class ContractTransport(httpx.BaseTransport):
    """Send through ``inner``; assert every API response matches the OpenAPI document."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.validated = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        template = _template(request.url.path.split("/api/v2", 1)[1])
        assert template is not None, f"not a Neon route: {request.url.path}"
        body = json.loads(response.content) if response.content else None
        validate_response(request.method, template, response.status_code, body)
        self.validated += 1
        return response


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator_seed() -> dict[str, Any]:
    """The emulator's seed; a test module overrides this fixture to seed its own orgs."""
    return SEED


@pytest.fixture
def emu(clock: FakeClock, emulator_seed: dict[str, Any]) -> Iterator[Emulator]:
    emulator = Emulator(None, seed_from_mapping(emulator_seed), clock=clock, sleep=lambda _s: None)
    yield emulator
    emulator.close()


@pytest.fixture
def api(emu: Emulator) -> Iterator[httpx.Client]:
    """A contract-checked client with the free org's key."""
    transport = ContractTransport(httpx.WSGITransport(app=emu))
    with httpx.Client(
        transport=transport,
        base_url="http://emulator.test/api/v2",
        headers={"Authorization": f"Bearer {ORG_KEY}"},
    ) as client:
        yield client
