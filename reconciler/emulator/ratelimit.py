"""Token-bucket rate limiting: per account per minute and per account and route per second.

Buckets refill continuously from the injected clock's timestamps (no timers). The account is
the user for personal keys and the organization for org and project-scoped keys. Buckets live
in memory: a restarted emulator starts with full buckets, like a quiet minute would.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float

    def refill(self, capacity: float, per_second: float, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(capacity, self.tokens + elapsed * per_second)
        self.updated = now


class RateLimiter:
    """Decides whether a request fits both buckets; consumes one token from each if it does."""

    def __init__(self) -> None:
        self._accounts: dict[str, _Bucket] = {}
        self._routes: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def allow(
        self, account: str, route: str, per_minute: int, route_per_second: int, now: float
    ) -> bool:
        """Return True and consume a token from both buckets, or False (answer 429)."""
        with self._lock:
            account_bucket = self._accounts.setdefault(account, _Bucket(per_minute, now))
            account_bucket.refill(per_minute, per_minute / 60.0, now)
            route_bucket = self._routes.setdefault((account, route), _Bucket(route_per_second, now))
            route_bucket.refill(route_per_second, float(route_per_second), now)
            if account_bucket.tokens < 1 or route_bucket.tokens < 1:
                return False
            account_bucket.tokens -= 1
            route_bucket.tokens -= 1
            return True

    def reset(self) -> None:
        """Forget every bucket (used when limits change at run time)."""
        with self._lock:
            self._accounts.clear()
            self._routes.clear()
