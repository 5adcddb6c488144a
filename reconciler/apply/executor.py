"""A bounded, dependency-aware executor for plan steps.

Runs work items on a thread pool in dependency order. Three rules beyond plain DAG order keep
Neon happy:

* items of one *account* (the Neon account whose rate budget their calls spend: an org, or the
  personal key's user) run at most ``parallelism`` at a time, and the accounts take turns, so
  every account's budget is spent at once; the whole run is capped by the CPUs
  (``WORKERS_PER_CPU`` threads per CPU), not by one total shared by every account;
* items that share a *lane* (a tenant's project) never run at the same time, because Neon answers
  a second mutation of a project that still has running operations with 423 Locked;
* a failed item skips everything that depends on it, transitively, while unrelated items go on
  (after sqlmesh's ``ConcurrentDAGExecutor``, which returns failures and skips instead of aborting).

The executor knows nothing about Neon: it calls ``work(item_id)`` and records what happened.
Two listeners see each result: ``on_finish`` before any dependent starts, in the worker thread
that ran the item (so several calls run at once: an apply's ledger writes of concurrent outcomes
share commits; items never run are reported from the calling thread), then ``on_result`` in the
calling thread, one result at a time.
"""

from __future__ import annotations

import functools
import heapq
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.step_status import StepStatus

_log = logging.getLogger("reconciler.apply")


#: How one item ended: the ledger's step status, so a result is stored as it was reported.
Status = StepStatus


#: Fleet-wide cap on items in flight per CPU. A step mostly waits (on the network, its account's
#: budget, Neon's operations or the ledger), so a few dozen threads per CPU keep every account's
#: budget busy while the CPUs, not one shared total, bound the run.
WORKERS_PER_CPU = 16


@dataclass(frozen=True)
class WorkItem:
    """One schedulable unit: its id, what it waits for, the lanes it occupies, and the account
    (rate budget) its calls spend (``""``: none in particular)."""

    id: str
    depends_on: tuple[str, ...] = ()
    lanes: frozenset[str] = frozenset()
    account: str = ""


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


def fleet_workers(accounts: int, per_account: int) -> int:
    """Threads for ``accounts`` accounts of ``per_account`` items in flight each, CPU-capped.

    Never fewer than one account's ``per_account`` (what the user asked for), never more than
    ``WORKERS_PER_CPU`` per CPU otherwise.
    """
    cap = max(per_account, WORKERS_PER_CPU * (os.cpu_count() or 1))
    return max(1, min(max(1, accounts) * per_account, cap))


def execute(
    items: Sequence[WorkItem],
    work: Work,
    *,
    parallelism: int,
    max_workers: int | None = None,
    on_result: Listener | None = None,
    on_finish: Listener | None = None,
    clock: Callable[[], float] = time.time,
) -> ExecutionReport:
    """Run ``work`` for every item and return what happened to each.

    At most ``parallelism`` items of one account run at a time, and at most ``max_workers`` in
    all (default: ``fleet_workers`` of the items' accounts). ``work`` returns optional detail
    (resource ids) or raises: ``ItemFailed`` and any ``Exception`` fail the item (the message is
    kept, the traceback is not), which skips its dependents. Items whose dependencies are
    unknown are failed up front, so a malformed plan never hangs the run. Listeners: see above.
    """
    if parallelism < 1 or (max_workers is not None and max_workers < 1):
        raise ValueError("parallelism must be at least 1")
    by_id = {item.id: item for item in items}
    position = {item.id: index for index, item in enumerate(items)}
    results: dict[str, ItemResult] = {}
    finished: list[ItemResult] = []

    settle = functools.partial(_settle, results, finished, (on_finish, on_result))

    waiting_on: dict[str, int] = {}
    dependents: dict[str, list[str]] = {item.id: [] for item in items}
    ready = _ReadyQueues(items, parallelism, results)
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
            ready.push(position[item.id])

    def release(item: WorkItem, result: ItemResult) -> None:
        settle(result, ran=True)
        if result.status is not Status.SUCCEEDED:
            _cascade_skip(item.id, dependents, results, settle)
            return
        for child in dependents[item.id]:
            waiting_on[child] -= 1
            if waiting_on[child] == 0 and child not in results:
                ready.push(position[child])

    workers = max_workers or fleet_workers(ready.accounts, parallelism)
    _run(ready, functools.partial(_run_one, work, clock, on_finish), release, workers)
    return ExecutionReport(tuple(finished))


