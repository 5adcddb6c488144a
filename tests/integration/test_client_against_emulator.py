"""NeonClient against the Neon emulator: in process (WSGI) and over loopback (``serve``).

Every request the client sends here also passes ``validate_request`` against the official
OpenAPI document (``ValidatingTransport``), so these flows double as contract tests of the
client's request bodies. In process, the emulator and the client share one fake clock: the
client's "sleep" moves the emulator's time, so operations finish and rate-limit buckets
refill without any real waiting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler import errors
from reconciler.emulator import Emulator, seed_from_mapping, serve
from reconciler.neon import RateLimiter, RetryPolicy
from reconciler.neon.mutators import NeonWriter
from tests.neon.fakes import fast_limiter
from tests.neon.routes import match_route
from tests.support.openapi import validate_request

pytestmark = pytest.mark.integration

FREE, PAID = "org-free-1", "org-paid-1"
PERSONAL, FREE_KEY, PAID_KEY, TENANT_KEY = "personal-admin", "org-free-key", "org-paid-key", "tk-1"
SEED: dict[str, Any] = {
    "orgs": [
        {"id": FREE, "name": "Sponsored free", "plan": "free"},
        {"id": PAID, "name": "Paid", "plan": "scale"},
    ],
    "keys": [
        {"token": PERSONAL, "kind": "personal", "orgs": {FREE: "admin", PAID: "admin"}},
        {"token": FREE_KEY, "kind": "org", "org": FREE},
        {"token": PAID_KEY, "kind": "org", "org": PAID},
        {"token": TENANT_KEY, "kind": "project", "org": FREE, "project": "tenant-1"},
    ],
    "projects": [
        {"id": "tenant-1", "name": "tenant-1", "org": FREE},
        {"id": "tenant-2", "name": "tenant-2", "org": FREE},
    ],
    "limits": {"requests_per_minute": 1_000_000, "route_requests_per_second": 1_000_000},
    "operation_duration_ms": 500,
}
FAST_RETRY = RetryPolicy(backoffs=(0.05, 0.1, 0.2, 0.4, 0.8, 1.6), max_total_seconds=30, jitter=0)


class ValidatingTransport(httpx.BaseTransport):
    """Check every request body against the OpenAPI schema, then pass it on."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.checked = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        template = match_route(request.method, request.url.path)
        body = json.loads(request.content) if request.content else None
        validate_request(request.method, template, body)
        self.checked += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class SharedClock:
    """One fake time for emulator and client; the client's sleeps advance it."""

    def __init__(self) -> None:
        self.now = 1_780_000_000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def _seed(**overrides: Any) -> Any:
    return seed_from_mapping({**SEED, **overrides})


@pytest.fixture
def clock() -> SharedClock:
    return SharedClock()


@pytest.fixture
def emu(clock: SharedClock) -> Iterator[Emulator]:
    emulator = Emulator(None, _seed(), clock=clock, sleep=lambda _s: None)
    yield emulator
    emulator.close()


def _client(emulator: Emulator, clock: SharedClock, **kwargs: Any) -> NeonWriter:
    transport = ValidatingTransport(httpx.WSGITransport(app=emulator))
    return NeonWriter(
        "http://emulator.test/api/v2",
        transport=transport,
        limiter=kwargs.pop("limiter", fast_limiter()),
        sleep=clock.sleep,
        clock=clock,
        **kwargs,
    )


@pytest.fixture
def client(emu: Emulator, clock: SharedClock) -> Iterator[NeonWriter]:
    with _client(emu, clock) as made:
        yield made


def _admin(emulator: Emulator, method: str, path: str, body: Any) -> None:
    with httpx.Client(
        transport=httpx.WSGITransport(app=emulator), base_url="http://emulator.test/_emulator"
    ) as admin:
        admin.request(method, path, json=body).raise_for_status()


# --------------------------------------------------------------------------- pagination


