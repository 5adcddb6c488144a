"""Use case ``apply``: lock, re-observe, refuse a stale plan, execute, record.

The ledger's apply lock is taken before anything is read, so two applies never interleave; the
planned tenants are re-observed with exactly the details the plan recorded, and a tenant whose
live fingerprint moved makes the whole plan stale (exit 3) before any step runs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler import __version__
from reconciler.app.environment import Environment
from reconciler.apply.applier import Applier, StepEvent, check_fresh
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.apply.executor import ExecutionReport
from reconciler.core.plan import Plan
from reconciler.ledger import RunInfo, current_actor, utc_now
from reconciler.observe import DetailNeeds, observe
from reconciler.render.json import render_json


@dataclass(frozen=True)
class ApplyOutcome:
    """What an apply did, for the CLI's summary."""

    report: ExecutionReport
    api_calls: int


def apply_plan(
    env: Environment,
    plan: Plan,
    *,
    parallelism: int | None = None,
    lock_timeout: float = 0.0,
    on_event: Callable[[StepEvent], None] | None = None,
) -> ApplyOutcome:
    """Carry out ``plan``; raises ``StalePlanError`` or ``LockHeldError`` before any change."""
    client, credentials, ledger = env.client(), env.credentials(), env.ledger()
    before = client.stats.snapshot().total_requests
    holder = f"{current_actor()} pid {os.getpid()}"
    workers = parallelism or env.fleet.policy.parallelism
    with ledger.apply_lock(holder, timeout=lock_timeout):
        bindings = {
            name: TenantBinding.from_meta(name, data)
            for name, data in dict(plan.meta.get("tenants", {})).items()
        }
        ctx = ApplyContext(
            client=client,
            credentials=credentials,
            ledger=ledger,
            sink=env.secret_sink(),
            bindings=bindings,
            now=lambda: datetime.now(UTC),
        )
        org_ids = [org.id for org in env.fleet.orgs.values()]
        needs = DetailNeeds.from_dict(dict(plan.meta.get("observed", {})))
        live, _ = observe(client, credentials, org_ids, needs, parallelism=workers)
        check_fresh(plan, ctx, live, frozenset(org_ids))
        ctx.seed_branch_ids(live)
        info = RunInfo(
            who=current_actor(),
            started_at=utc_now(),
            plan_digest=hashlib.sha256(render_json(plan).encode()).hexdigest(),
            manifest_digest=plan.manifest_digest,
            tool_version=__version__,
        )
        report = Applier(ctx, plan).run(parallelism=workers, run_info=info, on_event=on_event)
    return ApplyOutcome(report, client.stats.snapshot().total_requests - before)
