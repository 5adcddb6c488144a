"""The shared token-bucket limiter: budgets, adaptation to 429s, thread safety."""

from __future__ import annotations

import threading

import pytest

from reconciler.neon.ratelimit import RateLimiter, shared_limiter
from tests.neon.fakes import FakeTime


def _limiter(fake: FakeTime, **kwargs: float) -> RateLimiter:
    return RateLimiter(clock=fake.clock, sleep=fake.sleep, **kwargs)


def test_burst_is_free_then_the_account_rate_applies() -> None:
    fake = FakeTime()
    limiter = _limiter(fake, account_per_minute=600, account_burst=10)
    for _ in range(10):
        limiter.acquire("GET /projects")
    assert fake.sleeps == []
    limiter.acquire("GET /projects")
    assert fake.sleeps == [pytest.approx(0.1)]  # 600/min = one token per 0.1 s


def test_sustained_rate_never_exceeds_the_account_budget() -> None:
    fake = FakeTime()
    limiter = _limiter(fake, account_per_minute=700, account_burst=40)
    start = fake.now
    for index in range(740):
        limiter.acquire(f"GET /route/{index % 5}")
    # 40 free + 700 paced at 700/min: at least one minute must have passed.
    assert fake.now - start == pytest.approx(60.0, rel=1e-6)


def test_per_route_budget_is_separate_from_other_routes() -> None:
    fake = FakeTime()
    limiter = _limiter(
        fake, account_per_minute=1e6, account_burst=1e6, route_per_second=2, route_burst=2
    )
    limiter.acquire("GET /a")
    limiter.acquire("GET /a")
    limiter.acquire("GET /b")
    assert fake.sleeps == []
    limiter.acquire("GET /a")
    assert fake.sleeps == [pytest.approx(0.5)]


def test_consumption_routes_draw_from_their_own_budget() -> None:
    fake = FakeTime()
    limiter = _limiter(fake, consumption_per_minute=60, consumption_burst=1)
    limiter.acquire("GET /consumption_history/v2/projects")
    limiter.acquire("GET /projects")
    assert fake.sleeps == []
    limiter.acquire("GET /consumption_history/v2/projects")
    assert fake.sleeps == [pytest.approx(1.0)]


def test_a_429_halves_the_rate_and_it_recovers_slowly() -> None:
    fake = FakeTime()
    limiter = _limiter(fake, recovery_seconds=60.0, min_factor=0.0625)
    limiter.penalize()
    assert limiter.factor == pytest.approx(0.5)
    limiter.penalize()  # within the cooldown: the same storm, counted once
    assert limiter.factor == pytest.approx(0.5)
    fake.now += 2.0
    limiter.penalize()
    assert limiter.factor == pytest.approx((0.5 + 2.0 * 0.9375 / 60) / 2)
    fake.now += 120.0
    assert limiter.factor == 1.0
    assert limiter.penalties == 2


def test_penalty_slows_the_paced_rate() -> None:
    fake = FakeTime()
    limiter = _limiter(fake, account_per_minute=600, account_burst=1, recovery_seconds=1e9)
    limiter.acquire("GET /x")
    limiter.penalize()
    limiter.acquire("GET /x")
    assert fake.sleeps == [pytest.approx(0.2)]  # half of 10/s


def test_threads_share_one_budget() -> None:
    lock = threading.Lock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        with lock:
            slept.append(seconds)

    limiter = RateLimiter(account_per_minute=60, account_burst=10, clock=lambda: 0.0, sleep=sleep)

    def worker() -> None:
        for _ in range(5):
            limiter.acquire("GET /p")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 40 requests, 10 free: the other 30 got distinct reservations 1 s apart.
    assert sorted(slept) == [pytest.approx(float(n)) for n in range(1, 31)]
    assert limiter.waited_seconds == pytest.approx(sum(range(1, 31)))


def test_shared_limiter_is_one_per_process() -> None:
    assert shared_limiter() is shared_limiter()


def test_rates_must_be_positive() -> None:
    with pytest.raises(ValueError, match="account_per_minute"):
        RateLimiter(account_per_minute=0)