@pytest.mark.parametrize("limit", [1, 7, 400])
def test_pagination_reaches_the_last_page(limit: int, clock: SharedClock) -> None:
    many = [{"name": f"fleet-{i:04d}", "org": FREE} for i in range(403)]
    emulator = Emulator(None, _seed(projects=many), clock=clock, sleep=lambda _s: None)
    with _client(emulator, clock) as client:
        listing = client.list_projects(FREE_KEY, limit=limit)
    assert sorted(p.name for p in listing.projects) == [f"fleet-{i:04d}" for i in range(403)]
    assert len({p.id for p in listing.projects}) == 403
    expected_pages = -(-403 // limit) + (1 if 403 % limit == 0 else 0)
    assert listing.pages == expected_pages
    assert emulator.stats().requests[("GET", "/projects")] == expected_pages
    emulator.close()


def test_branch_pagination_reaches_the_last_page(client: NeonWriter) -> None:
    created = client.create_project(FREE_KEY, name="branchy")
    pid = created.project.id
    client.wait_for_operations(FREE_KEY, pid, created.operations)
    for index in range(4):
        made = client.create_branch(FREE_KEY, pid, name=f"b{index}")
        client.wait_for_operations(FREE_KEY, pid, made.operations)
    pages = list(client.iter_branches(FREE_KEY, pid, limit=2))
    names = sorted(b.name for page in pages for b in page.branches)
    assert names == ["b0", "b1", "b2", "b3", "main"]
    assert len(pages) == 3


# --------------------------------------------------------------------------- auth rules


def test_unknown_key_is_unauthorized(client: NeonWriter) -> None:
    with pytest.raises(errors.Unauthorized):
        client.list_projects("no-such-key")


def test_org_key_outside_its_org_is_forbidden(client: NeonWriter) -> None:
    with pytest.raises(errors.Forbidden):
        client.list_projects(FREE_KEY, org_id=PAID)
    with pytest.raises(errors.Forbidden):
        client.list_org_api_keys(FREE_KEY, PAID)


def test_project_key_only_reaches_its_project(client: NeonWriter) -> None:
    assert client.get_project(TENANT_KEY, "tenant-1").name == "tenant-1"
    with pytest.raises(errors.Forbidden):
        client.get_project(TENANT_KEY, "tenant-2")
    with pytest.raises(errors.Forbidden):
        client.create_project(TENANT_KEY, name="not-allowed")


def test_transfer_needs_a_personal_key(client: NeonWriter) -> None:
    with pytest.raises(errors.Forbidden):
        client.transfer_projects(FREE_KEY, FREE, PAID, ["tenant-2"])
    result = client.transfer_projects(PERSONAL, FREE, PAID, ["tenant-2"])
    assert result.project_ids == ("tenant-2",)
    assert client.get_project(PAID_KEY, "tenant-2").org_id == PAID


def test_revoked_key_is_unauthorized(client: NeonWriter) -> None:
    minted = client.create_org_api_key(PERSONAL, FREE, "ci-bot")
    assert minted.token not in repr(minted)
    assert client.list_projects(minted.token).projects
    client.revoke_org_api_key(FREE_KEY, FREE, minted.id)
    with pytest.raises(errors.Unauthorized):
        client.list_projects(minted.token)


def test_project_key_dies_after_transfer(client: NeonWriter) -> None:
    minted = client.create_org_api_key(FREE_KEY, FREE, "tenant-2-app", project_id="tenant-2")
    assert minted.project_id == "tenant-2"
    keys = client.list_org_api_keys(FREE_KEY, FREE)
    assert ("tenant-2-app", "tenant-2") in {(k.name, k.project_id) for k in keys}
    assert client.get_project(minted.token, "tenant-2").id == "tenant-2"
    client.transfer_projects(PERSONAL, FREE, PAID, ["tenant-2"])
    with pytest.raises(errors.Unauthorized):
        client.get_project(minted.token, "tenant-2")


def test_transfer_over_400_is_refused_before_sending(client: NeonWriter) -> None:
    with pytest.raises(errors.UsageError):
        client.transfer_projects(PERSONAL, FREE, PAID, [f"p-{i}" for i in range(401)])
    assert client.stats.snapshot().total_requests == 0


# --------------------------------------------------------------------------- 423, 429, faults


def test_locked_project_succeeds_after_its_operations_finish(
    client: NeonWriter, clock: SharedClock
) -> None:
    created = client.create_project(FREE_KEY, name="busy", quota={"active_time_seconds": 60})
    pid = created.project.id
    assert any(not op.is_terminal for op in created.operations)
    quota = {"active_time_seconds": 3600, "compute_time_seconds": 0}
    project, _ = client.update_project(FREE_KEY, pid, quota=quota)  # 423 first, then retried
    assert project.quota == quota
    snapshot = client.stats.snapshot()
    assert snapshot.retries.get("PATCH /projects/{project_id}", 0) >= 1
    assert clock.slept >= 0.9  # two 0.5 s operations had to finish


def test_waiting_for_operations_avoids_the_lock(client: NeonWriter) -> None:
    created = client.create_project(FREE_KEY, name="patient")
    done = client.wait_for_operations(FREE_KEY, created.project.id, created.operations)
    assert {op.status for op in done} == {"finished"}
    (endpoint,) = client.list_endpoints(FREE_KEY, created.project.id)
    updated, ops = client.update_endpoint(
        FREE_KEY,
        created.project.id,
        endpoint.id,
        autoscaling_limit_max_cu=2,
        suspend_timeout_seconds=300,
    )
    assert updated.autoscaling_limit_max_cu == 2 and updated.suspend_timeout_seconds == 300
    client.wait_for_operations(FREE_KEY, created.project.id, ops)
    assert client.stats.snapshot().total_retries == 0


def test_a_429_storm_is_survived(emu: Emulator, clock: SharedClock) -> None:
    _admin(emu, "PUT", "/faults", {"storm_429_requests": 5})
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    with _client(emu, clock, limiter=limiter) as client:
        assert len(client.list_projects(FREE_KEY).projects) == 2
        snapshot = client.stats.snapshot()
    assert snapshot.total_rate_limited == 5 and snapshot.total_retries == 5
    assert limiter.penalties >= 1


def test_the_server_rate_limit_is_survived(clock: SharedClock) -> None:
    limits = {"requests_per_minute": 120, "route_requests_per_second": 5}
    emulator = Emulator(None, _seed(limits=limits), clock=clock, sleep=lambda _s: None)
    # The client's own budget is larger than the server's, so it must learn from the 429s.
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, route_per_second=40, route_burst=40)
    with _client(emulator, clock, limiter=limiter) as client:
        for _ in range(60):
            assert client.get_project(FREE_KEY, "tenant-1").id == "tenant-1"
        snapshot = client.stats.snapshot()
    assert snapshot.total_rate_limited > 0
    assert snapshot.requests["GET /projects/{project_id}"] == 60 + snapshot.total_retries
    emulator.close()


