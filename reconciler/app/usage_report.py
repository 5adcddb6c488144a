"""``fleet usage report`` and ``fleet usage quota``: totals, top consumers, cost, utilisation.

A report reads only the ledger (``fleet usage sync`` filled it). Samples of one granularity are
summed per tenant, tier or org; a sample's tenant is the ledger's current owner of its project,
else the tenant recorded at sync time, and its tier comes from the manifests. Money appears only
when the Fleet's ``pricing`` block gives rates: ``value / per × price`` per metric, in Decimal so
totals add up to the cent. Metrics without a rate cost nothing and say so.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from reconciler.app.environment import Environment
from reconciler.app.usage import QuotaReport, floor_time, iso, utc_now
from reconciler.core.model import DesiredFleet, Pricing
from reconciler.errors import UsageError
from reconciler.ledger.usage import UsageSample
from reconciler.neon.consumption import METRICS

GROUPINGS = ("tenant", "tier", "org")
FORMATS = ("text", "json", "csv", "markdown")
UNMANAGED = "(unmanaged)"
_CENT = Decimal("0.01")
_FINE = Decimal("0.0001")
_GIB = 1024**3
#: How each metric reads for people: divisor and unit.
_UNITS: Mapping[str, tuple[int, str]] = {
    "compute_unit_seconds": (3600, "CU-hours"),
    "root_branch_bytes_month": (_GIB, "GiB-month"),
    "child_branch_bytes_month": (_GIB, "GiB-month"),
    "instant_restore_bytes_month": (_GIB, "GiB-month"),
    "public_network_transfer_bytes": (_GIB, "GiB"),
    "private_network_transfer_bytes": (_GIB, "GiB"),
    "extra_branches_month": (1, "branch-months"),
    "snapshot_storage_bytes_month": (_GIB, "GiB-month"),
}


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
    samples: Iterable[UsageSample],
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
    samples = ledger.usage.samples(granularity, begin, finish, org_ids=org_ids)
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


def human(metric: str, value: int) -> str:
    """``value`` in the unit people read the metric in (``12.5 CU-hours``)."""
    divisor, unit = _UNITS.get(metric, (1, ""))
    return f"{value / divisor:,.2f} {unit}".strip()


def money(amount: Decimal | None, places: Decimal = _CENT) -> str:
    return "" if amount is None else str(amount.quantize(places))


# --------------------------------------------------------------------------- rendering


def render_report(report: UsageReport, fmt: str) -> str:
    """The report as text, json, csv or markdown (ending with a newline)."""
    if fmt == "json":
        return json.dumps(report_document(report), indent=2) + "\n"
    if fmt == "csv":
        return _report_csv(report)
    return _report_table(report, markdown=fmt == "markdown")


def report_document(report: UsageReport) -> dict[str, Any]:
    """The JSON form: raw integer values; money as decimal strings (exact)."""

    def group(g: GroupUsage) -> dict[str, Any]:
        body: dict[str, Any] = {"key": g.key, "totals": dict(g.totals)}
        if g.costs is not None:
            body["cost"] = money(g.cost, _FINE)
            body["costs"] = {metric: money(cost, _FINE) for metric, cost in g.costs.items()}
        return body

    document: dict[str, Any] = {
        "window": {
            "from": iso(report.start),
            "to": iso(report.end),
            "granularity": report.granularity,
        },
        "by": report.by,
        "samples": report.samples,
        "totals": dict(report.totals),
        "groups": [group(g) for g in report.groups],
        "top": [group(g) for g in report.top],
    }
    if report.currency is not None:
        document["currency"] = report.currency
        document["total_cost"] = money(report.total_cost, _FINE)
    return document


def _report_csv(report: UsageReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    priced = report.currency is not None
    writer.writerow([report.by, "metric", "value", *(["cost", "currency"] if priced else [])])
    for g in report.groups:
        for metric in METRICS:
            row: list[str] = [g.key, metric, str(g.totals[metric])]
            if priced:
                # Each row carries the cost of its own metric (empty where the metric has no
                # rate), so the column sums to the group's cost and a filter on one metric
                # shows what that metric cost.
                cost = (g.costs or {}).get(metric)
                row += [money(cost, _FINE), report.currency or ""] if cost is not None else ["", ""]
            writer.writerow(row)
    return out.getvalue()


def _report_table(report: UsageReport, *, markdown: bool) -> str:
    priced = report.currency is not None
    lines = [
        f"{'## ' if markdown else ''}Fleet usage {iso(report.start)} → {iso(report.end)} "
        f"({report.granularity}, {report.samples} samples)",
        "",
    ]
    columns = ["compute", "storage (root)", "public transfer"]
    columns += [f"cost ({report.currency})"] if priced else []

    def row(g: GroupUsage) -> list[str]:
        cells = [
            g.key,
            human("compute_unit_seconds", g.totals["compute_unit_seconds"]),
            human("root_branch_bytes_month", g.totals["root_branch_bytes_month"]),
            human("public_network_transfer_bytes", g.totals["public_network_transfer_bytes"]),
        ]
        return cells + ([money(g.cost)] if priced else [])

    lines += _table([report.by, *columns], [row(g) for g in report.groups], markdown)
    lines += ["", f"{'### ' if markdown else ''}Totals", ""]
    lines += _table(
        ["metric", "value", "in units"],
        [[m, f"{v:,}", human(m, v)] for m, v in report.totals.items()],
        markdown,
    )
    if priced:
        lines += ["", f"Total cost: {money(report.total_cost)} {report.currency}"]
    else:
        lines += ["", "No pricing block in the Fleet manifest: usage only, no cost."]
    if report.by != "tenant":
        # Top consumers are always tenants, whatever ``--by`` grouped the table above by;
        # grouped by tenant, that table is already this ranking, so it is not printed twice.
        lines += ["", f"{'### ' if markdown else ''}Top consumers", ""]
        lines += _table(["tenant", *columns], [row(g) for g in report.top], markdown)
    return "\n".join(lines) + "\n"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool) -> list[str]:
    if markdown:
        return [
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" for _ in head) + "|",
            *("| " + " | ".join(r) + " |" for r in rows),
        ]
    widths = [max(len(str(c)) for c in column) for column in zip(head, *rows, strict=False)]
    return [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in (head, *rows)
    ]


def render_quota(report: QuotaReport, fmt: str) -> str:
    """Quota utilisation as text, json, csv or markdown."""
    if fmt == "json":
        return json.dumps(quota_document(report), indent=2) + "\n"
    rows = []
    for t in report.tenants:
        worst = t.worst
        pct = f"{worst.ratio:.1%}" if worst and worst.ratio is not None else "-"
        used = f"{worst.used:,} / {worst.limit:,}" if worst else t.note or "unlimited"
        flag = f"≥{t.threshold:.0%}" if t.threshold is not None else ""
        rows.append([t.tenant, t.tier, worst.counter if worst else "-", used, pct, flag])
    head = ["tenant", "tier", "closest quota", "used / quota", "use", "flag"]
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([head, *rows])
        return out.getvalue()
    lines = _table(head, rows, fmt == "markdown")
    thresholds = ", ".join(f"{t:.0%}" for t in report.thresholds)
    lines += [
        "",
        f"{len(report.flagged)} of {len(report.tenants)} tenant(s) past a threshold "
        f"({thresholds}).",
    ]
    return "\n".join(lines) + "\n"


def quota_document(report: QuotaReport) -> dict[str, Any]:
    return {
        "thresholds": list(report.thresholds),
        "flagged": [t.tenant for t in report.flagged],
        "tenants": [
            {
                "tenant": t.tenant,
                "tier": t.tier,
                "org_id": t.org_id,
                "project_id": t.project_id,
                "period_end": t.period_end,
                "threshold": t.threshold,
                "note": t.note or None,
                "usage": {
                    u.counter: {
                        "used": u.used,
                        "quota": u.limit,
                        "ratio": None if u.ratio is None else round(u.ratio, 6),
                    }
                    for u in t.uses
                },
            }
            for t in report.tenants
        ],
    }
