"""Planning reads wait out a 429 storm within the rate-limit wait budget; writes stay bounded.

The emulator's storm fault (``storm_429_requests``) answers the next N API requests with 429.
Emulator and client share one fake clock, so minutes of waiting take no real time and every
wait the client makes is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler import errors
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.neon import RateLimiter, RetryPolicy
from reconciler.neon.mutators import NeonWriter
from tests.integration.test_client_against_emulator import FREE_KEY, SEED, SharedClock, _admin

HOST = "http://emulator.test:80"
#: Longer than the default 8 attempts (0.5 … 30 s backoffs, ~61 s): the old client gave up.
SHORT_STORM = 12


@pytest.fixture
def clock() -> SharedClock:
    return SharedClock()


@pytest.fixture
def emu(clock: SharedClock) -> Iterator[Emulator]:
    emulator = Emulator(None, seed_from_mapping(SEED), clock=clock, sleep=lambda _s: None)
    yield emulator
    emulator.close()


def _client(emu: Emulator, clock: SharedClock, **policy: Any) -> NeonWriter:
    # The real limiter on the fake clock: every attempt is paced through it.
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    return NeonWriter(
        "http://emulator.test/api/v2",
        transport=httpx.WSGITransport(app=emu),
        limiter=limiter,
        retry=RetryPolicy(jitter=0.0, **policy),
        sleep=clock.sleep,
        clock=clock,
    )


def _storm(emu: Emulator, requests: int) -> None:
    _admin(emu, "PUT", "/faults", {"storm_429_requests": requests})


def _notes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "reconciler.neon" and r.levelno == logging.WARNING
    ]


def test_planning_reads_wait_out_a_429_storm_within_the_budget(
    emu: Emulator, clock: SharedClock, caplog: pytest.LogCaptureFixture
) -> None:
    _storm(emu, SHORT_STORM)
    with _client(emu, clock) as client:
        listing = client.list_projects(FREE_KEY, org_id="org-free-1")
        snapshot = client.stats.snapshot()
        assert client.limiter.penalties >= 1  # the shared limiter slowed down too
    assert len(listing.projects) == 2
    assert snapshot.total_rate_limited == SHORT_STORM
    assert emu.stats().rate_limited == SHORT_STORM
    assert clock.slept <= 300.0
    notes = _notes(caplog)
    prefix = f"rate limited by Neon (429) on GET /projects at {HOST}; waiting, "
    assert notes and all(n.startswith(prefix) for n in notes)
    assert notes[0].endswith("0 s of 300 s budget used (NEON_FLEET_RATE_LIMIT_WAIT)")
    # Progress, not one line per 429: notes are at least 10 s apart.
    assert 1 < len(notes) < SHORT_STORM
    assert not any("attempt #" in n for n in notes)


def test_a_429_storm_longer_than_the_budget_fails_naming_the_host_and_the_budget(
    emu: Emulator, clock: SharedClock
) -> None:
    _storm(emu, 10_000)
    with _client(emu, clock, rate_limit_wait_seconds=45.0) as client:
        with pytest.raises(errors.RateLimited) as info:
            client.list_projects(FREE_KEY, org_id="org-free-1")
        # The storm clock is shared: the next read is charged from the storm's start and does
        # not wait another 45 s.
        slept = clock.slept
        with pytest.raises(errors.RateLimited):
            client.get_project(FREE_KEY, "tenant-1")
        assert clock.slept == slept
    message = str(info.value)
    assert f"still rate limited by {HOST} after waiting 45 s" in message
    assert (
        "the budget for waiting out 429s on reads is 45 s (NEON_FLEET_RATE_LIMIT_WAIT)" in message
    )
    assert slept == pytest.approx(45.0)


def test_a_success_ends_the_storm_and_the_next_storm_gets_a_fresh_budget(
    emu: Emulator, clock: SharedClock
) -> None:
    with _client(emu, clock, rate_limit_wait_seconds=20.0) as client:
        for _ in range(3):
            _storm(emu, 5)  # 0.5 + 1 + 2 + 4 + 8 = 15.5 s: inside the budget each time
            assert client.get_project(FREE_KEY, "tenant-1").id == "tenant-1"
    assert emu.stats().rate_limited == 15


def test_mutations_keep_their_bounded_attempts_in_a_429_storm(
    emu: Emulator, clock: SharedClock
) -> None:
    _storm(emu, 10_000)
    with _client(emu, clock) as client:
        with pytest.raises(errors.RateLimited) as info:
            client.create_project(FREE_KEY, name="during-a-storm", org_id="org-free-1")
        assert client.stats.snapshot().total_requests == RetryPolicy().max_attempts
    assert "gave up after 8 attempt(s)" in str(info.value)