def test_lost_create_response_makes_no_second_project(emu: Emulator, client: NeonWriter) -> None:
    _admin(emu, "PUT", "/faults", {"lost_response_rate": 1.0})
    with pytest.raises(errors.OutcomeUnknown):
        client.create_project(FREE_KEY, name="tenant-lost")
    _admin(emu, "PUT", "/faults", {"lost_response_rate": 0.0})
    # The caller reads back by deterministic name instead of re-sending the create.
    found = client.find_projects_by_name(FREE_KEY, "tenant-lost")
    assert len(found) == 1
    assert client.stats.snapshot().requests["POST /projects"] == 1


def test_dropped_connections_are_retried_for_reads(emu: Emulator, client: NeonWriter) -> None:
    _admin(emu, "PUT", "/faults", {"drop_rate": 0.5, "random_seed": 3})
    for _ in range(10):
        assert client.get_project(FREE_KEY, "tenant-1").id == "tenant-1"


def test_restart_keeps_state(tmp_path: Any, clock: SharedClock) -> None:
    state = tmp_path / "emulator.db"
    first = Emulator(state, _seed(), clock=clock, sleep=lambda _s: None)
    with _client(first, clock) as client:
        created = client.create_project(FREE_KEY, name="durable")
        minted = client.create_org_api_key(FREE_KEY, FREE, "durable-app", created.project.id)
    first.close()
    second = Emulator(state, _seed(), clock=clock, sleep=lambda _s: None)
    with _client(second, clock) as client:
        assert client.get_project(FREE_KEY, created.project.id).name == "durable"
        assert client.get_project(minted.token, created.project.id).id == created.project.id
        assert len(client.find_projects_by_name(FREE_KEY, "durable")) == 1
    second.close()


