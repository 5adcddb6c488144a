"""Fleet usage values and arithmetic (pure): timeframes, totals and cost, quota utilisation.

* **Timeframes.** RFC 3339 times, timeframe starts, and how far back Neon keeps each
  granularity: shared by ``fleet usage sync`` (which windows to fetch), the report (its default
  window) and the renderers (how times print).
* **Totals and cost.** Synced samples summed per tenant, tier or org. A sample's tenant is the
  ledger's current owner of its project, else the tenant recorded at sync time, and its tier
  comes from the manifests. Money appears only when the Fleet's ``pricing`` block gives rates:
  ``value / per × price`` per metric, in Decimal so totals add up to the cent. Metrics without a
  rate cost nothing and say so.
* **Sync results.** What ``fleet usage sync`` fetched and stored, org by org.
* **Quota utilisation.** Each tenant's period counters against its effective quota
  (``fleet usage quota`` fills them from ``GET /projects/{id}``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from reconciler.core.model import Pricing
from reconciler.errors import UsageError

#: The eight v2 consumption metrics (spec: ``/paths/~1consumption_history~1v2~1projects/get``).
METRICS: tuple[str, ...] = (
    "compute_unit_seconds",
    "root_branch_bytes_month",
    "child_branch_bytes_month",
    "instant_restore_bytes_month",
    "public_network_transfer_bytes",
    "private_network_transfer_bytes",
    "extra_branches_month",
    "snapshot_storage_bytes_month",
)
GROUPINGS = ("tenant", "tier", "org")
UNMANAGED = "(unmanaged)"


class UsageRow(Protocol):
    """What the report reads of one synced sample (the ledger's ``UsageSample`` is one)."""

    @property
    def project_id(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def timeframe_start(self) -> datetime: ...
    @property
    def value(self) -> int: ...
    @property
    def org_id(self) -> str: ...
    @property
    def tenant(self) -> str | None: ...


@dataclass(frozen=True)
class GroupUsage:
    """Totals of one tenant, tier or org; ``costs`` holds the money of each priced metric
    (None without a pricing block)."""

    key: str
    totals: Mapping[str, int]
    costs: Mapping[str, Decimal] | None = None

    @property
    def cost(self) -> Decimal | None:
        """The group's total cost: the sum over its priced metrics (None without pricing)."""
        return None if self.costs is None else sum(self.costs.values(), Decimal(0))


@dataclass(frozen=True)
class UsageReport:
    """Everything ``fleet usage report`` prints, and the series its charts draw."""

    start: datetime
    end: datetime
    granularity: str
    by: str
    totals: Mapping[str, int]
    groups: tuple[GroupUsage, ...]
    top: tuple[GroupUsage, ...]
    currency: str | None
    total_cost: Decimal | None
    #: Per tier: ``(timeframe_start, compute_unit_seconds)`` in time order (for charts).
    series: Mapping[str, tuple[tuple[datetime, int], ...]]
    samples: int


def metric_costs(totals: Mapping[str, int], pricing: Pricing | None) -> dict[str, Decimal] | None:
    """The money each priced metric of ``totals`` costs at the configured rates (None without
    pricing; metrics without a rate are absent: they cost nothing)."""
    if pricing is None:
        return None
    return {
        metric: Decimal(totals.get(metric, 0)) * Decimal(str(rate.price)) / Decimal(str(rate.per))
        for metric, rate in pricing.rates.items()
    }


def cost_of(totals: Mapping[str, int], pricing: Pricing | None) -> Decimal | None:
    """The money ``totals`` cost at the configured rates (None without pricing)."""
    costs = metric_costs(totals, pricing)
    return None if costs is None else sum(costs.values(), Decimal(0))


def build_report(
    samples: Iterable[UsageRow],
    *,
    by: str,
    owners: Mapping[str, str],
    tiers: Mapping[str, str],
    pricing: Pricing | None,
    start: datetime,
    end: datetime,
    granularity: str,
    top: int = 10,
) -> UsageReport:
    """Sum ``samples`` per group (pure). ``owners``: project id → tenant; ``tiers``: tenant →
    tier."""
    per_group: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_tenant: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    series: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    count = 0
    for sample in samples:
        count += 1
        tenant = owners.get(sample.project_id) or sample.tenant
        tier = tiers.get(tenant, UNMANAGED) if tenant else UNMANAGED
        tenant_key = tenant or f"{UNMANAGED} {sample.project_id}"
        key = {"tenant": tenant_key, "tier": tier, "org": sample.org_id}[by]
        per_group[key][sample.metric] += sample.value
        per_tenant[tenant_key][sample.metric] += sample.value
        totals[sample.metric] += sample.value
        if sample.metric == "compute_unit_seconds":
            series[tier][sample.timeframe_start] += sample.value
    groups = _ranked(per_group, pricing)
    return UsageReport(
        start=start,
        end=end,
        granularity=granularity,
        by=by,
        totals={m: totals.get(m, 0) for m in METRICS},
        groups=groups,
        top=_ranked(per_tenant, pricing)[:top],
        currency=pricing.currency if pricing else None,
        total_cost=cost_of(totals, pricing),
        series={tier: tuple(sorted(points.items())) for tier, points in sorted(series.items())},
        samples=count,
    )


def _ranked(
    groups: Mapping[str, Mapping[str, int]], pricing: Pricing | None
) -> tuple[GroupUsage, ...]:
    made = [
        GroupUsage(key, {m: totals.get(m, 0) for m in METRICS}, metric_costs(totals, pricing))
        for key, totals in groups.items()
    ]
    # Biggest spender first (compute when there are no prices), then by name for stable output.
    made.sort(key=lambda g: (-(g.cost or 0), -g.totals["compute_unit_seconds"], g.key))
    return tuple(made)


# --------------------------------------------------------------------------- timeframes

#: Neon's retention per granularity (older ``from`` values get 406).
RETENTION = {"hourly": timedelta(hours=168), "daily": timedelta(days=60)}


def iso(moment: datetime) -> str:
    """RFC 3339, UTC, second precision (as Neon prints times)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time from the API or the command line (a date means its midnight)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"not an RFC 3339 time: {text!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor_time(moment: datetime, granularity: str) -> datetime:
    """The start of the hour, day or month (UTC) containing ``moment``."""
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if granularity == "hourly":
        return moment
    moment = moment.replace(hour=0)
    return moment if granularity == "daily" else moment.replace(day=1)


def oldest_allowed(now: datetime, granularity: str) -> datetime:
    """The earliest ``from`` Neon accepts at ``granularity``."""
    if granularity == "monthly":
        month = floor_time(now, "monthly")
        return month.replace(year=month.year - 1)
    return floor_time(now, granularity) - RETENTION[granularity]


# --------------------------------------------------------------------------- sync


@dataclass(frozen=True)
class OrgSync:
    """What one org's sync did."""

    org_id: str
    start: datetime | None
    end: datetime | None
    pages: int = 0
    samples: int = 0
    synced_until: datetime | None = None
    complete: bool = True
    note: str = ""


@dataclass(frozen=True)
class SyncResult:
    """What ``fleet usage sync`` did, org by org."""

    granularity: str
    orgs: tuple[OrgSync, ...]
    requests: int

    @property
    def samples(self) -> int:
        return sum(org.samples for org in self.orgs)

    @property
    def complete(self) -> bool:
        return all(org.complete for org in self.orgs)


# --------------------------------------------------------------------------- quota

#: The project counters Neon enforces per billing period (``logical_size_bytes`` is a lifetime
#: per-branch cap, not a period counter, so it is not part of utilisation).
PERIOD_COUNTERS = (
    "active_time_seconds",
    "compute_time_seconds",
    "written_data_bytes",
    "data_transfer_bytes",
)


@dataclass(frozen=True)
class QuotaUse:
    """One counter of one tenant against its effective quota (``limit`` 0 = unlimited)."""

    counter: str
    used: int
    limit: int

    @property
    def ratio(self) -> float | None:
        """``used / limit``, or None when unlimited."""
        return None if self.limit <= 0 else self.used / self.limit


@dataclass(frozen=True)
class TenantQuota:
    """A tenant's current-period utilisation, and the highest threshold it passed."""

    tenant: str
    tier: str
    org_id: str
    project_id: str | None
    uses: tuple[QuotaUse, ...] = ()
    period_end: str | None = None
    threshold: float | None = None
    note: str = ""

    @property
    def worst(self) -> QuotaUse | None:
        """The counter closest to (or furthest past) its quota."""
        limited = [use for use in self.uses if use.ratio is not None]
        return max(limited, key=lambda use: use.ratio or 0.0, default=None)


@dataclass(frozen=True)
class QuotaReport:
    """Every tenant's utilisation; ``flagged`` are those past a threshold."""

    thresholds: tuple[float, ...]
    tenants: tuple[TenantQuota, ...]
    requests: int

    @property
    def flagged(self) -> tuple[TenantQuota, ...]:
        return tuple(t for t in self.tenants if t.threshold is not None)


def passed_threshold(ratio: float | None, thresholds: tuple[float, ...]) -> float | None:
    """The highest threshold ``ratio`` reached (None: unlimited or below all)."""
    if ratio is None:
        return None
    return max((t for t in thresholds if ratio >= t), default=None)
