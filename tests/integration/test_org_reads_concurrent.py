"""Two orgs are read concurrently, each paced by its own account's budget, with no 429.

Real time (the point is concurrency between threads): the emulator enforces a per-account
route budget equal to the client's per-account budget, so a client that ignored the budget
would meet 429s. The assertions only go in the direction a loaded machine cannot break (each
account paced at least at its budget, the orgs' reads overlapping); the speed-up itself is
measured by ``bench/multi_org.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpx
import pytest

from reconciler.credentials import Credentials
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.neon import NeonClient, RateLimiter, RetryPolicy
from reconciler.observe import DetailNeeds, fetch_details, list_orgs

pytestmark = pytest.mark.integration

ORGS = {"org-a": "key-a", "org-b": "key-b"}
PER_ORG = 20
#: Requests per second per account, for the client and (per route) for the emulator.
RATE = 10.0


class Recorder:
    """A WSGI wrapper that notes when each request reached the emulator, and with which key."""

    def __init__(self, app: Emulator) -> None:
        self.app = app
        self.seen: list[tuple[float, str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        key = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
        self.seen.append((time.monotonic(), key, environ.get("PATH_INFO", "")))
        return self.app(environ, start_response)


def _seed() -> dict[str, Any]:
    return {
        "orgs": [{"id": org, "name": org, "plan": "scale"} for org in ORGS],
        "keys": [{"token": key, "kind": "org", "org": org} for org, key in ORGS.items()],
        "projects": [
            {"id": f"{org}-p{i:02d}", "name": f"{org}-p{i:02d}", "org": org}
            for org in ORGS
            for i in range(PER_ORG)
        ],
        "limits": {"requests_per_minute": 600, "route_requests_per_second": round(RATE)},
        "operation_duration_ms": 0,
    }


def test_two_orgs_are_read_concurrently_at_twice_one_accounts_rate_without_429() -> None:
    emulator = Emulator(None, seed_from_mapping(_seed()))
    recorder = Recorder(emulator)
    # Burst 1: paced from the first call, so the wall time measures the rate.
    limiter = RateLimiter(
        account_per_minute=RATE * 60, account_burst=1, route_per_second=RATE, route_burst=1
    )
    client = NeonClient(
        "http://emulator.test/api/v2",
        transport=httpx.WSGITransport(app=recorder),
        limiter=limiter,
        retry=RetryPolicy(jitter=0.0),
    )
    credentials = Credentials(org_keys=dict(ORGS))
    with client:
        listed = list_orgs(client, credentials, ORGS)
        needs = DetailNeeds(endpoints=frozenset(listed.projects))
        started = len(recorder.seen)
        live = fetch_details(client, credentials, listed, needs, parallelism=4)
        stats = client.stats.snapshot()
    emulator.close()

    assert stats.total_rate_limited == 0 and emulator.stats().rate_limited == 0
    assert sorted(p.id for p in live.projects.values() if p.endpoints) == sorted(listed.projects)
    assert limiter.accounts == ("org:org-a", "org:org-b")
    # Each org's calls, retries included, were granted by its own account's budget.
    seen_per_key = {key: sum(1 for _, k, _ in recorder.seen if k == key) for key in ORGS.values()}
    assert limiter.requests_by_account() == {
        f"org:{org}": seen_per_key[key] for org, key in ORGS.items()
    }
    reads = recorder.seen[started:]
    assert len(reads) == 2 * PER_ORG
    by_key = {key: [t for t, k, _ in reads if k == key] for key in ORGS.values()}
    # Concurrent: each org's reads overlap the other's instead of following them.
    a, b = by_key["key-a"], by_key["key-b"]
    assert a[0] < b[-1] and b[0] < a[-1]
    # Each account is paced at (not above) its own budget: 19 gaps of 1/RATE at least.
    for times in by_key.values():
        assert times[-1] - times[0] >= (PER_ORG - 1) / RATE * 0.95
    # How much faster two accounts are than one is a figure for bench/multi_org.py, not an
    # assertion: a loaded machine may stall a thread, and a test must not hang on that luck.
    # What holds on any machine: neither org waited for the other to finish.
    assert sum(1 for t in b if a[0] <= t <= a[-1]) >= 1
    assert sum(1 for t in a if b[0] <= t <= b[-1]) >= 1
