"""Leasing request tokens from an account's shared bucket in the PostgreSQL ledger.

Each Neon account has one row in ``rate_leases``: a token bucket (``tokens`` as of
``updated_at``) that refills at the account's budget up to a small capacity. A runner leases a
few tokens at a time (``LEASE_BLOCK``) and spends them locally before asking again, so the
ledger sees about one lease per ten requests. The row is locked (``SELECT … FOR UPDATE``) for
the lease's transaction, and the refill is computed from the *database's* clock
(``clock_timestamp()``, read after the row lock is granted), so runners with skewed clocks,
waiting on each other, still share one consistent bucket.

Bound: over any interval of T seconds, the tokens granted to all runners together are at most
``capacity + per_second × T``; tokens leased but not yet spent (at most ``LEASE_BLOCK - 1`` per
runner and account) may be spent later, so the requests actually sent in the interval exceed
that by at most ``runners × (LEASE_BLOCK - 1)``. ``shared_capacity`` takes that slack out of the
bucket's capacity, so the burst all runners can send stays within the account's burst.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from datetime import datetime

from reconciler.ledger.sql_access import Tx

#: Tokens asked for per lease: few enough that an idle runner holds little of the budget,
#: enough that a busy one asks the ledger about once per ten requests.
LEASE_BLOCK = 10


@dataclass(frozen=True)
class Lease:
    """What a lease granted; with nothing granted, how long until a token is there."""

    granted: int
    wait: float = 0.0


class RateLeases(abc.ABC):
    """The shared token buckets of runners on several machines (``Ledger.rate_leases``)."""

    @abc.abstractmethod
    def lease_tokens(self, account: str, want: int, per_second: float, capacity: float) -> Lease:
        """Lease up to ``want`` tokens of ``account``'s shared bucket."""


def shared_capacity(burst: float, runners: int) -> float:
    """The shared bucket's capacity for ``runners``: ``burst`` less what they may hold unspent.

    Never below one block, so a lease can always be granted in full once the bucket refills.
    """
    return max(float(LEASE_BLOCK), burst - runners * (LEASE_BLOCK - 1))


def lease_tokens(tx: Tx, account: str, want: int, per_second: float, capacity: float) -> Lease:
    """Take up to ``want`` whole tokens from ``account``'s bucket inside transaction ``tx``.

    A new account's bucket starts full. ``per_second`` and ``capacity`` are the caller's budget
    (every runner of a fleet is configured alike).
    """
    if want < 1 or per_second <= 0 or capacity < 1:
        raise ValueError(f"bad lease: want={want}, per_second={per_second}, capacity={capacity}")
    tx.execute(
        "INSERT INTO rate_leases (account, tokens, updated_at) VALUES (?, ?, clock_timestamp())"
        " ON CONFLICT (account) DO NOTHING",
        (account, capacity),
    )
    row = tx.one(
        "SELECT tokens, updated_at FROM rate_leases WHERE account = ? FOR UPDATE", (account,)
    )
    # Read after the row lock is granted: a runner that waited for it sees the time it got it.
    clock = tx.one("SELECT clock_timestamp()")
    if row is None or clock is None:
        raise RuntimeError(f"rate_leases has no row for {account!r} after inserting it")
    tokens, updated_at = float(row[0]), row[1]
    now: datetime = clock[0]
    elapsed = max(0.0, (now - updated_at).total_seconds())
    tokens = min(capacity, tokens + elapsed * per_second)
    granted = max(0, min(want, math.floor(tokens)))
    tokens -= granted
    tx.execute(
        "UPDATE rate_leases SET tokens = ?, updated_at = ? WHERE account = ?",
        (tokens, max(now, updated_at), account),
    )
    return Lease(granted, 0.0 if granted else (1.0 - tokens) / per_second)
