"""Budgets shared by the runners of a sharded apply (``--shard i/n``; docs/scale.md).

Each runner keeps its process's own buckets, but the *account* budget is leased from the
PostgreSQL ledger (``rate_leases``, one token bucket per Neon account, tokens leased ten at a
time), so the ``n`` runners together never send an account more than its budget. The per-route
and consumption budgets are not leased: each runner takes ``1/n`` of them, which bounds the
runners' sum by the account's per-route budget without a ledger round trip per route.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from reconciler.app.environment import Environment
from reconciler.core.sharding import Shard
from reconciler.errors import UsageError
from reconciler.ledger.leases import LEASE_BLOCK, RateLeases, shared_capacity
from reconciler.ledger.url import PostgresTarget, parse_ledger_url
from reconciler.neon.ratelimit import ACCOUNT_BURST, shared_limiter
from reconciler.neon.shared_budget import SharedBudget


def require_postgres(env: Environment, shard: Shard) -> RateLeases:
    """The budgets of the ledger runners share, or the one clear error for a ledger they
    cannot share.

    Decided from the URL first, so a SQLite ledger is not even created for a refused run (the
    URL is shown as is: only SQLite URLs, which hold no password, get this far).
    """
    url = env.ledger_url()
    target = parse_ledger_url(url, base_dir=env.options.workdir)
    leases = env.ledger().rate_leases if isinstance(target, PostgresTarget) else None
    if leases is not None:
        return leases
    raise UsageError(
        f"--shard {shard.describe()} needs a PostgreSQL ledger (the ledger is "
        f"{url}): runners on several machines cannot share a SQLite file; "
        "drop --shard, or move the ledger to postgresql://"
    )


@contextmanager
def shared_budgets(
    env: Environment, shard: Shard | None, leases: RateLeases | None = None
) -> Iterator[SharedBudget | None]:
    """Within the block, this process spends its share of every account's budget only.

    Nothing changes for the whole fleet (no shard, or ``0/1``). ``leases`` are the ones
    ``require_postgres`` already returned, if the caller checked first. The process's limiter
    gets its configured budget back on leaving the block.
    """
    if shard is None or shard.whole:
        yield None
        return
    leases = leases or require_postgres(env, shard)
    env.client()  # configures the process's limiter from the environment
    limiter = shared_limiter()
    budget = limiter.budget
    limiter.reconfigure(
        replace(
            budget,
            route_per_second=budget.route_per_second / shard.count,
            consumption_per_minute=budget.consumption_per_minute / shard.count,
        )
    )
    shared = SharedBudget(
        leases,
        per_second=budget.account_per_minute / 60.0,
        capacity=shared_capacity(min(ACCOUNT_BURST, budget.account_per_minute), shard.count),
        block=LEASE_BLOCK,
    )
    limiter.share(shared)
    try:
        yield shared
    finally:
        limiter.reconfigure(budget)
