"""Thread-safe, adaptive token-bucket limiters, one set per Neon account, for every request.

Neon budgets per *account*: each org (its org key and its project-scoped keys) is one account,
and a personal key is its user's. An account may send about 700 requests/minute, 40
requests/second per *route*, and about 50 requests/minute to the consumption routes. The
limiter keeps those buckets *per account* and makes a caller wait until every bucket of its
account that applies has a token, so four orgs are read at four times one org's rate. Tokens
are *reserved* (a bucket may go negative) under a lock and the wait happens outside it, so
concurrent threads queue fairly instead of spinning.

The account of a call is the ``account`` of its ``ApiKey`` (``reconciler.credentials`` sets
it); the client passes it to ``acquire``/``penalize`` with every attempt. Calls without an
account (a plain ``str`` key) share the account ``""``.

It adapts per account: a 429 means that account's budget is evidently smaller than ours (other
tools share it), so ``penalize()`` halves the effective rate of that account's buckets only; the
rate then recovers linearly to its configured value (additive increase, multiplicative
decrease). Other accounts keep their pace.

There is one limiter per process (``shared_limiter``), so every client and thread of a run
draws from the same per-account budgets. Its rates come from a ``RateBudget``: Neon's published
limits by default, or ``NEON_FLEET_RATE_LIMIT`` (per account, e.g. ``700/min``),
``NEON_FLEET_ROUTE_RATE_LIMIT`` (per route of an account, e.g. ``40/s``),
``NEON_FLEET_CONSUMPTION_RATE_LIMIT`` (per account, e.g. ``50/min``) and
``NEON_FLEET_RATE_LIMIT_SCOPE`` (``account``, the default, or ``process``: one budget for the
whole process whatever the key, the behaviour before budgets were per account), read when the
shared limiter is first used; ``configure_shared_limiter`` changes them in place.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from reconciler.errors import UsageError
from reconciler.neon.rates import parse_rate as parse_rate  # re-exported: benches use it
from reconciler.neon.shared_budget import SharedBudget

#: Route templates under this prefix also draw from the consumption budget.
CONSUMPTION_PREFIX = "/consumption_history"
#: Environment variables that set the shared limiter's budget (see ``RateBudget.from_env``).
RATE_LIMIT_ENV = "NEON_FLEET_RATE_LIMIT"
ROUTE_RATE_LIMIT_ENV = "NEON_FLEET_ROUTE_RATE_LIMIT"
CONSUMPTION_RATE_LIMIT_ENV = "NEON_FLEET_CONSUMPTION_RATE_LIMIT"
RATE_LIMIT_SCOPE_ENV = "NEON_FLEET_RATE_LIMIT_SCOPE"
#: ``account``: one set of buckets per Neon account; ``process``: one set for every call.
RateScope = Literal["account", "process"]
RATE_SCOPES: tuple[RateScope, ...] = ("account", "process")
#: The account bucket's burst: small, so a run starts paced instead of spending a minute's
#: budget in its first second (other tools may share the account).
ACCOUNT_BURST = 40.0
CONSUMPTION_BURST = 5.0


@dataclass(frozen=True)
class RateBudget:
    """The request rates one API account allows (Neon's published limits by default)."""

    account_per_minute: float = 700.0
    route_per_second: float = 40.0
    consumption_per_minute: float = 50.0
    #: Whether each account has its own buckets (``account``) or all share one (``process``).
    scope: RateScope = "account"

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

        scope = environ.get(RATE_LIMIT_SCOPE_ENV, "").strip() or default.scope
        if scope not in RATE_SCOPES:
            raise UsageError(
                f"{RATE_LIMIT_SCOPE_ENV}: bad scope {scope!r}: write account (one budget per Neon "
                "account, the default) or process (one budget for the whole process)"
            )
        return cls(
            account_per_minute=rate(RATE_LIMIT_ENV, "min", default.account_per_minute, 60.0),
            route_per_second=rate(ROUTE_RATE_LIMIT_ENV, "s", default.route_per_second, 1.0),
            consumption_per_minute=rate(
                CONSUMPTION_RATE_LIMIT_ENV, "min", default.consumption_per_minute, 60.0
            ),
            scope="process" if scope == "process" else "account",
        )

    def describe(self) -> str:
        """For messages: ``700/min, 40/s per route, 50/min consumption`` (per account)."""
        return (
            f"{self.account_per_minute:g}/min, {self.route_per_second:g}/s per route, "
            f"{self.consumption_per_minute:g}/min consumption"
            + (" per account" if self.scope == "account" else " for the whole process")
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


@dataclass(frozen=True)
class _Rates:
    """Configured rates (per second) and bursts of one account's buckets."""

    account: float
    account_burst: float
    route: float
    route_burst: float
    consumption: float
    consumption_burst: float
    min_factor: float
    recovery_per_second: float


class _Account:
    """One account's buckets (account, consumption, one per route) and its adaptive factor."""

    def __init__(self, rates: _Rates, now: float) -> None:
        self.rates = rates
        self.account = _Bucket(rates.account, rates.account_burst, rates.account_burst, now)
        self.consumption = _Bucket(
            rates.consumption, rates.consumption_burst, rates.consumption_burst, now
        )
        self.routes: dict[str, _Bucket] = {}
        self.factor, self.factor_updated = 1.0, now
        self.last_penalty = float("-inf")
        self.requests = 0

    def current_factor(self, now: float) -> float:
        recovered = (now - self.factor_updated) * self.rates.recovery_per_second
        self.factor = min(1.0, self.factor + max(0.0, recovered))
        self.factor_updated = now
        return self.factor

    def reserve(self, route: str, now: float) -> float:
        """Reserve a token in every bucket ``route`` needs; return the wait."""
        self.requests += 1
        factor = self.current_factor(now)
        bucket = self.routes.get(route)
        if bucket is None:
            burst = self.rates.route_burst
            bucket = self.routes[route] = _Bucket(self.rates.route, burst, burst, now)
        wait = max(self.account.reserve(now, factor), bucket.reserve(now, factor))
        if CONSUMPTION_PREFIX in route:
            wait = max(wait, self.consumption.reserve(now, factor))
        return wait

    def penalize(self, now: float, cooldown: float) -> bool:
        """Halve the factor unless penalized within ``cooldown``; True if it was halved."""
        if now - self.last_penalty < cooldown:
            return False
        self.last_penalty = now
        self.factor = max(self.rates.min_factor, self.current_factor(now) / 2.0)
        return True


class RateLimiter:
    """Token buckets for each account, its routes and its consumption API; shared by threads."""

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
        rate to the configured one takes without further 429s. Every account gets these rates
        (``reconfigure`` with a ``process``-scoped budget makes every call share one account)."""
        for name, value in (
            ("account_per_minute", account_per_minute),
            ("route_per_second", route_per_second),
            ("consumption_per_minute", consumption_per_minute),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._min_factor, self._recovery_seconds = min_factor, recovery_seconds
        self._configure(
            _Rates(
                account_per_minute / 60.0, account_burst, route_per_second, route_burst,
                consumption_per_minute / 60.0, consumption_burst,
                min_factor, (1.0 - min_factor) / recovery_seconds,
            ),
            "account",
        )  # fmt: skip

    def _configure(self, rates: _Rates, scope: RateScope) -> None:
        self._rates, self._scope = rates, scope
        self._accounts: dict[str, _Account] = {}
        self._waited = 0.0
        self._penalties = 0
        self._shared: SharedBudget | None = None

    def _account(self, account: str | None, now: float) -> _Account:
        """The buckets of ``account`` (None: the account ``""``); lock held."""
        name = "" if self._scope == "process" or account is None else account
        found = self._accounts.get(name)
        if found is None:
            found = self._accounts[name] = _Account(self._rates, now)
        return found

    @property
    def factor(self) -> float:
        """The current fraction (0..1] of the configured rates in force for the account
        ``""`` (calls without one)."""
        return self.factor_of(None)

    def factor_of(self, account: str | None) -> float:
        """The current fraction (0..1] of the configured rates in force for ``account``."""
        with self._lock:
            now = self._clock()
            return self._account(account, now).current_factor(now)

    @property
    def accounts(self) -> tuple[str, ...]:
        """The accounts that have spent from this limiter so far, sorted."""
        with self._lock:
            return tuple(sorted(self._accounts))

    def requests_by_account(self) -> dict[str, int]:
        """How many requests (attempts) each account has been granted so far."""
        with self._lock:
            return {name: found.requests for name, found in sorted(self._accounts.items())}

    @property
    def waited_seconds(self) -> float:
        """Total time callers were asked to wait, over every account (for benchmarks)."""
        with self._lock:
            return self._waited

    @property
    def penalties(self) -> int:
        """How many times an account's rate was halved after a 429, over every account."""
        with self._lock:
            return self._penalties

    def acquire(self, route: str, account: str | None = None) -> None:
        """Block until a request to ``route`` (e.g. ``GET /projects/{project_id}``) may go.

        ``account`` None is the account ``""`` (calls with a plain key).
        """
        with self._lock:
            now = self._clock()
            wait = self._account(account, now).reserve(route, now)
            self._waited += wait
            shared = self._shared
            name = account or ""
        if wait > 0:
            self._sleep(wait)
        if shared is not None:  # after the local pacing: a leased token is spent at once
            waited = shared.take("" if self._scope == "process" else name)
            with self._lock:
                self._waited += waited

    def share(self, budget: SharedBudget | None) -> None:
        """Also spend a token of ``budget`` (shared by runners) per request; None stops that, as
        does ``reconfigure``."""
        with self._lock:
            self._shared = budget

    def penalize(self, cooldown: float = 1.0, account: str | None = None) -> None:
        """Halve an account's effective rate after a 429 (at most once per ``cooldown``
        seconds, so a burst of 429s answered to concurrent threads counts as one signal).

        ``account`` None is the account ``""``; other accounts are untouched.
        """
        with self._lock:
            now = self._clock()
            if self._account(account, now).penalize(now, cooldown):
                self._penalties += 1

    @property
    def budget(self) -> RateBudget:
        """The configured (not the currently adapted) rates of each account."""
        with self._lock:
            return RateBudget(
                account_per_minute=self._rates.account * 60.0,
                route_per_second=self._rates.route,
                consumption_per_minute=self._rates.consumption * 60.0,
                scope=self._scope,
            )

    def reconfigure(self, budget: RateBudget) -> None:
        """Adopt ``budget`` in place and start afresh: no account buckets yet (each starts
        full), no penalty, no counters.

        In place, so clients already holding this limiter follow the new rates.
        """
        for name, value in (
            ("account_per_minute", budget.account_per_minute),
            ("route_per_second", budget.route_per_second),
            ("consumption_per_minute", budget.consumption_per_minute),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        rates = _Rates(
            account=budget.account_per_minute / 60.0,
            account_burst=min(ACCOUNT_BURST, budget.account_per_minute),
            route=budget.route_per_second,
            route_burst=max(1.0, budget.route_per_second),
            consumption=budget.consumption_per_minute / 60.0,
            consumption_burst=min(CONSUMPTION_BURST, budget.consumption_per_minute),
            min_factor=self._min_factor,
            recovery_per_second=(1.0 - self._min_factor) / self._recovery_seconds,
        )
        with self._lock:
            self._configure(rates, budget.scope)


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
