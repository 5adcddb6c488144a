"""``fleet usage`` as a CI job runs it: real processes against the emulator on loopback.

The emulator's synthetic usage is a formula (docs/usage.md), so the totals of complete past
days are exact whatever the wall clock says. The seed starts with a 429 storm that the first
sync must absorb.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.emulator import Emulator, seed_from_mapping, serve
from tests.support.cli import Result, run_subprocess
from tests.usage.conftest import RATES

pytestmark = pytest.mark.e2e

ORG_A, ORG_B = "org-e2e-a", "org-e2e-b"
KEYS = {"K_A": "e2e-usage-key-a", "K_B": "e2e-usage-key-b"}
TENANTS = {**{f"a-{i}": ORG_A for i in range(7)}, **{f"b-{i}": ORG_B for i in range(4)}}
WEIGHTS = {name: 2 + i for i, name in enumerate(TENANTS)}
TODAY = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
HISTORY_FROM = TODAY - dt.timedelta(days=10)


def day_total(name: str, rate: int, days: int) -> int:
    """A full UTC day: 8 quiet + 12 busy (×2) + 4 quiet hours = 36 units."""
    return rate * WEIGHTS[name] * 36 * days


def month_to_date(name: str, rate: int, now: dt.datetime) -> int:
    start = max(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), HISTORY_FROM)
    hour, total = start, 0
    while hour + dt.timedelta(hours=1) <= now:
        total += rate * WEIGHTS[name] * (2 if 8 <= hour.hour < 20 else 1)
        hour += dt.timedelta(hours=1)
    return total


@pytest.fixture
def loopback_url(tmp_path: Path) -> Iterator[str]:
    seed = {
        "orgs": [{"id": ORG_A, "plan": "agent"}, {"id": ORG_B, "plan": "scale"}],
        "keys": [
            {"token": KEYS["K_A"], "kind": "org", "org": ORG_A},
            {"token": KEYS["K_B"], "kind": "org", "org": ORG_B},
        ],
        "projects": [{"name": f"t-{name}", "org": org} for name, org in TENANTS.items()],
        "limits": {"requests_per_minute": 6000, "route_requests_per_second": 400},
        "usage": {
            "history_from": HISTORY_FROM.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "weights": {f"t-{name}": weight for name, weight in WEIGHTS.items()},
        },
        "faults": {"storm_429_requests": 3},
    }
    emulator = Emulator(tmp_path / "emulator.db", seed_from_mapping(seed))
    with serve(emulator) as server:
        yield server.url
    emulator.close()


def write_fleet(root: Path, quotas: dict[str, int]) -> None:
    fleet = root / "fleet"
    fleet.mkdir(parents=True)
    (fleet / "fleet.yaml").write_text(
        "apiVersion: neon-fleet/v1\nkind: Fleet\nmetadata: {name: e2e-usage}\nspec:\n"
        f"  orgs:\n    a: {{id: {ORG_A}, api_key_env: K_A}}\n"
        f"    b: {{id: {ORG_B}, api_key_env: K_B}}\n"
        "  defaults: {region: aws-us-east-2, pg_version: 17}\n"
        '  project_name: "t-{tenant}"\n'
        "  ledger: sqlite:///.fleet/ledger.db\n"
        "  pricing:\n    currency: EUR\n    rates:\n"
        "      compute_unit_seconds: {price: 0.2, per: 3600}\n"
    )
    tiers = "".join(
        f"---\napiVersion: neon-fleet/v1\nkind: Tier\nmetadata: {{name: {tier}}}\n"
        f"spec: {{org: {alias}, quota: {{compute_time_seconds: 0}}}}\n"
        for tier, alias in (("starter", "a"), ("business", "b"))
    )
    tenants = "".join(
        f"---\napiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {{name: {name}}}\n"
        f"spec: {{tier: {'starter' if org == ORG_A else 'business'}"
        + (f", quota: {{compute_time_seconds: {quotas[name]}}}" if name in quotas else "")
        + "}\n"
        for name, org in TENANTS.items()
    )
    (fleet / "tiers.yaml").write_text(tiers)
    (fleet / "tenants.yaml").write_text(tenants)


def fleet(args: list[str], cwd: Path, url: str) -> Result:
    return run_subprocess(args, cwd=cwd, env={**KEYS, "NEON_API_HOST": url, "NO_COLOR": "1"})


def test_sync_report_chart_and_quota_alerts(tmp_path: Path, loopback_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    used = {name: month_to_date(name, 900, now) for name in ("a-1", "b-2")}
    if not all(used.values()):
        pytest.skip("the first hour of a month has no complete hour of usage yet")
    # a-1 at about 87 % of its quota, b-2 at about 97 %; the rest unlimited (tier quota 0).
    write_fleet(tmp_path, {"a-1": int(used["a-1"] / 0.87), "b-2": int(used["b-2"] / 0.97)})
    window = ["--granularity", "daily", "--from", (TODAY - dt.timedelta(days=3)).isoformat()]

    first = fleet(["usage", "sync", "fleet", *window, "--format", "json"], tmp_path, loopback_url)
    assert first.code == 0, first.text
    synced = json.loads(first.out)
    assert [o["org_id"] for o in synced["orgs"]] == [ORG_A, ORG_B]
    assert synced["complete"] and synced["samples"] > 0

    report_args = [
        "usage",
        "report",
        "fleet",
        "--by",
        "tier",
        *window,
        "--to",
        TODAY.isoformat(),
        "--format",
        "json",
    ]
    before = fleet([*report_args, "--chart", "usage.svg"], tmp_path, loopback_url)
    assert before.code == 0, before.text
    document = json.loads(before.out)
    for metric, rate in RATES.items():
        assert document["totals"][metric] == sum(day_total(name, rate, 3) for name in TENANTS), (
            metric
        )
    tiers = {g["key"]: g for g in document["groups"]}
    starter = sum(day_total(n, 900, 3) for n, org in TENANTS.items() if org == ORG_A)
    assert tiers["starter"]["totals"]["compute_unit_seconds"] == starter
    assert document["currency"] == "EUR"
    assert tiers["starter"]["cost"] == f"{starter * 0.2 / 3600:.4f}"
    root = ET.parse(tmp_path / "usage.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall(".//{http://www.w3.org/2000/svg}polyline")) == 2  # one per tier

    again = fleet(["usage", "sync", "fleet", *window, "--format", "json"], tmp_path, loopback_url)
    assert again.code == 0, again.text
    after = fleet(report_args, tmp_path, loopback_url)
    assert json.loads(after.out) == document  # an overlapping re-sync changes nothing

    quota = fleet(
        ["usage", "quota", "fleet", "--detailed-exitcode", "--format", "json"],
        tmp_path,
        loopback_url,
    )
    assert quota.code == 2, quota.text
    flagged = json.loads(quota.out)["flagged"]
    assert flagged == ["a-1", "b-2"]
    levels = {t["tenant"]: t["threshold"] for t in json.loads(quota.out)["tenants"]}
    assert levels["a-1"] == 0.8 and levels["b-2"] == 0.95 and levels["a-0"] is None
    plain = fleet(["usage", "quota", "fleet"], tmp_path, loopback_url)
    assert plain.code == 0 and "2 of 11 tenant(s) past a threshold (80%, 95%)" in plain.out
