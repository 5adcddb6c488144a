"""An account budget shared by several runners: tokens leased in blocks, spent locally.

When ``n`` runners apply shards of one fleet at once (``fleet apply --shard i/n``), each
process's own buckets (``reconciler.neon.ratelimit``) would spend the whole account budget ``n``
times over. ``SharedBudget`` adds a second gate to ``RateLimiter.acquire``: a request also
needs a token leased from a store every runner shares (the PostgreSQL ledger's ``rate_leases``
rows, ``reconciler.ledger.leases``). Tokens are leased a block at a time per account and spent
before the store is asked again; a lease that grants nothing says how long until a token is
there, and the caller sleeps that long. The local buckets still pace the process (routes, the
consumption budget, the adaptive factor after a 429).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

#: Tokens asked for per lease (``reconciler.ledger.leases.LEASE_BLOCK`` says why ten).
DEFAULT_BLOCK = 10
#: The shortest wait after an empty lease, so a runner never hammers the store.
MIN_WAIT = 0.01


class Granted(Protocol):
    """What a lease answered: tokens granted, else seconds until one is there."""

    @property
    def granted(self) -> int: ...

    @property
    def wait(self) -> float: ...


class TokenStore(Protocol):
    """Where the shared buckets live (``PostgresLedger.lease_tokens``)."""

    def lease_tokens(self, account: str, want: int, per_second: float, capacity: float) -> Granted:
        """Lease up to ``want`` tokens of ``account``'s bucket."""
        ...


class SharedBudget:
    """Per-account pools of leased tokens, refilled from a ``TokenStore``; thread-safe."""

    def __init__(
        self,
        store: TokenStore,
        *,
        per_second: float,
        capacity: float,
        block: int = DEFAULT_BLOCK,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store, self._sleep = store, sleep
        self.per_second, self.capacity, self.block = per_second, capacity, block
        self._guard = threading.Lock()
        self._pools: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self.leases = 0

    def take(self, account: str) -> float:
        """Spend one token of ``account``, leasing a block when the pool is empty.

        Returns the seconds spent waiting for the shared bucket. One thread per account leases
        at a time; the others wait for it and then spend from the pool it filled.
        """
        name = account or "process"
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        waited = 0.0
        with lock:
            while self._pools.get(name, 0) < 1:
                lease = self._store.lease_tokens(name, self.block, self.per_second, self.capacity)
                self.leases += 1
                if lease.granted > 0:
                    self._pools[name] = self._pools.get(name, 0) + lease.granted
                else:
                    pause = max(MIN_WAIT, lease.wait)
                    waited += pause
                    self._sleep(pause)
            self._pools[name] -= 1
        return waited
