"""The client side of the consumption route: query validation, parsing, the rate budget."""

from __future__ import annotations

import pytest

from reconciler.errors import ApiError, UsageError
from reconciler.neon import RateLimiter
from reconciler.neon.consumption import ROUTE, ConsumptionQuery, parse_consumption_page
from tests.neon.fakes import FakeTime


def test_the_consumption_route_draws_from_its_own_budget() -> None:
    fake = FakeTime()
    limiter = RateLimiter(
        consumption_per_minute=60, consumption_burst=1, clock=fake.clock, sleep=fake.sleep
    )
    limiter.acquire(f"GET {ROUTE}")
    limiter.acquire("GET /projects/{project_id}")
    assert fake.sleeps == []
    limiter.acquire(f"GET {ROUTE}")  # the second consumption call in the same second waits
    assert fake.sleeps == [pytest.approx(1.0)]


def test_queries_are_checked_before_any_call() -> None:
    with pytest.raises(UsageError, match="granularity"):
        ConsumptionQuery("org-1", "a", "b", "weekly")
    with pytest.raises(UsageError, match="cpu_seconds"):
        ConsumptionQuery("org-1", "a", "b", "daily", metrics=("cpu_seconds",))
    with pytest.raises(UsageError, match="page size"):
        ConsumptionQuery("org-1", "a", "b", "daily", limit=101)
    with pytest.raises(UsageError, match="at most 100"):
        ConsumptionQuery("org-1", "a", "b", "daily", project_ids=tuple(f"p{i}" for i in range(101)))
    params = ConsumptionQuery(
        "org-1",
        "F",
        "T",
        "hourly",
        metrics=("compute_unit_seconds", "extra_branches_month"),
        project_ids=("p1", "p2"),
    ).params("c")
    assert params == {
        "org_id": "org-1",
        "from": "F",
        "to": "T",
        "granularity": "hourly",
        "metrics": "compute_unit_seconds,extra_branches_month",
        "project_ids": "p1,p2",
        "limit": 100,
        "cursor": "c",
    }


def test_parsing_the_documented_example_and_refusing_garbage() -> None:
    body = {
        "projects": [
            {
                "project_id": "p-1",
                "periods": [
                    {
                        "period_id": "79ec829f-1828-4006-ac82-9f1828a0067d",
                        "period_plan": "scale",
                        "period_start": "2024-03-01T00:00:00Z",
                        "consumption": [
                            {
                                "timeframe_start": "2024-03-22T00:00:00Z",
                                "timeframe_end": "2024-03-23T00:00:00Z",
                                "metrics": [
                                    {"metric_name": "compute_unit_seconds", "value": 100},
                                    {"metric_name": "root_branch_bytes_month", "value": 1000000},
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
        "pagination": {"cursor": "p-1"},
    }
    page = parse_consumption_page(body)
    assert page.cursor == "p-1"
    [frame] = list(page.projects[0].timeframes())
    assert frame.values == {"compute_unit_seconds": 100, "root_branch_bytes_month": 1000000}
    assert page.projects[0].periods[0].end is None
    with pytest.raises(ApiError, match="value"):
        parse_consumption_page(
            {
                "projects": [
                    {
                        "project_id": "p",
                        "periods": [
                            {
                                "period_id": "x",
                                "period_start": "s",
                                "consumption": [
                                    {
                                        "timeframe_start": "a",
                                        "timeframe_end": "b",
                                        "metrics": [{"metric_name": "m", "value": "12"}],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        )
