"""Use case ``apply``: lock, re-observe, refuse a stale plan, execute, record.

The ledger's apply lock is taken before anything is read, so two applies never interleave; the
planned tenants are re-observed with exactly the details the plan recorded, and a tenant whose
live fingerprint moved makes the whole plan stale (exit 3) before any step runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler import __version__
from reconciler.app.environment import Environment
from reconciler.app.shard_budget import require_postgres, shared_budgets
from reconciler.apply.applier import Applier, StepEvent, check_fresh, record_converged
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.apply.executor import ExecutionReport
from reconciler.apply.recovery import RecoveryReport, recover
from reconciler.core.model import LiveFleet
from reconciler.core.plan import Plan
from reconciler.core.plan_codec import SEAL_PREFIX, plan_digest
from reconciler.core.sharding import Shard
from reconciler.ledger import RunInfo, current_actor, utc_now
from reconciler.ledger.retention import PruneReport, prune_by_policy
from reconciler.observe import DetailNeeds, list_orgs, observe


@dataclass(frozen=True)
class ApplyOutcome:
    """What an apply did, for the CLI's summary."""

    report: ExecutionReport
    api_calls: int
    #: What history retention pruned after a successful run (None: not run, or ``never``).
    pruned: PruneReport | None = None


@contextlib.contextmanager
def apply_session(
    env: Environment, *, lock_timeout: float = 0.0, shard: Shard | None = None
) -> Iterator[RecoveryReport]:
    """Hold the ledger's apply lock and settle what a crashed apply left open.

    Everything an apply reads and writes happens inside this block, planning included for
    ``fleet apply PATH``, so no other apply can move the fleet in between. With ``shard``
    (``--shard i/n``, PostgreSQL only) the lock is that shard's, recovery settles that shard's
    intents only, and the account budgets are shared with the other shards' runners.
    """
    sharded = shard if shard is not None and not shard.whole else None
    shared = require_postgres(env, sharded) if sharded is not None else None
    client, credentials, ledger = env.client(), env.credentials(), env.ledger()
    org_ids = [org.id for org in env.fleet.orgs.values()]
    lock = (
        ledger.apply_lock(current_actor(), timeout=lock_timeout)
        if sharded is None
        else ledger.shard_lock(current_actor(), sharded, timeout=lock_timeout)
    )
    with lock, shared_budgets(env, sharded, shared):
        yield recover(
            client,
            credentials,
            ledger,
            lambda: list_orgs(client, credentials, org_ids),
            owns=None if sharded is None else sharded.holds,
        )


def apply_plan(
    env: Environment,
    plan: Plan,
    *,
    parallelism: int | None = None,
    on_event: Callable[[StepEvent], None] | None = None,
    planned_from: LiveFleet | None = None,
    digest: str | None = None,
) -> ApplyOutcome:
    """Carry out ``plan`` inside an ``apply_session``; a stale plan is refused before any change.

    ``planned_from`` is the live state the plan was built from or checked against *in this same
    session* (under the lock, so nothing can have moved): it is used as is instead of observing
    again. Without it the plan's tenants are re-observed and their fingerprints compared; that
    form trusts the plan's contract and is for plans made in this process only: a plan file
    goes through ``plan_trust.vouch`` first. ``digest`` is the run's recorded plan digest
    (default: the plan's seal, ``plan_codec.plan_digest``).
    """
    client, credentials, ledger = env.client(), env.credentials(), env.ledger()
    before = client.stats.snapshot().total_requests
    workers = parallelism or env.fleet.policy.parallelism
    bindings = {
        name: TenantBinding.from_planned(name, planned)
        for name, planned in (plan.contract.tenants or {}).items()
    }
    ctx = ApplyContext(
        client=client,
        credentials=credentials,
        ledger=ledger,
        sink=env.secret_sink(),
        bindings=bindings,
        now=lambda: datetime.now(UTC),
    )
    if planned_from is None:
        org_ids = [org.id for org in env.fleet.orgs.values()]
        needs = DetailNeeds.from_dict(dict(plan.contract.observed or {}))
        live, _ = observe(client, credentials, org_ids, needs, parallelism=workers)
        check_fresh(plan, ctx, live, frozenset(org_ids))
    else:
        live = planned_from
    ctx.seed_branch_ids(live)
    info = RunInfo(
        who=current_actor(),
        started_at=utc_now(),
        # The seal's hex part: `fleet history` shows its first characters. A plan read from a
        # file carries its verified seal; only a plan made in this process is serialised here.
        plan_digest=(digest or plan.seal or plan_digest(plan)).removeprefix(SEAL_PREFIX),
        manifest_digest=plan.manifest_digest,
        tool_version=__version__,
    )
    report = Applier(ctx, plan).run(parallelism=workers, run_info=info, on_event=on_event)
    calls = client.stats.snapshot().total_requests - before
    # Housekeeping after success only: a failed run is what someone will read next, and the
    # prune (one indexed DELETE per history table) runs under the apply lock still held.
    pruned = (
        prune_by_policy(ledger, env.fleet.policy.history_retention_seconds) if report.ok else None
    )
    return ApplyOutcome(report, calls, pruned)


def settle_converged(env: Environment, plan: Plan) -> ApplyOutcome:
    """An apply with no steps: record the converged tenants and prune history, as a run would.

    Called inside an ``apply_session``; a fleet that stays converged still has its history pruned.
    """
    ledger = env.ledger()
    record_converged(ledger, plan)
    pruned = prune_by_policy(ledger, env.fleet.policy.history_retention_seconds)
    calls = env.client().stats.snapshot().total_requests
    return ApplyOutcome(ExecutionReport(()), calls, pruned)
