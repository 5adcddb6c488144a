"""``preview_gc.judge``: expired, idle or kept, from the branch and its compute."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.app.preview_gc import find_removals, judge
from reconciler.credentials import Credentials
from reconciler.errors import NotFound
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


class FakeNeon:
    """The two reads ``find_removals`` makes, per project; a missing project answers 404."""

    def __init__(self, projects: dict[str, tuple[list[Branch], list[Endpoint]]]) -> None:
        self.projects = projects
        self.calls: list[str] = []

    def _project(self, project_id: str) -> tuple[list[Branch], list[Endpoint]]:
        self.calls.append(project_id)
        if project_id not in self.projects:
            raise NotFound("project not found", status=404)
        return self.projects[project_id]

    def list_branches(self, key: str, project_id: str) -> list[Branch]:
        return self._project(project_id)[0]

    def list_endpoints(self, key: str, project_id: str) -> list[Endpoint]:
        return self._project(project_id)[1]


def test_find_removals_reads_each_project_once_and_handles_unfinished_and_gone_previews():
    creating = replace(
        RECORD, run_id="r2", branch_name="preview-r2", status=PreviewStatus.CREATING,
        branch_id=None, expires_at=NOW - timedelta(minutes=1),
    )  # fmt: skip
    young = replace(
        creating, run_id="r3", branch_name="preview-r3", expires_at=NOW + timedelta(minutes=1)
    )
    gone = replace(RECORD, tenant="t2", project_id="p-gone")
    expired_branch = replace(BRANCH, id="br-2", name="preview-r2", logical_size=77)
    neon = FakeNeon({"p": ([BRANCH, expired_branch], [ENDPOINT])})
    removals = find_removals(
        neon,  # type: ignore[arg-type]
        Credentials(org_keys={"o": "key"}),
        [RECORD, creating, young, gone],
        now=NOW,
        idle_after=lambda tenant: None,
    )
    assert [(r.record.run_id, r.record.tenant, r.reason, r.logical_size) for r in removals] == [
        ("r2", "t", "expired", 77),
        ("r1", "t2", "expired", 0),
    ]
    assert sorted(neon.calls) == ["p", "p", "p-gone"]