# --------------------------------------------------------------------------- loopback


@pytest.fixture
def loopback(tmp_path: Any) -> Iterator[tuple[Emulator, str]]:
    seed = _seed(operation_duration_ms=20)
    emulator = Emulator(tmp_path / "loop.db", seed)
    with serve(emulator) as running:
        yield emulator, running.url
    emulator.close()


def _loopback_client(url: str, limiter: RateLimiter | None = None) -> NeonWriter:
    return NeonWriter(
        url,
        transport=ValidatingTransport(httpx.HTTPTransport()),
        limiter=limiter or fast_limiter(),
        retry=FAST_RETRY,
        timeout=10,
    )


def test_loopback_lifecycle(loopback: tuple[Emulator, str]) -> None:
    _, url = loopback
    with _loopback_client(url) as client:
        created = client.create_project(
            FREE_KEY, name="wire", quota={"compute_time_seconds": 100}, history_retention_seconds=0
        )
        pid = created.project.id
        # No wait: the PATCH meets 423 and the client retries it with real (short) sleeps.
        project, ops = client.update_project(FREE_KEY, pid, name="wire-2")
        client.wait_for_operations(FREE_KEY, pid, ops, timeout=10)
        assert project.name == "wire-2"
        branch = client.create_branch(FREE_KEY, pid, name="dev", endpoint_type="read_write")
        client.wait_for_operations(FREE_KEY, pid, branch.operations, timeout=10)
        changed, _ = client.update_branch(FREE_KEY, pid, branch.branch.id, protected=True)
        assert changed.protected
        assert {b.name for b in client.list_branches(FREE_KEY, pid)} == {"main", "dev"}
        assert [o.id for o in client.list_my_organizations(FREE_KEY)] == [FREE]
        assert client.get_organization(FREE_KEY, FREE).id == FREE
        assert client.get_auth(FREE_KEY).auth_method == "api_key_org"
        for limit in (1, 7, 400):
            assert len(client.list_projects(FREE_KEY, limit=limit).projects) == 3
        client.delete_project(FREE_KEY, pid)
        with pytest.raises(errors.NotFound):
            client.get_project(FREE_KEY, pid)


def test_loopback_lost_response_and_restart(loopback: tuple[Emulator, str], tmp_path: Any) -> None:
    emulator, url = loopback
    with _loopback_client(url) as client:
        _admin(emulator, "PUT", "/faults", {"lost_response_rate": 1.0})
        with pytest.raises(errors.OutcomeUnknown) as info:
            client.create_project(FREE_KEY, name="wire-lost")
        assert isinstance(info.value.__cause__, httpx.TransportError)
        _admin(emulator, "PUT", "/faults", {"lost_response_rate": 0.0})
        assert len(client.find_projects_by_name(FREE_KEY, "wire-lost")) == 1
    # A second emulator process on the same state file sees the project.
    again = Emulator(tmp_path / "loop.db", _seed())
    with serve(again) as running, _loopback_client(running.url) as client:
        assert len(client.find_projects_by_name(FREE_KEY, "wire-lost")) == 1
    again.close()


def test_loopback_429_storm(loopback: tuple[Emulator, str]) -> None:
    emulator, url = loopback
    _admin(emulator, "PUT", "/faults", {"storm_429_requests": 4})
    with _loopback_client(url) as client:
        assert client.get_project(FREE_KEY, "tenant-1").id == "tenant-1"
        assert client.stats.snapshot().total_rate_limited == 4
