"""``preview_gc.judge``: expired, idle or kept, from the branch and its compute."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.app.preview_gc import judge
from reconciler.ledger.previews import PreviewRecord, PreviewStatus
from reconciler.neon.wire import Branch, Endpoint

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
HOUR = 3600


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


RECORD = PreviewRecord(
    tenant="t",
    run_id="r1",
    project_id="p",
    org_id="o",
    branch_name="preview-r1",
    status=PreviewStatus.READY,
    branch_id="br-1",
    endpoint_id="ep-1",
    expires_at=NOW + timedelta(hours=1),
    created_at=NOW - timedelta(hours=3),
)
BRANCH = Branch(
    id="br-1",
    project_id="p",
    name="preview-r1",
    default=False,
    protected=False,
    created_at=stamp(NOW - timedelta(hours=3)),
    expires_at=stamp(NOW + timedelta(hours=1)),
    logical_size=4096,
)
ENDPOINT = Endpoint(
    id="ep-1",
    project_id="p",
    branch_id="br-1",
    type="read_write",
    autoscaling_limit_min_cu=0.25,
    autoscaling_limit_max_cu=0.5,
    suspend_timeout_seconds=300,
    current_state="idle",
    last_active=stamp(NOW - timedelta(minutes=30)),
)


def test_a_branch_neon_already_deleted_is_expired_and_frees_nothing_more():
    removal = judge(RECORD, None, None, NOW, None)
    assert removal is not None and (removal.reason, removal.logical_size) == ("expired", 0)


def test_a_passed_expiry_removes_the_preview_with_its_size():
    branch = replace(BRANCH, expires_at=stamp(NOW))
    removal = judge(RECORD, branch, ENDPOINT, NOW, None)
    assert removal is not None and (removal.reason, removal.logical_size) == ("expired", 4096)


def test_without_an_idle_limit_an_unexpired_preview_stays():
    assert judge(RECORD, BRANCH, ENDPOINT, NOW, None) is None


@pytest.mark.parametrize(
    ("idle_limit", "removed"),
    [(20 * 60, True), (30 * 60, True), (31 * 60, False)],
)
def test_idle_is_counted_from_the_compute_s_last_activity(idle_limit, removed):
    removal = judge(RECORD, BRANCH, ENDPOINT, NOW, idle_limit)
    assert (removal is not None) == removed
    if removal is not None:
        assert (removal.reason, removal.logical_size) == ("idle", 4096)


def test_a_running_compute_is_never_idle():
    active = replace(ENDPOINT, current_state="active", last_active=stamp(NOW - timedelta(days=1)))
    assert judge(RECORD, BRANCH, active, NOW, 60) is None


def test_a_compute_that_never_ran_is_idle_since_the_branch_was_created():
    never = replace(ENDPOINT, last_active=None)
    assert judge(RECORD, BRANCH, never, NOW, 2 * HOUR) is not None
    assert judge(RECORD, BRANCH, never, NOW, 4 * HOUR) is None
    assert judge(RECORD, BRANCH, None, NOW, 2 * HOUR) is not None
