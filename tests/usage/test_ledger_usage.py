"""The usage store on SQLite and PostgreSQL: idempotent upserts, window queries, sync marks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.ledger import Ledger, open_ledger
from reconciler.ledger.usage import UsageSample
from tests.ledger.conftest import FakeClock, ledger_url, postgres_admin  # noqa: F401 - fixtures

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:  # noqa: F811 - the imported fixture
    opened = open_ledger(ledger_url, clock=FakeClock(T0))
    yield opened
    opened.close()


def sample(hour: int, value: int, *, project: str = "p-1", metric: str = "compute_unit_seconds",
           tenant: str | None = "t-1") -> UsageSample:  # fmt: skip
    start = T0 + timedelta(hours=hour)
    return UsageSample(project, metric, "hourly", start, start + timedelta(hours=1), value,
                       "org-1", tenant)  # fmt: skip


def test_upserting_the_same_timeframes_again_replaces_never_adds(ledger: Ledger) -> None:
    store = ledger.usage
    assert store.upsert([sample(h, 10) for h in range(5)]) == 5
    # An overlapping re-sync: hours 3-4 again (4 still filling up) and a new hour 5.
    store.upsert([sample(3, 10), sample(4, 25), sample(5, 7)])
    found = store.samples("hourly", T0, T0 + timedelta(days=1))
    assert [(s.timeframe_start.hour, s.value) for s in found] == [
        (0, 10), (1, 10), (2, 10), (3, 10), (4, 25), (5, 7),
    ]  # fmt: skip
    assert store.count() == 6
    assert found[0].timeframe_start == T0 and found[0].timeframe_start.tzinfo is not None
    assert found[0].tenant == "t-1" and found[0].org_id == "org-1"


def test_window_granularity_and_org_filters(ledger: Ledger) -> None:
    store = ledger.usage
    daily = UsageSample("p-1", "compute_unit_seconds", "daily", T0, T0 + timedelta(days=1), 99,
                        "org-2", None)  # fmt: skip
    store.upsert([sample(h, h) for h in range(48)] + [daily])
    second_day = store.samples("hourly", T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert [s.value for s in second_day] == list(range(24, 48))
    assert [s.value for s in store.samples("daily", T0, T0 + timedelta(days=9))] == [99]
    assert store.samples("daily", T0, T0 + timedelta(days=9), org_ids=["org-1"]) == []
    assert store.samples("hourly", T0, T0 + timedelta(days=9), org_ids=[]) == []


def test_sync_marks_only_move_forward(ledger: Ledger) -> None:
    store = ledger.usage
    assert store.synced_until("org-1", "hourly") is None
    later = T0 + timedelta(hours=6)
    assert store.mark_synced("org-1", "hourly", later) == later
    assert store.mark_synced("org-1", "hourly", T0) == later  # a late run cannot rewind
    assert store.synced_until("org-1", "hourly") == later
    assert store.synced_until("org-1", "daily") is None
    assert store.synced_until("org-2", "hourly") is None