def _settle(
    results: dict[str, ItemResult],
    finished: list[ItemResult],
    listeners: tuple[Listener | None, Listener | None],
    result: ItemResult,
    *,
    ran: bool = False,
) -> None:
    """Keep one result and tell the listeners (``on_finish`` already heard of one that ran)."""
    on_finish, on_result = listeners
    if on_finish is not None and not ran:
        on_finish(result)
    results[result.id] = result
    finished.append(result)
    if on_result is not None:
        on_result(result)


def _run_one(
    work: Work, clock: Callable[[], float], on_finish: Listener | None, item_id: str
) -> ItemResult:
    """Run one item's work, tell ``on_finish`` how it ended, and return that."""
    result = _outcome(work, clock, item_id)
    if on_finish is not None:
        on_finish(result)
    return result


def _outcome(work: Work, clock: Callable[[], float], item_id: str) -> ItemResult:
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


def _run(
    ready: _ReadyQueues,
    run_one: Callable[[str], ItemResult],
    release: Callable[[WorkItem, ItemResult], None],
    workers: int,
) -> None:
    """Start ready items while threads are free, and release what each finished item unblocks."""
    busy_lanes: set[str] = set()
    running: dict[Future[ItemResult], WorkItem] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleet-apply") as pool:
        while ready or running:
            while len(running) < workers:
                item = ready.take(busy_lanes)
                if item is None:
                    break
                busy_lanes.update(item.lanes)
                running[pool.submit(run_one, item.id)] = item
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                item = running.pop(future)
                busy_lanes.difference_update(item.lanes)
                ready.finished(item)
                release(item, future.result())


class _ReadyQueues:
    """Items ready to run, per account; the accounts take turns.

    Each account's ready items are a heap of plan positions (ties run in plan order). ``take``
    passes over an account that has ``per_account`` items running, and skips items whose lanes
    are busy, so one account's backlog never holds up another's.
    """

    def __init__(
        self, items: Sequence[WorkItem], per_account: int, results: Mapping[str, ItemResult]
    ) -> None:
        self._items, self._per_account, self._results = items, per_account, results
        self._turns = sorted({item.account for item in items})
        self._heaps: dict[str, list[int]] = {account: [] for account in self._turns}
        self._running = dict.fromkeys(self._turns, 0)
        self._next = 0
        self._count = 0

    @property
    def accounts(self) -> int:
        return len(self._turns)

    def __bool__(self) -> bool:
        return self._count > 0

    def push(self, index: int) -> None:
        heapq.heappush(self._heaps[self._items[index].account], index)
        self._count += 1

    def take(self, busy_lanes: set[str]) -> WorkItem | None:
        """The next item to start, from the next account in turn that may start one."""
        turns = len(self._turns)
        for offset in range(turns):
            account = self._turns[(self._next + offset) % turns]
            if self._running[account] >= self._per_account:
                continue
            item = self._pop_free(self._heaps[account], busy_lanes)
            if item is not None:
                self._next = (self._next + offset + 1) % turns
                self._running[account] += 1
                return item
        return None

    def finished(self, item: WorkItem) -> None:
        self._running[item.account] -= 1

    def _pop_free(self, heap: list[int], busy_lanes: set[str]) -> WorkItem | None:
        """The earliest item of ``heap`` whose lanes are free (others stay in the heap)."""
        deferred: list[int] = []
        found = None
        while heap and found is None:
            index = heapq.heappop(heap)
            item = self._items[index]
            if item.id in self._results:  # settled while it waited: never run it
                self._count -= 1
            elif item.lanes & busy_lanes:
                deferred.append(index)
            else:
                found = item
                self._count -= 1
        for index in deferred:
            heapq.heappush(heap, index)
        return found


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
