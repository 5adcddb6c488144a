"""``fleet usage report`` and ``fleet usage quota`` output: text and markdown tables, csv, json.

Values print in the units people read them in (CU-hours, GiB-month); money prints to the cent
in tables and to a hundredth of a cent in json and csv, as exact decimal strings.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from reconciler.core.usage import METRICS, GroupUsage, QuotaReport, SyncResult, UsageReport, iso

FORMATS = ("text", "json", "csv", "markdown")
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


def human(metric: str, value: int) -> str:
    """``value`` in the unit people read the metric in (``12.5 CU-hours``)."""
    divisor, unit = _UNITS.get(metric, (1, ""))
    return f"{value / divisor:,.2f} {unit}".strip()


def money(amount: Decimal | None, places: Decimal = _CENT) -> str:
    return "" if amount is None else str(amount.quantize(places))


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


def render_sync(result: SyncResult, fmt: str) -> str:
    """What a sync did, org by org: text lines, or one JSON document (no trailing newline)."""
    return _sync_text(result) if fmt == "text" else json.dumps(_sync_json(result))


def _sync_json(result: SyncResult) -> dict[str, object]:
    return {
        "granularity": result.granularity,
        "requests": result.requests,
        "samples": result.samples,
        "complete": result.complete,
        "orgs": [
            {
                "org_id": org.org_id,
                "from": iso(org.start) if org.start else None,
                "to": iso(org.end) if org.end else None,
                "pages": org.pages,
                "samples": org.samples,
                "synced_until": iso(org.synced_until) if org.synced_until else None,
                "complete": org.complete,
                "note": org.note or None,
            }
            for org in result.orgs
        ],
    }


def _sync_text(result: SyncResult) -> str:
    lines = []
    for org in result.orgs:
        window = f"{iso(org.start)} → {iso(org.end)}" if org.start and org.end else "-"
        mark = iso(org.synced_until) if org.synced_until else "never"
        line = f"{org.org_id}: {window}: {org.pages} page(s), {org.samples} sample(s); "
        line += f"synced until {mark}"
        lines.append(line + (f" ({org.note})" if org.note else ""))
    lines.append(
        f"Usage sync ({result.granularity}): {result.samples} sample(s) stored, "
        f"{result.requests} API call(s)" + ("" if result.complete else "; incomplete")
    )
    return "\n".join(lines)
