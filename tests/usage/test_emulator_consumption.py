"""The emulator's ``GET /consumption_history/v2/projects`` and project period counters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.emulator import Emulator, seed_from_mapping
from tests.usage.conftest import (
    AGENT,
    CONSUMPTION,
    COUNTER_RATES,
    FREE,
    FREE_KEY,
    NOW,
    PERSONAL,
    RATES,
    SCALE,
    SCALE_KEY,
    SCALE_PROJECTS,
    Clock,
    ContractTransport,
    iso,
    ref_total,
    ref_weight,
    ts,
    usage_seed,
)

pytestmark = pytest.mark.integration
ALL = ",".join(RATES)


def query(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "org_id": SCALE,
        "from": "2026-03-14T12:30:00Z",
        "to": iso(NOW),
        "granularity": "hourly",
        "metrics": ALL,
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def values(frame: dict[str, Any]) -> dict[str, int]:
    return {m["metric_name"]: m["value"] for m in frame["metrics"]}


def expected_frame(name: str, start: float, end: float) -> dict[str, int]:
    found = {metric: ref_total(name, rate, start, end) for metric, rate in RATES.items()}
    return {metric: value for metric, value in found.items() if value}


def test_hourly_window_gives_exact_values_per_complete_hour(api):
    body = api(SCALE_KEY).get(CONSUMPTION, params=query(project_ids="ua-03")).json()
    [project] = body["projects"]
    assert project["project_id"] == "ua-03"
    [period] = project["periods"]
    assert period["period_start"] == "2026-03-01T00:00:00Z"
    assert "period_end" not in period  # the current period
    frames = period["consumption"]
    # 12:30 yesterday rounds down to 12:00; the hour 12:00-13:00 today has not ended yet.
    assert [f["timeframe_start"] for f in frames] == [
        iso(ts("2026-03-14T12:00:00Z") + 3600 * i) for i in range(24)
    ]
    for frame in frames:
        start, end = ts(frame["timeframe_start"]), ts(frame["timeframe_end"])
        assert end - start == 3600
        assert values(frame) == expected_frame("ua-03", start, end)
    # Weight 20 (fixed in the seed): a busy hour is 900 × 20 × 2 CU-seconds.
    assert values(frames[0])["compute_unit_seconds"] == 36000
    assert "private_network_transfer_bytes" not in values(frames[0])  # zero: left out


def test_daily_window_spans_two_periods_with_a_partial_today(api):
    params = query(granularity="daily", **{"from": "2026-02-01T00:00:00Z"}, project_ids="ua-01")
    [project] = api(PERSONAL).get(CONSUMPTION, params=params).json()["projects"]
    february, march = project["periods"]
    assert february["period_end"] == "2026-03-01T00:00:00Z"
    assert len(february["consumption"]) == 28 and len(march["consumption"]) == 15
    for frame in february["consumption"] + march["consumption"]:
        start, end = ts(frame["timeframe_start"]), ts(frame["timeframe_end"])
        assert values(frame) == expected_frame("ua-01", start, end)
    today = values(march["consumption"][-1])["compute_unit_seconds"]
    # 00:00-12:00 today: 8 quiet and 4 busy complete hours.
    assert today == 900 * ref_weight("ua-01") * (8 + 4 * 2)


def test_monthly_window_starts_with_the_usage_history(api):
    params = query(granularity="monthly", **{"from": "2025-04-01T00:00:00Z"}, project_ids="ub-2")
    params["org_id"] = AGENT
    [project] = api(PERSONAL).get(CONSUMPTION, params=params).json()["projects"]
    starts = [p["period_start"] for p in project["periods"]]
    assert starts == [
        "2025-12-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
    ]
    for period in project["periods"]:
        [frame] = period["consumption"]
        assert frame["timeframe_start"] == period["period_start"]
        start, end = ts(frame["timeframe_start"]), ts(frame["timeframe_end"])
        assert values(frame) == expected_frame("ub-2", start, end)
        assert values(frame)["compute_unit_seconds"] > 0
    assert project["periods"][0]["period_plan"] == "agent"


def test_pages_run_newest_first_and_cover_every_project_once(api):
    client = api(SCALE_KEY)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = query(limit=5, metrics="compute_unit_seconds", cursor=cursor)
        body = client.get(CONSUMPTION, params=params).json()
        pages += 1
        seen += [p["project_id"] for p in body["projects"]]
        if len(body["projects"]) < 5:
            break
        cursor = body["pagination"]["cursor"]
    assert pages == 3
    # Seeded together (same creation second): ties break by id, descending.
    assert seen == sorted(SCALE_PROJECTS, reverse=True)


def test_repeated_and_comma_separated_lists_are_the_same(api):
    client = api(SCALE_KEY)
    comma = client.get(
        CONSUMPTION,
        params=query(
            metrics="compute_unit_seconds,extra_branches_month", project_ids="ua-01,ua-02"
        ),
    ).json()
    repeated = client.get(
        CONSUMPTION,
        params=[
            *query(metrics=None).items(),
            ("metrics", "compute_unit_seconds"),
            ("metrics", "extra_branches_month"),
            ("project_ids", "ua-01"),
            ("project_ids", "ua-02"),
        ],
    ).json()
    assert comma == repeated
    assert [p["project_id"] for p in comma["projects"]] == ["ua-02", "ua-01"]


@pytest.mark.parametrize(
    ("granularity", "start"),
    [
        ("hourly", "2026-03-08T11:00:00Z"),  # 169 hours before 12:00
        ("daily", "2026-01-13T00:00:00Z"),  # 61 days
        ("monthly", "2025-02-01T00:00:00Z"),  # 13 months
    ],
)
def test_ranges_beyond_the_granularity_limit_are_406(api, granularity, start):
    client = api(SCALE_KEY)
    answer = client.get(CONSUMPTION, params=query(granularity=granularity, **{"from": start}))
    assert answer.status_code == 406, answer.text
    assert "available for the last" in answer.json()["message"]


def test_ranges_at_the_limit_and_empty_ranges(api):
    client = api(SCALE_KEY)
    ok = client.get(CONSUMPTION, params=query(**{"from": "2026-03-08T12:00:00Z"}))
    assert ok.status_code == 200
    empty = client.get(CONSUMPTION, params=query(to="2026-03-14T11:00:00Z"))
    assert empty.status_code == 406


@pytest.mark.parametrize(
    ("token", "org", "params", "status"),
    [
        (FREE_KEY, FREE, {}, 403),  # the free plan is not usage-based
        (SCALE_KEY, AGENT, {}, 404),  # not a member of that org
        ("u-project", SCALE, {}, 403),  # project-scoped keys have no org routes
        (SCALE_KEY, SCALE, {"metrics": None}, 400),
        (SCALE_KEY, SCALE, {"metrics": "cpu_seconds"}, 400),
        (SCALE_KEY, SCALE, {"granularity": "weekly"}, 400),
        (SCALE_KEY, SCALE, {"from": None}, 400),
        (SCALE_KEY, SCALE, {"limit": 101}, 400),
        (SCALE_KEY, SCALE, {"cursor": "no-such-project"}, 400),
    ],
)
def test_refusals(api, token, org, params, status):
    response = api(token, queries=False).get(CONSUMPTION, params=query(org_id=org, **params))
    assert response.status_code == status, response.text
    assert response.json()["request_id"]


def test_the_consumption_budget_answers_429_and_refills(clock: Clock):
    limits = {"requests_per_minute": 100000, "route_requests_per_second": 100000,
              "consumption_per_minute": 3}  # fmt: skip
    emulator = Emulator(
        None, seed_from_mapping(usage_seed(limits=limits)), clock=clock, sleep=lambda _s: None
    )
    try:
        with httpx.Client(
            transport=ContractTransport(httpx.WSGITransport(app=emulator)),
            base_url="http://emulator.test/api/v2",
            headers={"Authorization": f"Bearer {SCALE_KEY}"},
        ) as client:
            codes = [client.get(CONSUMPTION, params=query()).status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]
            # Other routes keep their own (larger) budget.
            assert client.get("/projects/ua-00").status_code == 200
            clock.now += 20  # 3 per minute: one token every 20 s
            assert client.get(CONSUMPTION, params=query()).status_code == 200
            assert client.get(CONSUMPTION, params=query()).status_code == 429
    finally:
        emulator.close()


def test_project_reports_the_current_period_counters(api):
    project = api(SCALE_KEY).get("/projects/ua-03").json()["project"]
    assert project["consumption_period_start"] == "2026-03-01T00:00:00Z"
    assert project["consumption_period_end"] == "2026-04-01T00:00:00Z"
    start = ts("2026-03-01T00:00:00Z")
    for counter, rate in COUNTER_RATES.items():
        assert project[counter] == ref_total("ua-03", rate, start, NOW), counter
    # 14 full days and 12 hours (8 quiet, 4 busy) at weight 20.
    assert project["compute_time_seconds"] == 900 * 20 * (14 * 36 + 16)


def test_without_history_from_usage_starts_after_creation(clock: Clock):
    seed = usage_seed(usage={"seed": 1})
    emulator = Emulator(None, seed_from_mapping(seed), clock=clock, sleep=lambda _s: None)
    try:
        with httpx.Client(
            transport=httpx.WSGITransport(app=emulator),
            base_url="http://emulator.test/api/v2",
            headers={"Authorization": f"Bearer {SCALE_KEY}"},
        ) as client:
            assert client.get("/projects/ua-00").json()["project"]["compute_time_seconds"] == 0
            clock.now += 2 * 3600  # created 12:30 → the first whole hour is 13:00-14:00
            counters = client.get("/projects/ua-00").json()["project"]
            assert counters["compute_time_seconds"] > 0
            body = client.get(
                CONSUMPTION, params=query(to=iso(clock.now), project_ids="ua-00")
            ).json()
            frames = [f for p in body["projects"] for per in p["periods"]
                      for f in per["consumption"] if p["project_id"] == "ua-00"]  # fmt: skip
            assert [f["timeframe_start"] for f in frames] == ["2026-03-15T13:00:00Z"]
    finally:
        emulator.close()
