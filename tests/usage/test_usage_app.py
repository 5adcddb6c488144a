"""``sync``, ``report`` and ``quota`` against the in-process emulator with one shared fake clock.

Two orgs (12 + 5 projects), small pages, exact totals from the reference formula, overlapping
re-syncs, incremental cron-style syncs, 429s on the consumption route, quota thresholds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.app.environment import Environment, GlobalOptions
from reconciler.app.usage import quota_status, sync_usage
from reconciler.app.usage_report import usage_report
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.ledger.usage import UsageStore
from reconciler.manifests import load_fleet
from reconciler.neon import NeonClient, RateLimiter, RetryPolicy
from reconciler.render.usage import render_quota, render_report
from tests.usage.conftest import (
    AGENT,
    AGENT_KEY,
    AGENT_PROJECTS,
    NOW,
    RATES,
    SCALE,
    SCALE_KEY,
    SCALE_PROJECTS,
    Clock,
    ContractTransport,
    ref_total,
    ts,
    usage_seed,
)

pytestmark = pytest.mark.integration

FLEET = """\
apiVersion: neon-fleet/v1
kind: Fleet
metadata: {name: usage-test}
spec:
  orgs:
    scale: {id: org-scale-1, api_key_env: K_SCALE}
    agent: {id: org-agent-1, api_key_env: K_AGENT}
  defaults: {region: aws-us-east-2, pg_version: 17}
  ledger: sqlite:///ledger.db
%(pricing)s
---
apiVersion: neon-fleet/v1
kind: Tier
metadata: {name: pro}
spec:
  org: scale
  quota: {compute_time_seconds: 100000000}
---
apiVersion: neon-fleet/v1
kind: Tier
metadata: {name: team}
spec:
  org: agent
  quota: {compute_time_seconds: 0, written_data_bytes: 0}
