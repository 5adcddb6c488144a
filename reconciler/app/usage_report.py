"""Use case ``fleet usage report``: the synced samples of the managed orgs, summed up.

A report reads only the ledger (``fleet usage sync`` filled it); the sums and costs are
``core.usage``, the output ``render.usage``.
"""

from __future__ import annotations

from datetime import datetime

from reconciler.app.environment import Environment
from reconciler.app.usage import utc_now
from reconciler.core.model import DesiredFleet
from reconciler.core.usage import GROUPINGS, UsageReport, build_report, floor_time
from reconciler.errors import UsageError
from reconciler.ledger.usage import UsageStore


def usage_report(
    env: Environment,
    desired: DesiredFleet,
    *,
    by: str = "tenant",
    start: datetime | None = None,
    end: datetime | None = None,
    granularity: str = "hourly",
    top: int = 10,
) -> UsageReport:
    """Read the synced samples of the managed orgs from the ledger and sum them up.

    The window defaults to the current calendar month (Neon's billing period) up to now.
    """
    if by not in GROUPINGS:
        raise UsageError(f"--by must be one of {', '.join(GROUPINGS)}")
    finish = end or utc_now()
    begin = start or floor_time(finish, "monthly")
    if finish <= begin:
        raise UsageError("the report window is empty: --to must be after --from")
    ledger = env.ledger()
    org_ids = [org.id for org in desired.fleet.orgs.values()]
    samples = UsageStore(ledger).samples(granularity, begin, finish, org_ids=org_ids)
    owners = {record.project_id: name for name, record in ledger.view().tenants.items()}
    return build_report(
        samples,
        by=by,
        owners=owners,
        tiers={name: tenant.tier for name, tenant in desired.tenants.items()},
        pricing=desired.fleet.pricing,
        start=begin,
        end=finish,
        granularity=granularity,
        top=top,
    )
