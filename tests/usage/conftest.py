"""Fixtures for the usage tests: a seeded two-org fleet with synthetic usage, and a reference
formula written independently of ``reconciler.emulator.usage`` (hour by hour, from the
documented definition), so the exact totals asserted here are not the code checking itself.

Every request to the emulator passes ``ContractTransport``: the query against the spec's
parameters and the answer against the spec's response schema.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import jsonschema
import pytest

from reconciler.emulator import Emulator, seed_from_mapping
from tests.support.openapi import load_spec, validate_response

CONSUMPTION = "/consumption_history/v2/projects"
SCALE, AGENT, FREE = "org-scale-1", "org-agent-1", "org-free-1"
PERSONAL, SCALE_KEY, AGENT_KEY, FREE_KEY = "u-personal", "u-scale-key", "u-agent-key", "u-free"
USAGE_SEED = 7
HISTORY_FROM = "2025-12-01T00:00:00Z"
NOW = dt.datetime(2026, 3, 15, 12, 30, tzinfo=dt.UTC).timestamp()
WEIGHTS = {"ua-03": 20}
SCALE_PROJECTS = [f"ua-{i:02d}" for i in range(12)]
AGENT_PROJECTS = [f"ub-{i}" for i in range(5)]

#: The documented synthetic rates (docs/usage.md), per hour, weight and profile unit.
RATES = {
    "compute_unit_seconds": 900,
    "root_branch_bytes_month": 1_000_000,
    "child_branch_bytes_month": 250_000,
    "instant_restore_bytes_month": 100_000,
    "public_network_transfer_bytes": 5_000_000,
    "private_network_transfer_bytes": 0,
    "extra_branches_month": 1,
    "snapshot_storage_bytes_month": 50_000,
}
COUNTER_RATES = {
    "active_time_seconds": 150,
    "compute_time_seconds": 900,
    "written_data_bytes": 2_000_000,
    "data_transfer_bytes": 5_000_000,
}


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ref_weight(name: str) -> int:
    return WEIGHTS.get(name, 1 + zlib.crc32(f"{USAGE_SEED}:{name}".encode()) % 9)


def ref_total(name: str, rate: int, start: float, end: float, now: float = NOW) -> int:
    """Brute force: every whole hour in [start, end), after history start, ended by now."""
    total = 0
    hour = max(start, ts(HISTORY_FROM))
    while hour + 3600 <= min(end, now):
        busy = 8 <= dt.datetime.fromtimestamp(hour, dt.UTC).hour < 20
        total += rate * ref_weight(name) * (2 if busy else 1)
        hour += 3600
    return total


def usage_seed(**overrides: Any) -> dict[str, Any]:
    seed: dict[str, Any] = {
        "orgs": [
            {"id": SCALE, "name": "Paid scale", "plan": "scale"},
            {"id": AGENT, "name": "Agent", "plan": "agent"},
            {"id": FREE, "name": "Free", "plan": "free"},
        ],
        "keys": [
            {"token": PERSONAL, "kind": "personal", "orgs": {SCALE: "admin", AGENT: "admin"}},
            {"token": SCALE_KEY, "kind": "org", "org": SCALE},
            {"token": AGENT_KEY, "kind": "org", "org": AGENT},
            {"token": FREE_KEY, "kind": "org", "org": FREE},
            {"token": "u-project", "kind": "project", "org": SCALE, "project": "ua-00"},
        ],
        "projects": [
            *({"id": name, "name": name, "org": SCALE} for name in SCALE_PROJECTS),
            *({"id": name, "name": name, "org": AGENT} for name in AGENT_PROJECTS),
            {"id": "uf-0", "name": "uf-0", "org": FREE},
        ],
        "limits": {"requests_per_minute": 100000, "route_requests_per_second": 100000},
        "usage": {"seed": USAGE_SEED, "history_from": HISTORY_FROM, "weights": WEIGHTS},
    }
    seed.update(overrides)
    return seed


class Clock:
    """One fake time for the emulator and the client; sleeping advances it."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def _param_schema(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        node: Any = load_spec()
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return dict(node)
    return schema


def check_query(request: httpx.Request) -> None:
    """Assert the query of a consumption request matches the spec's parameters."""
    spec = load_spec()["paths"][CONSUMPTION]["get"]["parameters"]
    query = parse_qs(request.url.query.decode(), keep_blank_values=True)
    known = {param["name"] for param in spec}
    assert set(query) <= known, f"unknown query parameters {set(query) - known}"
    for param in spec:
        values = query.get(param["name"])
        if values is None:
            assert not param.get("required"), f"missing required {param['name']}"
            continue
        schema = _param_schema(param["schema"])
        value: Any = values if schema.get("type") == "array" else values[-1]
        if schema.get("type") == "integer":
            value = int(value)
        jsonschema.validate(value, schema)


class ContractTransport(httpx.BaseTransport):
    """Validate requests' queries and responses' bodies against the OpenAPI document."""

    def __init__(self, inner: httpx.BaseTransport, *, queries: bool = True) -> None:
        self.inner, self.queries = inner, queries
        self.validated = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.split("/api/v2", 1)[1]
        template = path if path in (CONSUMPTION, "/projects") else "/projects/{project_id}"
        if path == CONSUMPTION and self.queries:
            check_query(request)
        response = self.inner.handle_request(request)
        response.read()
        body = response.json() if response.content else None
        validate_response(request.method, template, response.status_code, body)
        self.validated += 1
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[Emulator]:
    emulator = Emulator(None, seed_from_mapping(usage_seed()), clock=clock, sleep=lambda _s: None)
    yield emulator
    emulator.close()


@pytest.fixture
def api(emu: Emulator) -> Iterator[Any]:
    """``api(token)`` → a raw httpx client on the emulator that checks the contract."""
    made: list[httpx.Client] = []

    def make(token: str, emulator: Emulator | None = None, queries: bool = True) -> httpx.Client:
        """``queries=False`` lets a test send a query the spec forbids (to see the refusal)."""
        client = httpx.Client(
            transport=ContractTransport(httpx.WSGITransport(app=emulator or emu), queries=queries),
            base_url="http://emulator.test/api/v2",
            headers={"Authorization": f"Bearer {token}"},
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
