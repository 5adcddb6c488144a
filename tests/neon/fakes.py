"""Builders for clients over ``httpx.MockTransport`` with no real waiting (test helper)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from reconciler.neon import RateLimiter, RetryPolicy
from reconciler.neon.mutators import NeonWriter

BASE_URL = "https://neon.test/api/v2"
KEY = "napi_test_secret_key_0123456789"


@dataclass
class FakeTime:
    """A clock that only moves when something sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fast_limiter(fake: FakeTime | None = None) -> RateLimiter:
    """A limiter so generous that tests never wait on it."""
    clock = fake.clock if fake else (lambda: 0.0)
    return RateLimiter(
        account_per_minute=1e9,
        account_burst=1e9,
        route_per_second=1e9,
        route_burst=1e9,
        consumption_per_minute=1e9,
        consumption_burst=1e9,
        clock=clock,
        sleep=lambda _s: None,
    )


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    fake: FakeTime | None = None,
    retry: RetryPolicy = RetryPolicy(jitter=0.0),  # noqa: B008
) -> tuple[NeonWriter, FakeTime]:
    """Return a client whose every request goes to ``handler`` and whose sleeps are fake."""
    fake = fake or FakeTime()
    client = NeonWriter(
        BASE_URL,
        transport=httpx.MockTransport(handler),
        limiter=fast_limiter(fake),
        retry=retry,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    return client, fake
