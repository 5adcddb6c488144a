"""Many orgs at ten times Neon's budget: is a cold apply bound by the budgets or by the CPU?

Run: ``python bench/multi_org_apply.py [--orgs 8] [--tenants-per-org 1250] [--rate 7000/min]``
(``--tenants-per-org 250`` for a quick check; docs/scale.md shows the output).

The emulator runs in its own process (``fleet emulator serve``), answering real HTTP over
loopback and enforcing ``--rate`` per account and ``--route-rate`` per account and route; this
process is the client, with the same budgets. The state holds ``--orgs`` orgs of
``--tenants-per-org`` projects each (every tenant manages quotas and compute limits;
``--drifted`` of the projects differ from their manifests). Two phases, each on a fresh limiter:

1. ``plan (cold ledger)``: nothing recorded, so every tenant's endpoints are read;
2. ``apply (cold plan)``: what ``fleet apply`` does with that plan — take the lock, re-read the
   planned tenants, check the plan is fresh, adopt every project and repair the drifted ones,
   writing each outcome to the (SQLite) ledger.

For each it prints the API calls, the aggregate budget (the budgets of the accounts the phase
used), wall seconds and **wall ÷ (calls ÷ aggregate budget)** (1.0: every account's budget spent
all the time), the client's CPU per call (this whole process: planning, executor, ledger
included — the emulator's CPU is counted apart), the emulator's CPU, 429s seen by the client and
counted by the emulator, and the load average. Targets: client CPU ≤ 1 ms per call, the apply's
ratio ≤ 1.15 on 2 cores, no 429.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet_scale import BenchEnvironment
from multi_org import PERSONAL_KEY, Shape, build_emulator_state, write_manifests

from reconciler.app.applying import apply_plan, apply_session
from reconciler.app.environment import Environment, GlobalOptions
from reconciler.app.planning import make_plan
from reconciler.apply.executor import Status
from reconciler.core.plan import Plan
from reconciler.manifests import load_fleet
from reconciler.neon.ratelimit import RateBudget, configure_shared_limiter, parse_rate

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Emulator:
    """The emulator's process, its URL, and what it has counted."""

    process: subprocess.Popen[str]
    url: str

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime

    def rate_limited(self) -> int:
        admin = self.url.removesuffix("/api/v2") + "/_emulator/stats"
        return int(httpx.get(admin).json()["rate_limited"])


