"""One thread-safe, adaptive token-bucket limiter for every request the process sends.

Neon limits an *account* to about 700 requests/minute, each *route* to 40 requests/second, and
the consumption routes to about 50 requests/minute. The limiter keeps one bucket for each budget
and makes a caller wait until every bucket that applies has a token. Tokens are *reserved*
(a bucket may go negative) under a lock and the wait happens outside it, so concurrent threads
queue fairly instead of spinning.

It adapts: on a 429 the server's budget is evidently smaller than ours (other tools share the
account), so ``penalize()`` halves the effective rate of every bucket; the rate then recovers
linearly to its configured value (additive increase, multiplicative decrease).

There is one limiter per process (``shared_limiter``), so every client, thread and org of a run
draws from the same budget. Its rates come from a ``RateBudget``: Neon's published limits by
default, or ``NEON_FLEET_RATE_LIMIT`` (account, e.g. ``700/min``), ``NEON_FLEET_ROUTE_RATE_LIMIT``
(per route, e.g. ``40/s``) and ``NEON_FLEET_CONSUMPTION_RATE_LIMIT`` (e.g. ``50/min``), read when
the shared limiter is first used; ``configure_shared_limiter`` changes them in place.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.errors import UsageError

#: Route templates under this prefix also draw from the consumption budget.
CONSUMPTION_PREFIX = "/consumption_history"
#: Environment variables that set the shared limiter's budget (see ``RateBudget.from_env``).
RATE_LIMIT_ENV = "NEON_FLEET_RATE_LIMIT"
ROUTE_RATE_LIMIT_ENV = "NEON_FLEET_ROUTE_RATE_LIMIT"
CONSUMPTION_RATE_LIMIT_ENV = "NEON_FLEET_CONSUMPTION_RATE_LIMIT"
#: The account bucket's burst: small, so a run starts paced instead of spending a minute's
#: budget in its first second (other tools may share the account).
ACCOUNT_BURST = 40.0
CONSUMPTION_BURST = 5.0

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*$")
_SECONDS_PER_UNIT = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}


def parse_rate(text: str, *, default_unit: str) -> float:
    """Requests per second from ``"700/min"``, ``"40/s"`` or a bare number in ``default_unit``.

    Raises ``UsageError`` for anything else, or a rate that is not positive.
    """
    found = _RATE.match(text)
    if found is None:
        raise UsageError(f"bad rate limit {text!r}: write it like 700/min or 40/s")
    value = float(found.group(1))
    if value <= 0:
        raise UsageError(f"bad rate limit {text!r}: it must be positive")
    return value / _SECONDS_PER_UNIT[found.group(2) or default_unit]


@dataclass(frozen=True)
class RateBudget:
    """The request rates one API account allows (Neon's published limits by default)."""

    account_per_minute: float = 700.0
    route_per_second: float = 40.0
    consumption_per_minute: float = 50.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RateBudget:
        """The budget the ``NEON_FLEET_*RATE_LIMIT`` variables set; unset ones keep defaults."""
        default = cls()

        def rate(variable: str, unit: str, fallback: float, scale: float) -> float:
            text = environ.get(variable, "").strip()
            if not text:
                return fallback
            try:
                return parse_rate(text, default_unit=unit) * scale
            except UsageError as exc:
                raise UsageError(f"{variable}: {exc}") from exc

        return cls(
            account_per_minute=rate(RATE_LIMIT_ENV, "min", default.account_per_minute, 60.0),
            route_per_second=rate(ROUTE_RATE_LIMIT_ENV, "s", default.route_per_second, 1.0),
            consumption_per_minute=rate(
                CONSUMPTION_RATE_LIMIT_ENV, "min", default.consumption_per_minute, 60.0
            ),
        )

    def describe(self) -> str:
        """For messages: ``700/min, 40/s per route, 50/min consumption``."""
        return (
            f"{self.account_per_minute:g}/min, {self.route_per_second:g}/s per route, "
            f"{self.consumption_per_minute:g}/min consumption"
        )


@dataclass
class _Bucket:
    """A token bucket; not thread-safe on its own (the limiter's lock guards it)."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    def reserve(self, now: float, factor: float) -> float:
        """Take one token (possibly on credit) and return how long to wait before using it."""
        effective = self.rate * factor
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * effective)
        self.updated = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / effective


class RateLimiter:
    """Token buckets for the account, each route and the consumption API; shared by threads."""

    def __init__(
        self,
        *,
        account_per_minute: float = 700.0,
        account_burst: float = 40.0,
        route_per_second: float = 40.0,
        route_burst: float = 40.0,
        consumption_per_minute: float = 50.0,
        consumption_burst: float = 5.0,
        min_factor: float = 1 / 16,
        recovery_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create a limiter; ``recovery_seconds`` is how long a full recovery from the lowest
        rate to the configured one takes without further 429s."""
        for name, value in (
            ("account_per_minute", account_per_minute),
            ("route_per_second", route_per_second),
            ("consumption_per_minute", consumption_per_minute),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        now = clock()
        self._account = _Bucket(account_per_minute / 60.0, account_burst, account_burst, now)
        self._consumption = _Bucket(
            consumption_per_minute / 60.0, consumption_burst, consumption_burst, now
        )
        self._route_rate, self._route_burst = route_per_second, route_burst
        self._routes: dict[str, _Bucket] = {}
        self._min_factor = min_factor
        self._recovery_per_second = (1.0 - min_factor) / recovery_seconds
        self._factor = 1.0
        self._factor_updated = now
        self._last_penalty = float("-inf")
        self._waited = 0.0
        self._penalties = 0

    @property
    def factor(self) -> float:
        """The current fraction (0..1] of the configured rates in force."""
        with self._lock:
            return self._current_factor(self._clock())

    @property
    def waited_seconds(self) -> float:
        """Total time callers were asked to wait (for benchmarks)."""
        with self._lock:
            return self._waited

    @property
    def penalties(self) -> int:
        """How many times the rate was halved after a 429."""
        with self._lock:
            return self._penalties

    def _current_factor(self, now: float) -> float:
        recovered = (now - self._factor_updated) * self._recovery_per_second
        self._factor = min(1.0, self._factor + max(0.0, recovered))
        self._factor_updated = now
        return self._factor

    def acquire(self, route: str) -> None:
        """Block until a request to ``route`` (e.g. ``GET /projects/{project_id}``) may go."""
        with self._lock:
            now = self._clock()
            factor = self._current_factor(now)
            bucket = self._routes.get(route)
            if bucket is None:
                bucket = _Bucket(self._route_rate, self._route_burst, self._route_burst, now)
                self._routes[route] = bucket
            wait = max(self._account.reserve(now, factor), bucket.reserve(now, factor))
            if CONSUMPTION_PREFIX in route:
                wait = max(wait, self._consumption.reserve(now, factor))
            self._waited += wait
        if wait > 0:
            self._sleep(wait)

    def penalize(self, cooldown: float = 1.0) -> None:
        """Halve the effective rate after a 429 (at most once per ``cooldown`` seconds, so a
        burst of 429s answered to concurrent threads counts as one signal)."""
        with self._lock:
            now = self._clock()
            if now - self._last_penalty < cooldown:
                return
            self._last_penalty = now
            self._penalties += 1
            self._factor = max(self._min_factor, self._current_factor(now) / 2.0)

    @property
    def budget(self) -> RateBudget:
        """The configured (not the currently adapted) rates."""
        with self._lock:
            return RateBudget(
                account_per_minute=self._account.rate * 60.0,
                route_per_second=self._route_rate,
                consumption_per_minute=self._consumption.rate * 60.0,
            )

    def reconfigure(self, budget: RateBudget) -> None:
        """Adopt ``budget`` in place and start afresh: full buckets, no penalty, no counters.

        In place, so clients already holding this limiter follow the new rates.
        """
        for name, value in (
            ("account_per_minute", budget.account_per_minute),
            ("route_per_second", budget.route_per_second),
            ("consumption_per_minute", budget.consumption_per_minute),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        with self._lock:
            now = self._clock()
            burst = min(ACCOUNT_BURST, budget.account_per_minute)
            self._account = _Bucket(budget.account_per_minute / 60.0, burst, burst, now)
            consumption_burst = min(CONSUMPTION_BURST, budget.consumption_per_minute)
            self._consumption = _Bucket(
                budget.consumption_per_minute / 60.0, consumption_burst, consumption_burst, now
            )
            self._route_rate = budget.route_per_second
            self._route_burst = max(1.0, budget.route_per_second)
            self._routes = {}
            self._factor, self._factor_updated = 1.0, now
            self._last_penalty = float("-inf")
            self._waited, self._penalties = 0.0, 0


_shared: RateLimiter | None = None
_shared_lock = threading.Lock()


def limiter_for(budget: RateBudget) -> RateLimiter:
    """A new limiter with ``budget``'s rates and the standard bursts."""
    limiter = RateLimiter()
    limiter.reconfigure(budget)
    return limiter


def shared_limiter() -> RateLimiter:
    """Return the process-wide limiter every ``NeonClient`` uses unless given another.

    Created on first use with the budget the environment sets (``RateBudget.from_env``).
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = limiter_for(RateBudget.from_env(os.environ))
        return _shared


def configure_shared_limiter(budget: RateBudget) -> RateLimiter:
    """Set the process-wide budget (clients already made follow it) and return the limiter."""
    limiter = shared_limiter()
    limiter.reconfigure(budget)
    return limiter
