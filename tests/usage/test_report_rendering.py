"""How a usage report reads: cost per CSV row, the chart's labels, the Top consumers table.

Built from hand-made samples through the pure ``build_report`` (no ledger, no emulator), so the
expected figures are plain arithmetic on the numbers below.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from reconciler.core.model import Pricing, Rate
from reconciler.core.usage import UsageReport, build_report
from reconciler.ledger.usage import UsageSample
from reconciler.render.usage import render_report
from reconciler.render.usage_chart import render_svg

START = datetime(2026, 3, 1, tzinfo=UTC)
GIB = 1024**3
#: Two priced metrics: compute at 0.16 per CU-hour, public transfer at 0.09 per GiB.
PRICING = Pricing(
    "USD",
    {
        "compute_unit_seconds": Rate(0.16, 3600),
        "public_network_transfer_bytes": Rate(0.09, GIB),
    },
)
#: tenant → (tier, CU-hours per day, GiB transferred per day)
TENANTS = {"t-small": ("free", 1, 1), "t-mid": ("pro", 2, 10), "t-big": ("pro", 3, 20)}
SVG = "{http://www.w3.org/2000/svg}"


def samples(granularity: str = "daily", frames: int = 3) -> list[UsageSample]:
    step = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}.get(
        granularity, timedelta(days=31)
    )
    made = []
    for tenant, (_tier, hours, gib) in TENANTS.items():
        for frame in range(frames):
            begin = START + step * frame
            for metric, value in (
                ("compute_unit_seconds", hours * 3600),
                ("public_network_transfer_bytes", gib * GIB),
            ):
                made.append(
                    UsageSample(
                        f"p-{tenant}",
                        metric,
                        granularity,
                        begin,
                        begin + step,
                        value,
                        "org-1",
                        tenant,
                    )
                )
    return made


def report(by: str, *, granularity: str = "daily", priced: bool = True) -> UsageReport:
    return build_report(
        samples(granularity),
        by=by,
        owners={},
        tiers={tenant: tier for tenant, (tier, _h, _g) in TENANTS.items()},
        pricing=PRICING if priced else None,
        start=START,
        end=START + timedelta(days=3),
        granularity=granularity,
    )


def test_usage_report_csv_puts_each_priced_metrics_cost_on_its_own_row() -> None:
    result = report("tier")
    rows = list(csv.DictReader(io.StringIO(render_report(result, "csv"))))
    cost = {(r["tier"], r["metric"]): r["cost"] for r in rows}
    # pro: 3 days x (2 + 3) CU-hours x 0.16 = 2.40; 3 days x (10 + 20) GiB x 0.09 = 8.10
    assert cost[("pro", "compute_unit_seconds")] == "2.4000"
    assert cost[("pro", "public_network_transfer_bytes")] == "8.1000"
    # free: 3 x 1 x 0.16 = 0.48; 3 x 1 x 0.09 = 0.27
    assert cost[("free", "compute_unit_seconds")] == "0.4800"
    assert cost[("free", "public_network_transfer_bytes")] == "0.2700"
    unpriced = [r for r in rows if r["metric"] not in PRICING.rates]
    assert unpriced and all(r["cost"] == "" and r["currency"] == "" for r in unpriced)
    priced = [r for r in rows if r["metric"] in PRICING.rates]
    assert all(r["currency"] == "USD" for r in priced)
    # The column still adds up to the total, and agrees with the JSON document per group.
    assert sum(Decimal(r["cost"]) for r in priced) == result.total_cost == Decimal("11.25")
    document = json.loads(render_report(result, "json"))
    for group in document["groups"]:
        mine = [Decimal(r["cost"]) for r in priced if r["tier"] == group["key"]]
        assert sum(mine) == Decimal(group["cost"])
        assert group["costs"] == {
            r["metric"]: r["cost"] for r in priced if r["tier"] == group["key"]
        }


@pytest.mark.parametrize(
    ("granularity", "label"),
    [
        ("hourly", "CU-hours per hour"),
        ("daily", "CU-hours per day"),
        ("monthly", "CU-hours per month"),
    ],
)
def test_usage_chart_label_names_the_timeframe_of_each_granularity(
    granularity: str, label: str
) -> None:
    root = ET.fromstring(render_svg(report("tier", granularity=granularity)))
    texts = [node.text or "" for node in root.iter(f"{SVG}text")]
    assert f"Compute per tier ({label})" in texts
    assert not any("per dai" in text for text in texts)


def section(text: str, title: str) -> list[str]:
    """The non-empty lines after ``title`` up to the next blank line."""
    lines = text.splitlines()
    begin = lines.index(title) + 2
    end = lines.index("", begin) if "" in lines[begin:] else len(lines)
    return lines[begin:end]


@pytest.mark.parametrize("by", ["tier", "org"])
def test_usage_top_consumers_table_is_headed_by_tenant_not_the_group(by: str) -> None:
    text = render_report(report(by), "text")
    first_table = text.splitlines()[2]
    assert first_table.split()[0] == by
    top = section(text, "Top consumers")
    assert top[0].split()[0] == "tenant"
    assert [line.split()[0] for line in top[1:]] == ["t-big", "t-mid", "t-small"]
    markdown = render_report(report(by), "markdown")
    assert section(markdown, "### Top consumers")[0].startswith("| tenant |")


def test_usage_top_consumers_table_is_not_repeated_when_grouped_by_tenant() -> None:
    text = render_report(report("tenant"), "text")
    assert "Top consumers" not in text
    assert text.count("t-big") == 1  # one ranked tenant table, biggest first
    ranked = [line.split()[0] for line in text.splitlines()[3:6]]
    assert ranked == ["t-big", "t-mid", "t-small"]