@contextmanager
def serving(state: Path) -> Iterator[Emulator]:
    """``fleet emulator serve`` on ``state``, on a free loopback port."""
    command = [sys.executable, "-m", "reconciler", "emulator", "serve", "--state", str(state)]
    process = subprocess.Popen([*command, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield Emulator(process, url)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Phase:
    """One phase's figures."""

    name: str
    per_second: float
    wall: float = 0.0
    cpu: float = 0.0
    emulator_cpu: float = 0.0
    calls: int = 0
    accounts: int = 0
    client_429: int = 0
    emulator_429: int = 0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    @property
    def aggregate(self) -> float:
        """Calls per second the accounts used may send together."""
        return self.per_second * max(1, self.accounts)

    @property
    def ratio(self) -> float:
        return self.wall / (self.calls / self.aggregate) if self.calls else 0.0

    def table(self) -> str:
        rows = [
            ("API calls", f"{self.calls}"),
            ("accounts (org keys)", f"{self.accounts}"),
            ("aggregate budget calls/min", f"{self.aggregate * 60:.0f}"),
            ("calls ÷ aggregate budget s", f"{self.calls / self.aggregate:.2f}"),
            ("wall s", f"{self.wall:.2f}"),
            ("wall ÷ (calls ÷ aggregate budget)", f"{self.ratio:.3f}"),
            ("client CPU s (whole process)", f"{self.cpu:.2f}"),
            ("client CPU ms per call", f"{self.cpu / max(1, self.calls) * 1000:.3f}"),
            ("emulator CPU s (its own process)", f"{self.emulator_cpu:.2f}"),
            ("429s (client / emulator)", f"{self.client_429} / {self.emulator_429}"),
            ("load average at the end (1/5/15 min)", " ".join(f"{x:.2f}" for x in self.load)),
            *(("note", note) for note in self.notes),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join([f"== {self.name}", *(f"  {k:<{width}}  {v}" for k, v in rows)])


class Runner:
    """Runs phases against one served emulator."""

    def __init__(
        self, emulator: Emulator, work: Path, shape: Shape, budget: RateBudget, ledger: str
    ) -> None:
        self.emulator, self.manifests, self.budget = emulator, work / "fleet", budget
        environ = {f"NEON_O{k}_KEY": shape.key_of(k) for k in range(shape.orgs)}
        self.options = GlobalOptions(
            api_host=emulator.url,
            ledger_url=ledger or f"sqlite:///{work / 'ledger.db'}",
            workdir=work,
            environ={**environ, "NEON_PERSONAL_KEY": PERSONAL_KEY},
        )

    def phase(self, name: str, work: Callable[[Environment], list[str]]) -> Phase:
        desired = load_fleet(self.manifests)
        limiter = configure_shared_limiter(self.budget)
        record = Phase(name, self.budget.account_per_minute / 60.0)
        before_429 = self.emulator.rate_limited()
        with BenchEnvironment(self.options, desired.fleet, None) as env:
            emulator_cpu = self.emulator.cpu_seconds()
            cpu, wall = time.process_time(), time.perf_counter()
            record.notes = work(env)
            record.wall = time.perf_counter() - wall
            record.cpu = time.process_time() - cpu
            record.emulator_cpu = self.emulator.cpu_seconds() - emulator_cpu
            stats = env.client().stats.snapshot()
        record.calls = stats.total_requests
        record.client_429 = stats.total_rate_limited
        record.emulator_429 = self.emulator.rate_limited() - before_429
        record.accounts = len([a for a in limiter.requests_by_account() if a])
        record.load = os.getloadavg()
        print(record.table(), flush=True)
        return record


def plan_phase(runner: Runner, keep: dict[str, Plan]) -> Callable[[Environment], list[str]]:
    def work(env: Environment) -> list[str]:
        keep["plan"] = plan = make_plan(env, load_fleet(runner.manifests), refresh="all").plan
        actions: dict[str, int] = {}
        for step in plan.steps:
            actions[step.action.value] = actions.get(step.action.value, 0) + 1
        return [f"{len(plan.steps)} steps {actions}"]

    return work


def apply_phase(keep: dict[str, Plan]) -> Callable[[Environment], list[str]]:
    def work(env: Environment) -> list[str]:
        with apply_session(env):
            report = apply_plan(env, keep["plan"]).report
        failed = [r for r in report.results if r.status is Status.FAILED]
        return [
            f"{report.count(Status.SUCCEEDED)} steps succeeded, {len(failed)} failed, "
            f"{report.count(Status.SKIPPED)} skipped",
            *(f"failed: {r.id}: {r.message}" for r in failed[:5]),
        ]

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=8)
    parser.add_argument("--tenants-per-org", type=int, default=1250)
    parser.add_argument("--rate", default="7000/min", help="per-account rate (emulator, client)")
    parser.add_argument("--route-rate", default="400/s", help="per-account, per-route rate")
    parser.add_argument("--drifted", type=float, default=0.05, help="share drifted live")
    parser.add_argument("--parallelism", type=int, default=8, help="policy.parallelism (per org)")
    parser.add_argument(
        "--ledger",
        default="",
        help="ledger URL (default: a SQLite file; sqlite:///:memory: leaves out the commits' "
        "fsyncs, to see what else bounds the run)",
    )
    args = parser.parse_args()
    shape = Shape(args.orgs, args.tenants_per_org)
    budget = RateBudget(
        account_per_minute=parse_rate(args.rate, default_unit="min") * 60,
        route_per_second=parse_rate(args.route_rate, default_unit="s"),
    )
    with tempfile.TemporaryDirectory(prefix="multi-org-apply-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        build_emulator_state(work / "emulator.db", shape, budget, drifted=args.drifted)
        write_manifests(work / "fleet", shape, args.parallelism)
        print(f"{shape.orgs} orgs × {shape.per_org} tenants ({args.drifted:.0%} drifted); "
              f"emulator (loopback, own process) and client {budget.describe()}; "
              f"{os.cpu_count()} CPUs; state built in {time.perf_counter() - started:.1f}s "
              f"(not measured); load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
              flush=True)  # fmt: skip
        with serving(work / "emulator.db") as emulator:
            runner = Runner(emulator, work, shape, budget, args.ledger)
            keep: dict[str, Any] = {}
            runner.phase("plan (cold ledger, --refresh all)", plan_phase(runner, keep))
            applied = runner.phase("apply (cold plan: adopt all, repair drift)", apply_phase(keep))
    print("\n== targets")
    print(f"  client CPU per call: {applied.cpu / max(1, applied.calls) * 1000:.3f} ms; "
          "target ≤ 1 ms")  # fmt: skip
    print(f"  cold apply wall ÷ (calls ÷ aggregate budget): {applied.ratio:.3f}; target ≤ 1.15")
    print(f"  429s: {applied.client_429} / {applied.emulator_429}; target 0")


if __name__ == "__main__":
    main()