"""
PRICING = """\
  pricing:
    currency: USD
    rates:
      compute_unit_seconds: {price: 0.16, per: 3600}
      public_network_transfer_bytes: {price: 0.09, per: 1073741824}
  alerts: {quota_thresholds: [0.8, 0.95]}"""
MONTH = ts("2026-03-01T00:00:00Z")


def used(name: str) -> int:
    """compute_time_seconds of the current period, by the reference formula."""
    return ref_total(name, 900, MONTH, NOW)


#: Tenant quota overrides: ua-01 at 85 %, ua-02 at 96 %, ua-03 past its quota.
OVERRIDES = {"ua-01": 0.85, "ua-02": 0.96, "ua-03": 1.5}


def write_fleet(root: Path, *, priced: bool = True) -> Path:
    fleet = root / "fleet"
    fleet.mkdir(parents=True, exist_ok=True)
    (fleet / "fleet.yaml").write_text(FLEET % {"pricing": PRICING if priced else ""})
    docs = []
    for name in SCALE_PROJECTS + AGENT_PROJECTS:
        tier = "pro" if name.startswith("ua") else "team"
        spec = f"tier: {tier}"
        if name in OVERRIDES:
            spec += f", quota: {{compute_time_seconds: {int(used(name) / OVERRIDES[name])}}}"
        docs.append(
            f"apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {{name: {name}}}\n"
            f"spec: {{{spec}}}\n"
        )
    (fleet / "tenants.yaml").write_text("---\n".join(docs))
    return fleet


class InProcess(Environment):
    """The real Environment, with the client pointed at the in-process emulator."""

    def __init__(self, options: GlobalOptions, fleet: Any, client: NeonClient) -> None:
        super().__init__(options, fleet)
        self._client = client


@pytest.fixture
def world(tmp_path: Path, clock: Clock) -> Iterator[dict[str, Any]]:
    emulator = Emulator(None, seed_from_mapping(usage_seed()), clock=clock, sleep=lambda _s: None)
    made: dict[str, Any] = {"emu": emulator, "clock": clock, "tmp": tmp_path}
    yield made
    emulator.close()


def environment(world: dict[str, Any], *, priced: bool = True, **limiter: float) -> InProcess:
    clock: Clock = world["clock"]
    desired = load_fleet(write_fleet(world["tmp"], priced=priced))
    client = NeonClient(
        "http://emulator.test/api/v2",
        transport=ContractTransport(httpx.WSGITransport(app=world["emu"])),
        limiter=RateLimiter(clock=clock, sleep=clock.sleep, **limiter),
        retry=RetryPolicy(jitter=0.0),
        sleep=clock.sleep,
        clock=clock,
    )
    options = GlobalOptions(
        workdir=world["tmp"], environ={"K_SCALE": SCALE_KEY, "K_AGENT": AGENT_KEY}
    )
    world["desired"] = desired
    return InProcess(options, desired.fleet, client)


def at(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def expected_totals(start: float, end: float, now: float = NOW) -> dict[str, int]:
    return {
        metric: sum(ref_total(n, rate, start, end, now) for n in SCALE_PROJECTS + AGENT_PROJECTS)
        for metric, rate in RATES.items()
    }


@pytest.mark.parametrize(
    ("granularity", "start", "frames"),
    [
        ("hourly", "2026-03-14T12:00:00Z", 24),  # the default first look-back: 24 h
        ("daily", "2026-02-01T00:00:00Z", 28 + 15),
        ("monthly", "2025-04-01T00:00:00Z", 4),  # history starts 2025-12-01
    ],
)
def test_sync_then_report_gives_exact_totals_over_pages_and_orgs(world, granularity, start, frames):
    with environment(world) as env:
        explicit = None if granularity == "hourly" else at(ts(start))
        result = sync_usage(
            env, world["desired"], granularity=granularity, start=explicit, now=at(NOW), page_size=5
        )
        assert [(o.org_id, o.pages) for o in result.orgs] == [
            (AGENT, 2),
            (SCALE, 3),
        ]  # 5 = a full page: one more to see the end
        metrics_per_frame = len(RATES) - 1  # private transfer is always zero, so absent
        assert result.samples == 17 * frames * metrics_per_frame
        report = usage_report(
            env,
            world["desired"],
            by="org",
            start=at(ts(start)),
            end=at(NOW),
            granularity=granularity,
        )
    assert dict(report.totals) == expected_totals(ts(start), NOW)
    by_org = {g.key: g.totals["compute_unit_seconds"] for g in report.groups}
    assert by_org == {
        SCALE: sum(ref_total(n, 900, ts(start), NOW) for n in SCALE_PROJECTS),
        AGENT: sum(ref_total(n, 900, ts(start), NOW) for n in AGENT_PROJECTS),
    }


def test_resync_of_an_overlapping_window_changes_nothing(world):
    with environment(world) as env:
        desired = world["desired"]
        sync_usage(env, desired, now=at(NOW))
        store = UsageStore(env.ledger())
        count = store.count()
        first = usage_report(env, desired, start=at(NOW - 86400 * 2), end=at(NOW))
        again = sync_usage(env, desired, start=at(NOW - 20 * 3600), now=at(NOW))
        assert again.samples > 0  # it did fetch and write
        assert store.count() == count
        second = usage_report(env, desired, start=at(NOW - 86400 * 2), end=at(NOW))
    assert second.totals == first.totals
    assert render_report(second, "json") == render_report(first, "json")


def test_cron_runs_fetch_only_what_is_new(world):
    clock: Clock = world["clock"]
    with environment(world) as env:
        desired = world["desired"]
        first = sync_usage(env, desired, now=at(NOW))
        # Timeframes that ended under an hour ago may still change: the mark stays behind them.
        assert {o.synced_until for o in first.orgs} == {at(ts("2026-03-15T11:00:00Z"))}
        clock.now += 3 * 3600
        second = sync_usage(env, desired, now=at(clock.now))
        assert {o.start for o in second.orgs} == {at(ts("2026-03-15T11:00:00Z"))}
        assert second.requests == 2  # one page per org; tenants known from the first run
        report = usage_report(
            env, desired, by="tier", start=at(ts("2026-03-14T12:00:00Z")), end=at(clock.now)
        )
    assert dict(report.totals) == expected_totals(ts("2026-03-14T12:00:00Z"), clock.now, clock.now)
    assert [g.key for g in report.groups] == ["pro", "team"]


def test_429s_on_the_consumption_route_lose_no_page(world):
    emu: Emulator = world["emu"]
    emu.set_limits(replace(emu.limits, consumption_per_minute=2))
    # The client believes it may send 600/min: the emulator's 2/min bucket refuses most calls.
    with environment(world, consumption_per_minute=600, consumption_burst=50) as env:
        # The retries' back-off moves the shared clock on: ask for hours that ended before NOW.
        noon = at(ts("2026-03-15T12:00:00Z"))
        result = sync_usage(env, world["desired"], end=noon, now=at(NOW), page_size=2)
        report = usage_report(env, world["desired"], start=noon - timedelta(days=1), end=noon)
        retried = env.client().stats.snapshot()
    refused = retried.rate_limited["GET /consumption_history/v2/projects"]
    assert refused > 10  # the client absorbed them: retried, slowed down, finished
    assert emu.stats().requests[("GET", "/consumption_history/v2/projects")] == 10 + refused
    assert [(o.org_id, o.pages) for o in result.orgs] == [(AGENT, 3), (SCALE, 7)]
    assert dict(report.totals) == expected_totals(ts("2026-03-14T12:00:00Z"), noon.timestamp())


def test_report_costs_come_only_from_configured_rates(world):
    with environment(world) as env:
        sync_usage(env, world["desired"], now=at(NOW))
        priced = usage_report(env, world["desired"], by="tier", start=at(NOW - 86400), end=at(NOW))
    compute = priced.totals["compute_unit_seconds"]
    transfer = priced.totals["public_network_transfer_bytes"]
    expected = Decimal(compute) * Decimal("0.16") / 3600 + Decimal(transfer) * Decimal(
        "0.09"
    ) / Decimal(1073741824)
    assert priced.total_cost == expected
    assert sum((g.cost or Decimal(0)) for g in priced.groups) == expected
    document = json.loads(render_report(priced, "json"))
    assert document["currency"] == "USD" and document["total_cost"] == str(
        expected.quantize(Decimal("0.0001"))
    )
    with environment(world, priced=False) as env:
        plain = usage_report(env, world["desired"], by="tier", start=at(NOW - 86400), end=at(NOW))
    assert plain.total_cost is None and all(g.cost is None for g in plain.groups)
    for fmt in ("text", "csv", "markdown", "json"):
        assert "USD" not in render_report(plain, fmt) and "cost" not in render_report(plain, "csv")
    assert "no cost" in render_report(plain, "text")


def test_quota_flags_the_right_tenants_at_80_and_95_percent(world):
    with environment(world) as env:
        report = quota_status(env, world["desired"])
        calls = env.client().stats.snapshot().total_requests
    flagged = {t.tenant: t.threshold for t in report.flagged}
    assert flagged == {"ua-01": 0.8, "ua-02": 0.95, "ua-03": 0.95}
    assert calls == len(SCALE_PROJECTS + AGENT_PROJECTS) + 2  # one GET each + one list per org
    team = next(t for t in report.tenants if t.tenant == "ub-0")
    assert team.worst is None and team.threshold is None  # 0 = unlimited: never flagged
    ua01 = next(t for t in report.tenants if t.tenant == "ua-01")
    assert ua01.worst is not None and ua01.worst.used == used("ua-01")
    text = render_quota(report, "text")
    assert "3 of 17 tenant(s) past a threshold (80%, 95%)" in text
    custom = quota_status(environment(world), world["desired"], thresholds=(0.5, 0.9))
    assert {t.tenant: t.threshold for t in custom.flagged} == {
        "ua-01": 0.5,
        "ua-02": 0.9,
        "ua-03": 0.9,
    }


def test_a_window_older_than_neon_keeps_is_clamped(world):
    with environment(world) as env:
        result = sync_usage(env, world["desired"], start=at(NOW - 30 * 86400), now=at(NOW))
    oldest = at(ts("2026-03-08T12:00:00Z"))
    assert {o.start for o in result.orgs} == {oldest}
    assert all("no longer kept" in o.note for o in result.orgs)


def test_the_request_budget_stops_a_run_without_moving_the_mark(world):
    with environment(world) as env:
        result = sync_usage(env, world["desired"], now=at(NOW), page_size=5, max_requests=2)
        store = UsageStore(env.ledger())
        agent, scale = result.orgs
        assert agent.complete and store.synced_until(AGENT, "hourly") is not None
        assert not scale.complete and store.synced_until(SCALE, "hourly") is None
        assert not result.complete
