"""A bounded, dependency-aware executor for plan steps.

Runs work items on a thread pool in dependency order, at most ``parallelism`` at a time. Two
rules beyond plain DAG order keep Neon happy:

* items that share a *lane* (a tenant's project) never run at the same time, because Neon answers
  a second mutation of a project that still has running operations with 423 Locked;
* a failed item skips everything that depends on it, transitively, while unrelated items go on
  (after sqlmesh's ``ConcurrentDAGExecutor``, which returns failures and skips instead of aborting).

The executor knows nothing about Neon: it calls ``work(item_id)`` and records what happened.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.step_status import StepStatus

_log = logging.getLogger("reconciler.apply")


#: How one item ended: the ledger's step status, so a result is stored as it was reported.
Status = StepStatus


@dataclass(frozen=True)
class WorkItem:
    """One schedulable unit: its id, what it waits for, and the lanes it occupies."""

    id: str
    depends_on: tuple[str, ...] = ()
    lanes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item. ``detail`` carries resource ids the work reported."""

    id: str
    status: Status
    message: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutionReport:
    """Every item's result, in the order items finished."""

    results: tuple[ItemResult, ...]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def ok(self) -> bool:
        return all(r.status is Status.SUCCEEDED for r in self.results)


class ItemFailed(Exception):
    """Raised by work functions to fail an item with a message meant for users."""


Work = Callable[[str], Mapping[str, Any] | None]
Listener = Callable[[ItemResult], None]


def execute(
    items: Sequence[WorkItem],
    work: Work,
    *,
    parallelism: int,
    on_result: Listener | None = None,
    clock: Callable[[], float] = time.time,
) -> ExecutionReport:
    """Run ``work`` for every item and return what happened to each.

    ``work`` returns optional detail (resource ids) or raises: ``ItemFailed`` and any
    ``Exception`` fail the item (the message is kept, the traceback is not), which skips its
    dependents. Items whose dependencies are unknown are failed up front, so a malformed plan
    never hangs the run.
    """
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    by_id = {item.id: item for item in items}
    position = {item.id: index for index, item in enumerate(items)}
    results: dict[str, ItemResult] = {}
    finished: list[ItemResult] = []

    def settle(result: ItemResult) -> None:
        results[result.id] = result
        finished.append(result)
        if on_result is not None:
            on_result(result)

    waiting_on: dict[str, int] = {}
    dependents: dict[str, list[str]] = {item.id: [] for item in items}
    ready: list[int] = []  # heap of plan positions: ties run in plan order
    for item in items:
        missing = [d for d in item.depends_on if d not in by_id]
        if missing:
            settle(ItemResult(item.id, Status.FAILED, f"unknown dependency {', '.join(missing)}"))
            continue
        waiting_on[item.id] = len(set(item.depends_on))
        for dep in set(item.depends_on):
            dependents[dep].append(item.id)
    for item in items:
        if item.id in results:
            _cascade_skip(item.id, dependents, results, settle)
        elif waiting_on[item.id] == 0:
            heapq.heappush(ready, position[item.id])

    def run_one(item_id: str) -> ItemResult:
        started = clock()
        try:
            detail = work(item_id) or {}
        except Exception as exc:
            # Any error fails this item only; unrelated items go on. The traceback is kept at
            # debug level (``-v``) because an unexpected exception here is a bug worth seeing.
            _log.debug("work item %s failed", item_id, exc_info=True)
            message = str(exc) or type(exc).__name__
            return ItemResult(item_id, Status.FAILED, message, started, clock())
        return ItemResult(item_id, Status.SUCCEEDED, "", started, clock(), dict(detail))

    busy_lanes: set[str] = set()
    running: dict[Future[ItemResult], WorkItem] = {}
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="fleet-apply") as pool:
        while ready or running:
            deferred: list[int] = []
            while ready and len(running) < parallelism:
                item = items[heapq.heappop(ready)]
                if item.id in results:
                    continue
                if item.lanes & busy_lanes:
                    deferred.append(position[item.id])
                    continue
                busy_lanes.update(item.lanes)
                running[pool.submit(run_one, item.id)] = item
            for pos in deferred:
                heapq.heappush(ready, pos)
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                item = running.pop(future)
                busy_lanes.difference_update(item.lanes)
                result = future.result()
                settle(result)
                if result.status is not Status.SUCCEEDED:
                    _cascade_skip(item.id, dependents, results, settle)
                    continue
                for child in dependents[item.id]:
                    waiting_on[child] -= 1
                    if waiting_on[child] == 0 and child not in results:
                        heapq.heappush(ready, position[child])
    return ExecutionReport(tuple(finished))


def _cascade_skip(
    failed_id: str,
    dependents: Mapping[str, list[str]],
    results: Mapping[str, ItemResult],
    settle: Callable[[ItemResult], None],
) -> None:
    """Skip everything that depends, directly or not, on an item that did not succeed."""
    stack = [(failed_id, child) for child in dependents.get(failed_id, ())]
    while stack:
        cause, item_id = stack.pop()
        if item_id in results:
            continue
        settle(ItemResult(item_id, Status.SKIPPED, f"skipped: {cause} did not succeed"))
        stack.extend((item_id, child) for child in dependents.get(item_id, ()))
