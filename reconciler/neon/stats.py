"""Thread-safe call statistics of a client, for benchmarks and the apply summary.

Counts are kept per route key, ``"<METHOD> <route template>"`` such as
``GET /projects/{project_id}``, so they can be compared with a "calls per project" budget
without leaking tenant ids.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """A consistent copy of the counters at one moment."""

    #: Requests actually sent (every attempt counts), per route key.
    requests: Mapping[str, int] = field(default_factory=dict)
    #: Attempts that were followed by a retry, per route key.
    retries: Mapping[str, int] = field(default_factory=dict)
    #: 429 answers received, per route key.
    rate_limited: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_requests(self) -> int:
        """All requests sent."""
        return sum(self.requests.values())

    @property
    def total_retries(self) -> int:
        """All retries made."""
        return sum(self.retries.values())

    @property
    def total_rate_limited(self) -> int:
        """All 429 answers seen."""
        return sum(self.rate_limited.values())


class CallStats:
    """Counters updated by the client from any number of threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._retries: Counter[str] = Counter()
        self._rate_limited: Counter[str] = Counter()

    def record_request(self, route_key: str) -> None:
        """Count one request sent."""
        with self._lock:
            self._requests[route_key] += 1

    def record_retry(self, route_key: str) -> None:
        """Count one retry decided."""
        with self._lock:
            self._retries[route_key] += 1

    def record_rate_limited(self, route_key: str) -> None:
        """Count one 429 answer."""
        with self._lock:
            self._rate_limited[route_key] += 1

    def snapshot(self) -> StatsSnapshot:
        """Return a copy of all counters."""
        with self._lock:
            return StatsSnapshot(
                requests=dict(self._requests),
                retries=dict(self._retries),
                rate_limited=dict(self._rate_limited),
            )

    def reset(self) -> None:
        """Zero every counter (between benchmark phases)."""
        with self._lock:
            self._requests.clear()
            self._retries.clear()
            self._rate_limited.clear()
