"""Applies run ``parallelism`` steps per Neon account, the accounts at once, capped by the CPUs."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.apply import executor
from reconciler.apply.applier import work_items
from reconciler.apply.executor import ExecutionReport, WorkItem, execute, fleet_workers
from reconciler.core.plan import Plan, Step
from reconciler.core.plan_contract import ApplyContract, PlannedBinding
from reconciler.core.plan_payloads import AdoptProject, TransferProjects
from reconciler.credentials import PERSONAL_ACCOUNT

WAIT = 10.0  # seconds a test waits for progress it expects; reached at once when all is well


class Gate:
    """Work that holds every item until released, counting what runs at once per account."""

    def __init__(self, account_of: dict[str, str]) -> None:
        self.account_of = account_of
        self.changed = threading.Condition()
        self.released = threading.Event()
        self.active: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.peak_total = 0

    def total(self) -> int:
        return sum(self.active.values())

    def __call__(self, item_id: str) -> None:
        account = self.account_of[item_id]
        with self.changed:
            self.active[account] = self.active.get(account, 0) + 1
            self.peak[account] = max(self.peak.get(account, 0), self.active[account])
            self.peak_total = max(self.peak_total, self.total())
            self.changed.notify_all()
        assert self.released.wait(WAIT), "the test never released its items"
        with self.changed:
            self.active[account] -= 1

    def wait_for(self, predicate: Callable[[], bool]) -> bool:
        with self.changed:
            return self.changed.wait_for(predicate, timeout=WAIT)


def _in_background(run: Callable[[], ExecutionReport]) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(run()), daemon=True)
    thread.start()
    return thread, box


def _items(accounts: int, per_account: int) -> tuple[list[WorkItem], dict[str, str]]:
    items = [
        WorkItem(f"a{a}-{n}", lanes=frozenset({f"a{a}-{n}"}), account=f"org:{a}")
        for n in range(per_account)
        for a in range(accounts)
    ]
    return items, {item.id: item.account for item in items}


def test_each_account_runs_parallelism_items_and_the_accounts_run_at_once() -> None:
    items, account_of = _items(accounts=3, per_account=6)
    gate = Gate(account_of)
    thread, box = _in_background(lambda: execute(items, gate, parallelism=2, max_workers=32))
    # One total of ``parallelism`` would stop at 2 in flight; per account, 3 × 2 run at once.
    reached = gate.wait_for(lambda: gate.total() == 6)
    gate.released.set()
    thread.join(WAIT)
    assert reached, f"only {gate.peak_total} item(s) ran at once"
    assert box[0].ok and len(box[0].results) == 18
    assert gate.peak == {"org:0": 2, "org:1": 2, "org:2": 2}
    assert gate.peak_total == 6


def test_the_fleet_wide_cap_bounds_every_account_together() -> None:
    items, account_of = _items(accounts=3, per_account=4)
    gate = Gate(account_of)
    thread, box = _in_background(lambda: execute(items, gate, parallelism=2, max_workers=3))
    reached = gate.wait_for(lambda: gate.total() == 3)
    gate.released.set()
    thread.join(WAIT)
    assert reached and box[0].ok
    assert gate.peak_total == 3
    assert max(gate.peak.values()) <= 2


def test_one_accounts_backlog_does_not_hold_up_another() -> None:
    """Account A's items come first in the plan; B's one item still starts beside A's first."""
    items = [WorkItem(f"a{n}", account="org:a") for n in range(20)] + [
        WorkItem("b0", account="org:b")
    ]
    b_started = threading.Event()
    overlapped: list[bool] = []

    def work(item_id: str) -> None:
        if item_id == "b0":
            b_started.set()
        elif item_id == "a0":
            overlapped.append(b_started.wait(WAIT))

    report = execute(items, work, parallelism=1, max_workers=2)
    assert report.ok
    assert overlapped == [True]


def test_items_of_one_account_keep_plan_order() -> None:
    seen: list[str] = []
    items = [WorkItem(f"i{n}", account="org:a") for n in range(50)]
    execute(items, seen.append, parallelism=1, max_workers=4)
    assert seen == [f"i{n}" for n in range(50)]


def test_fleet_workers_are_capped_by_the_cpus_but_never_below_one_accounts_parallelism(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert executor.WORKERS_PER_CPU == 16
    assert fleet_workers(8, 8) == 32  # 64 wanted, 16 per CPU on 2 CPUs
    assert fleet_workers(2, 4) == 8
    assert fleet_workers(1, 64) == 64  # what one account's --parallelism asks for
    assert fleet_workers(0, 8) == 8


def test_applier_items_name_the_account_of_their_tenants_org_and_transfers_the_personal_one() -> (
    None
):
    def adopt(tenant: str, org: str) -> Step:
        return Step(f"adopt:{tenant}", tenant, AdoptProject(f"p-{tenant}", f"t-{tenant}", org, {}))

    transfer = TransferProjects("org-two", "org-one", ("p-a",), ("a",))
    steps = (adopt("a", "org-one"), adopt("b", "org-two"), Step("transfer", None, transfer))
    tenants = {
        "a": PlannedBinding(project_name="t-a", org_id="org-one"),
        "b": PlannedBinding(project_name="t-b", org_id="org-two"),
    }
    plan = Plan("test", "digest", {}, steps, contract=ApplyContract(tenants=tenants))
    accounts = {item.id: item.account for item in work_items(plan)}
    assert accounts == {
        "adopt:a": "org:org-one",
        "adopt:b": "org:org-two",
        "transfer": PERSONAL_ACCOUNT,
        "transfer#a": "",
    }
