"""The DAG executor: order, lanes, bounded parallelism, failures skip dependents only."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.apply.executor import ExecutionReport, ItemFailed, Status, WorkItem, execute


def _statuses(report: ExecutionReport) -> dict[str, Status]:
    return {r.id: r.status for r in report.results}


def test_runs_in_dependency_order():
    seen: list[str] = []
    items = [WorkItem("c", ("b",)), WorkItem("a"), WorkItem("b", ("a",))]
    report = execute(items, lambda i: seen.append(i), parallelism=4)
    assert seen == ["a", "b", "c"]
    assert report.ok and report.count(Status.SUCCEEDED) == 3


def test_failure_skips_dependents_transitively_and_others_continue():
    def work(item_id: str) -> None:
        if item_id == "create":
            raise ItemFailed("quota exceeded")

    items = [
        WorkItem("create"),
        WorkItem("branch", ("create",)),
        WorkItem("key", ("branch",)),
        WorkItem("other"),
    ]
    report = execute(items, work, parallelism=2)
    assert _statuses(report) == {
        "create": Status.FAILED,
        "branch": Status.SKIPPED,
        "key": Status.SKIPPED,
        "other": Status.SUCCEEDED,
    }
    failed = next(r for r in report.results if r.id == "create")
    assert failed.message == "quota exceeded"
    skipped = next(r for r in report.results if r.id == "key")
    assert skipped.message == "skipped: branch did not succeed"


def test_unknown_dependency_fails_the_item_without_hanging():
    report = execute(
        [WorkItem("a", ("ghost",)), WorkItem("b", ("a",))], lambda i: None, parallelism=1
    )
    assert _statuses(report) == {"a": Status.FAILED, "b": Status.SKIPPED}


def test_parallelism_is_bounded_and_lanes_serialise():
    active = 0
    peak = 0
    lane_active: dict[str, int] = {}
    lane_peak = 0
    guard = threading.Lock()
    lanes = {f"s{i}": frozenset({f"t{i % 3}"}) for i in range(12)}

    def work(item_id: str) -> None:
        nonlocal active, peak, lane_peak
        lane = next(iter(lanes[item_id]))
        with guard:
            active += 1
            lane_active[lane] = lane_active.get(lane, 0) + 1
            peak = max(peak, active)
            lane_peak = max(lane_peak, lane_active[lane])
        time.sleep(0.01)
        with guard:
            active -= 1
            lane_active[lane] -= 1

    items = [WorkItem(i, lanes=lanes[i]) for i in lanes]
    report = execute(items, work, parallelism=8)
    assert report.ok
    assert peak == 3  # only three lanes exist
    assert lane_peak == 1


def test_detail_is_recorded_and_listener_sees_every_result():
    heard: list[str] = []
    report = execute(
        [WorkItem("a")],
        lambda i: {"project_id": "p-1"},
        parallelism=1,
        on_result=lambda r: heard.append(r.id),
    )
    assert report.results[0].detail == {"project_id": "p-1"}
    assert heard == ["a"]


def test_rejects_zero_parallelism():
    with pytest.raises(ValueError, match="parallelism"):
        execute([], lambda i: None, parallelism=0)


def test_ten_thousand_items_all_run_once():
    seen: list[str] = []
    items = [WorkItem(f"i{n}", (f"i{n - 1}",) if n % 2 else ()) for n in range(10_000)]
    report = execute(items, seen.append, parallelism=8)
    assert report.count(Status.SUCCEEDED) == 10_000
    assert sorted(seen) == sorted(i.id for i in items)


def test_on_finish_hears_each_result_in_its_worker_before_any_dependent_starts():
    events: list[tuple[str, str]] = []
    caller = threading.get_ident()
    finish_threads: dict[str, bool] = {}

    def work(item_id: str) -> None:
        events.append(("start", item_id))
        if item_id == "bad":
            raise ItemFailed("no")

    def on_finish(result) -> None:
        finish_threads[result.id] = threading.get_ident() == caller
        events.append(("finish", result.id))

    items = [WorkItem("a"), WorkItem("b", ("a",)), WorkItem("bad"), WorkItem("after", ("bad",))]
    seen: list[str] = []
    report = execute(
        items, work, parallelism=2, on_finish=on_finish, on_result=lambda r: seen.append(r.id)
    )
    assert events.index(("finish", "a")) < events.index(("start", "b"))
    # Items that ran were reported from their worker thread; the skipped one from the caller.
    assert finish_threads == {"a": False, "b": False, "bad": False, "after": True}
    assert sorted(seen) == sorted(finish_threads) and _statuses(report)["after"] is Status.SKIPPED
