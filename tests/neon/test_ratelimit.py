"""The shared token-bucket limiter: budgets, adaptation to 429s, thread safety."""

from __future__ import annotations

import threading

import pytest

from reconciler.errors import UsageError
from reconciler.neon import ratelimit
from reconciler.neon.ratelimit import (
    CONSUMPTION_RATE_LIMIT_ENV,
    RATE_LIMIT_ENV,
    ROUTE_RATE_LIMIT_ENV,
    RateBudget,
    RateLimiter,
    configure_shared_limiter,
    limiter_for,
    parse_rate,
    shared_limiter,
)
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


@pytest.mark.parametrize(
    ("accounts", "waits"),
    [
        # One account: 40 requests, 10 free; the other 30 get distinct reservations 1 s apart.
        ((None,), list(range(1, 31))),
        # Two accounts, 20 requests each: each account's 10 paced ones end at 10 s, not 30 s.
        (("org:a", "org:b"), sorted(list(range(1, 11)) * 2)),
    ],
)
def test_threads_share_each_accounts_budget(
    accounts: tuple[str | None, ...], waits: list[int]
) -> None:
    lock = threading.Lock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        with lock:
            slept.append(seconds)

    limiter = RateLimiter(account_per_minute=60, account_burst=10, clock=lambda: 0.0, sleep=sleep)

    def worker(account: str | None) -> None:
        for _ in range(5):
            limiter.acquire("GET /p", account)

    chosen = [accounts[n % len(accounts)] for n in range(8)]
    threads = [threading.Thread(target=worker, args=(account,)) for account in chosen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(slept) == [pytest.approx(float(n)) for n in waits]
    assert limiter.waited_seconds == pytest.approx(sum(waits))


def test_shared_limiter_is_one_per_process() -> None:
    assert shared_limiter() is shared_limiter()


def test_rates_must_be_positive() -> None:
    with pytest.raises(ValueError, match="account_per_minute"):
        RateLimiter(account_per_minute=0)


@pytest.mark.parametrize(
    ("text", "unit", "per_second"),
    [
        ("700/min", "min", 700 / 60),
        ("40/s", "min", 40.0),
        (" 7000 / minute ", "s", 7000 / 60),
        ("2.5/sec", "min", 2.5),
        ("700", "min", 700 / 60),
        ("40", "s", 40.0),
    ],
)
def test_rates_parse_with_units(text: str, unit: str, per_second: float) -> None:
    assert parse_rate(text, default_unit=unit) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["", "fast", "700/h", "-1/s", "0/min", "1e3/s"])
def test_bad_rates_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="bad rate limit"):
        parse_rate(text, default_unit="min")


def test_budget_from_env_overrides_only_what_is_set() -> None:
    assert RateBudget.from_env({}) == RateBudget(700.0, 40.0, 50.0)
    budget = RateBudget.from_env(
        {RATE_LIMIT_ENV: "7000/min", ROUTE_RATE_LIMIT_ENV: "400", CONSUMPTION_RATE_LIMIT_ENV: ""}
    )
    assert budget == RateBudget(7000.0, 400.0, 50.0)
    assert budget.describe() == "7000/min, 400/s per route, 50/min consumption per account"
    with pytest.raises(UsageError, match="bad rate limit 'lots'"):
        RateBudget.from_env({RATE_LIMIT_ENV: "lots"})


def test_reconfigure_adopts_the_budget_in_place_and_forgets_penalties() -> None:
    fake = FakeTime()
    limiter = _limiter(fake)
    limiter.penalize()
    limiter.reconfigure(RateBudget(account_per_minute=6000, route_per_second=400))
    assert limiter.factor == 1.0
    assert limiter.penalties == 0
    assert limiter.budget == RateBudget(6000.0, 400.0, 50.0)
    for _ in range(40):  # the standard account burst
        limiter.acquire("GET /projects")
    assert fake.sleeps == []
    limiter.acquire("GET /projects")
    assert fake.sleeps == [pytest.approx(0.01)]  # 6000/min = one token per 10 ms
    with pytest.raises(ValueError, match="route_per_second"):
        limiter.reconfigure(RateBudget(route_per_second=0))


def test_a_paced_run_takes_calls_over_rate() -> None:
    """The property the fleet bench measures: N calls cost (N - burst) / rate seconds."""
    fake = FakeTime()
    limiter = _limiter(fake)
    limiter.reconfigure(RateBudget(account_per_minute=7000, route_per_second=400))
    start = fake.now
    for index in range(7040):
        limiter.acquire(f"GET /projects/{{project_id}}/endpoints#{index % 2}")
    assert fake.now - start == pytest.approx(60.0, rel=1e-6)


def test_the_shared_limiter_reads_the_environment_once_and_can_be_reconfigured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ratelimit, "_shared", None)
    monkeypatch.setenv(RATE_LIMIT_ENV, "1400/min")
    first = shared_limiter()
    assert first.budget.account_per_minute == pytest.approx(1400.0)
    monkeypatch.setenv(RATE_LIMIT_ENV, "10/min")
    assert shared_limiter() is first
    assert first.budget.account_per_minute == pytest.approx(1400.0)
    assert configure_shared_limiter(RateBudget(account_per_minute=350)) is first
    assert first.budget.account_per_minute == pytest.approx(350.0)


def test_limiter_for_builds_an_independent_limiter() -> None:
    one = limiter_for(RateBudget(account_per_minute=60))
    assert one is not shared_limiter()
    assert one.budget == RateBudget(60.0, 40.0, 50.0)
