"""Fleet-scale benchmark: API calls, wall time against the rate limit, CPU and memory per phase.

Run: ``python bench/fleet_scale.py [--tenants 10000] [--transports inprocess,loopback]``
(``--tenants 1000`` for a quick run; ``--help`` for the rest; docs/scale.md explains the output).

It generates N tenant manifests (two tiers in two orgs; every tenant manages quotas and compute
limits) and a matching live fleet written straight into an emulator state file, with a share of
the projects drifted (quota and compute). Then, per transport — the emulator in this process
(``httpx.WSGITransport``) or in a subprocess over loopback HTTP — it runs the real use cases:

1. ``validate``: load and check the manifests;
2. ``plan (cold ledger)``: every tenant is new to the ledger, so everything is read;
3. ``apply (cold plan)``: adopt every project and repair the drifted ones (fills the ledger);
4. ``plan (warm, X% changed)``: after editing a share of the manifests, incremental refresh;
5. ``plan --refresh all``: a full-refresh plan (the planner's needs for every tenant);
6. ``drift``: ``fleet drift`` itself (``run_drift``): every matched project's branches too;
7. ``plan/apply (U upgrades)``: U free tenants move to the paid tier (org transfer, batched).

The emulator enforces its rate limits per account (scaled by ``--rate``/``--route-rate`` for
speed) and the client's shared limiter is set to the same budget per account, so wall ÷ (calls of
the busiest account ÷ rate) shows how close to the limit a phase runs (each org key is its own
account; ``bench/multi_org.py`` compares per-account budgets with one budget per process).
CPU seconds are this process's (in-process runs include the emulator); peak RSS is reset
before each phase via ``/proc/self/clear_refs`` where the kernel allows it.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
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

from reconciler.app.applying import apply_plan, apply_session
from reconciler.app.drift import run_drift
from reconciler.app.environment import Environment, GlobalOptions
from reconciler.app.planning import make_plan
from reconciler.apply.executor import Status
from reconciler.core.model import DesiredFleet
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.emulator.provision import NewProject, create_project
from reconciler.emulator.routes_keys import org_admin_user
from reconciler.manifests import load_fleet
from reconciler.neon import NeonClient
from reconciler.neon.ratelimit import RateBudget, configure_shared_limiter, parse_rate

ORGS = {"free": "org-free-1", "paid": "org-paid-1"}
KEYS = {"NEON_FREE_KEY": "bench-free", "NEON_PAID_KEY": "bench-paid", "NEON_PERSONAL_KEY": "me"}
TIERS: dict[str, dict[str, Any]] = {
    "free": {
        "org": "free",
        "quota": {"compute_time_seconds": 9000, "logical_size_bytes": 536870912},
        "compute": {"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 1},
    },
    "pro": {
        "org": "paid",
        "quota": {"compute_time_seconds": 360000, "logical_size_bytes": 10737418240},
        "compute": {"autoscaling_limit_min_cu": 0.5, "autoscaling_limit_max_cu": 4},
    },
}


# --------------------------------------------------------------------------- the fleet


@dataclass(frozen=True)
class Shape:
    """What to generate: tenants, drifted share, edited share, upgrades."""

    tenants: int
    drifted: float
    changed: float
    upgrades: int
    parallelism: int

    def tier(self, i: int) -> str:
        return "pro" if i % 4 == 0 else "free"

    def spec(self, i: int, *, edited: bool = False, upgraded: frozenset[int] = frozenset()) -> Any:
        spec: dict[str, Any] = {"tier": "pro" if i in upgraded else self.tier(i)}
        if i % 3 == 0:
            spec["quota"] = {"compute_time_seconds": 18000 + i % 7 * 100}
        if edited and self.is_changed(i):
            spec["quota"] = {"compute_time_seconds": 20000 + i % 11}
        return spec

    def is_drifted(self, i: int) -> bool:
        return self.drifted > 0 and i % round(1 / self.drifted) == 1

    def is_changed(self, i: int) -> bool:
        return self.changed > 0 and i % round(1 / self.changed) == 2

    def upgraded(self) -> frozenset[int]:
        free = (i for i in range(self.tenants) if self.tier(i) == "free")
        return frozenset(i for _, i in zip(range(self.upgrades), free, strict=False))


def write_manifests(root: Path, shape: Shape, **variant: Any) -> None:
    """Fleet, tiers and tenants as YAML (500 tenants per file)."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "tenants").mkdir(parents=True)
    orgs = "\n".join(
        f"    {alias}: {{id: {oid}, api_key_env: NEON_{alias.upper()}_KEY}}"
        for alias, oid in ORGS.items()
    )
    (root / "fleet.yaml").write_text(
        "apiVersion: neon-fleet/v1\nkind: Fleet\nmetadata: {name: bench}\nspec:\n"
        f"  orgs:\n{orgs}\n  personal_api_key_env: NEON_PERSONAL_KEY\n"
        "  defaults: {region: aws-us-east-2, pg_version: 17}\n"
        '  project_name: "t-{tenant}"\n'
        f"  policy: {{prune: false, max_deletes: 0, parallelism: {shape.parallelism}}}\n"
    )
    (root / "tiers.yaml").write_text(
        "---\n".join(
            f"apiVersion: neon-fleet/v1\nkind: Tier\nmetadata: {{name: {name}}}\nspec:\n"
            f"  org: {t['org']}\n  quota: {json.dumps(t['quota'])}\n"
            f"  compute: {json.dumps(t['compute'])}\n"
            for name, t in TIERS.items()
        )
    )
    for start in range(0, shape.tenants, 500):
        (root / "tenants" / f"t-{start:06d}.yaml").write_text(
            "---\n".join(
                f"apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {{name: cust-{i:05d}}}\n"
                f"spec: {json.dumps(shape.spec(i, **variant))}\n"
                for i in range(start, min(start + 500, shape.tenants))
            )
        )


def build_emulator_state(path: Path, shape: Shape, budget: RateBudget) -> None:
    """Orgs, keys, the scaled limits and one live project per tenant (some drifted)."""
    seed = {
        "orgs": [
            {"id": ORGS["free"], "name": "Free", "plan": "free"},
            {"id": ORGS["paid"], "name": "Paid", "plan": "scale"},
        ],
        "keys": [
            {"token": KEYS["NEON_PERSONAL_KEY"], "kind": "personal",
             "orgs": {oid: "admin" for oid in ORGS.values()}},
            {"token": KEYS["NEON_FREE_KEY"], "kind": "org", "org": ORGS["free"]},
            {"token": KEYS["NEON_PAID_KEY"], "kind": "org", "org": ORGS["paid"]},
        ],
        "limits": {
            "requests_per_minute": round(budget.account_per_minute),
            "route_requests_per_second": round(budget.route_per_second),
        },
        "operation_duration_ms": 0,
    }  # fmt: skip
    emulator = Emulator(path, seed_from_mapping(seed))
    now = time.time()
    with emulator.store.transaction() as conn:
        owners = {oid: org_admin_user(conn, oid) for oid in ORGS.values()}
        for i in range(shape.tenants):
            tier = TIERS[shape.tier(i)]
            quota = {**tier["quota"], **shape.spec(i).get("quota", {})}
            compute = dict(tier["compute"])
            if shape.is_drifted(i):
                quota["compute_time_seconds"] += 1
                compute["autoscaling_limit_max_cu"] = 2
            org = ORGS[tier["org"]]
            new = NewProject(
                org_id=org,
                name=f"t-cust-{i:05d}",
                settings={"quota": quota},
                default_endpoint_settings=compute,
            )
            create_project(conn, new, owners[org], now, ready_at=now)
    emulator.close()


# --------------------------------------------------------------------------- transports


class BenchEnvironment(Environment):
    """An ``Environment`` whose client talks to the emulator through a given transport."""

    def __init__(self, options: GlobalOptions, fleet: Any, transport: httpx.BaseTransport | None):
        super().__init__(options, fleet)
        self._transport = transport

    def client(self) -> NeonClient:
        if self._client is None:
            base = self.options.api_host or "http://emulator.invalid/api/v2"
            self._client = NeonClient(base, transport=self._transport)
        return self._client


@contextmanager
def running_emulator(state: Path, transport: str) -> Iterator[tuple[str, Any]]:
    """(base URL, WSGI transport or None) for an emulator on ``state``."""
    if transport == "inprocess":
        emulator = Emulator(state)
        try:
            yield "http://emulator.invalid/api/v2", httpx.WSGITransport(app=emulator)
        finally:
            emulator.close()
        return
    command = [sys.executable, "-m", "reconciler", "emulator", "serve"]
    process = subprocess.Popen(
        [*command, "--state", str(state), "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        if not url.startswith("http"):
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield url, None
    finally:
        process.terminate()
        process.wait(timeout=10)


# --------------------------------------------------------------------------- measurement


@dataclass
class Phase:
    """One phase's figures."""

    name: str
    tenants: int
    per_second: float
    wall: float = 0.0
    cpu: float = 0.0
    peak_mb: float = 0.0
    routes: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    #: Requests granted to the account that sent the most: its budget bounds the wall time.
    busiest: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(self.routes.values())

    @property
    def ideal(self) -> float:
        """Seconds the busiest account's budget needs for its calls."""
        return self.busiest / self.per_second

    def table(self) -> str:
        ratio = f"{self.wall / self.ideal:.3f}" if self.busiest else "-"
        rows = [
            ("API calls", f"{self.calls}"),
            ("calls per tenant", f"{self.calls / self.tenants:.4f}"),
            *((f"  {route}", f"{n}") for route, n in sorted(self.routes.items())),
            ("calls of the busiest account", f"{self.busiest}"),
            ("wall s", f"{self.wall:.2f}"),
            ("busiest account's calls ÷ rate s", f"{self.ideal:.2f}"),
            ("wall ÷ (busiest calls ÷ rate)", ratio),
            ("429s seen", f"{self.rate_limited}"),
            ("CPU s", f"{self.cpu:.2f}"),
            ("peak RSS MB", f"{self.peak_mb:.0f}"),
            *(("note", note) for note in self.notes),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join([f"== {self.name}", *(f"  {k:<{width}}  {v}" for k, v in rows)])


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb(reset_ok: bool) -> float:
    if reset_ok:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Runner:
    """Runs phases against one emulator and prints their tables."""

    def __init__(
        self, manifests: Path, work: Path, url: str, transport: Any, limits: tuple[RateBudget, ...]
    ) -> None:
        #: (the emulator's budget, the client's): ratios are against the emulator's limit.
        self.manifests, (self.server, self.budget) = manifests, limits
        environ = {**KEYS}
        self.options = GlobalOptions(
            api_host=url, ledger_url=f"sqlite:///{work / 'ledger.db'}", workdir=work,
            environ=environ,
        )  # fmt: skip
        self.transport = transport
        self.phases: list[Phase] = []

    def phase(self, name: str, tenants: int, work: Callable[[Environment], list[str]]) -> Any:
        """Run ``work`` in a fresh environment and limiter, record and print its figures."""
        desired = load_fleet(self.manifests)
        limiter = configure_shared_limiter(self.budget)
        record = Phase(name, tenants, self.server.account_per_minute / 60.0)
        with BenchEnvironment(self.options, desired.fleet, self.transport) as env:
            reset_ok = _reset_peak_rss()
            cpu, wall = time.process_time(), time.perf_counter()
            record.notes = work(env)
            record.wall = time.perf_counter() - wall
            record.cpu = time.process_time() - cpu
            record.peak_mb = _peak_rss_mb(reset_ok)
            stats = env.client().stats.snapshot()
            record.routes = dict(stats.requests)
            record.rate_limited = stats.total_rate_limited
            record.busiest = max(limiter.requests_by_account().values(), default=0)
        self.phases.append(record)
        print(record.table(), flush=True)

    def desired(self) -> DesiredFleet:
        return load_fleet(self.manifests)


def plan_phase(runner: Runner, refresh: str, keep: dict[str, Any]) -> Callable[..., list[str]]:
    def work(env: Environment) -> list[str]:
        result = make_plan(env, runner.desired(), refresh=refresh)  # type: ignore[arg-type]
        keep["plan"] = result.plan
        meta = result.plan.contract.to_json()
        actions: dict[str, int] = {}
        for step in result.plan.steps:
            actions[step.action.value] = actions.get(step.action.value, 0) + 1
        return [
            f"refresh {meta['refresh_mode']}: {meta['refreshed_tenants']} read in full, "
            f"{meta['list_only_tenants']} from list pages",
            f"{len(result.plan.steps)} steps {actions}, {len(result.plan.warnings)} warnings, "
            f"{len(result.plan.blockers)} blockers",
        ]

    return work


def drift_phase(runner: Runner) -> Callable[[Environment], list[str]]:
    def work(env: Environment) -> list[str]:
        result = run_drift(env, runner.desired(), runner.manifests)
        summary = result.document["summary"]
        return [f"{summary['items']} drift item(s) in {summary['tenants']} tenant(s)"]

    return work


def apply_phase(keep: dict[str, Any]) -> Callable[[Environment], list[str]]:
    def work(env: Environment) -> list[str]:
        with apply_session(env):
            report = apply_plan(env, keep["plan"]).report
        transfers = sum(1 for r in keep["plan"].steps if r.action.value == "transfer_projects")
        return [
            f"{report.count(Status.SUCCEEDED)} steps succeeded, {report.count(Status.FAILED)} "
            f"failed, {report.count(Status.SKIPPED)} skipped; {transfers} transfer step(s)",
            *[f"failed: {r.id}: {r.message}" for r in report.results if r.status is Status.FAILED][
                :5
            ],
        ]

    return work


def run_transport(name: str, pristine: Path, shape: Shape, limits: tuple[RateBudget, ...]) -> None:
    with tempfile.TemporaryDirectory(prefix=f"fleet-scale-{name}-") as tmp:
        work = Path(tmp)
        state = work / "emulator.db"
        shutil.copy(pristine, state)
        manifests = work / "fleet"
        write_manifests(manifests, shape)
        print(
            f"\n######## transport: {name} — {shape.tenants} tenants; emulator "
            f"{limits[0].describe()}; client {limits[1].describe()}"
        )
        with running_emulator(state, name) as (url, transport):
            runner = Runner(manifests, work, url, transport, limits)
            n, keep = shape.tenants, dict[str, Any]()
            runner.phase("validate", n, lambda _env: [f"{len(runner.desired().tenants)} tenants"])
            runner.phase("plan (cold ledger)", n, plan_phase(runner, "changed", keep))
            runner.phase("apply (cold plan: adopt all, repair drift)", n, apply_phase(keep))
            write_manifests(manifests, shape, edited=True)
            pct = f"{shape.changed:.0%}"
            runner.phase(
                f"plan (warm ledger, {pct} changed)", n, plan_phase(runner, "changed", keep)
            )
            runner.phase("plan --refresh all", n, plan_phase(runner, "all", keep))
            runner.phase("drift (fleet drift)", n, drift_phase(runner))
            write_manifests(manifests, shape, edited=True, upgraded=shape.upgraded())
            up = f"{shape.upgrades} upgrades"
            runner.phase(f"plan ({up})", n, plan_phase(runner, "changed", keep))
            runner.phase(f"apply ({up})", n, apply_phase(keep))
        summarize(runner.phases, shape)


def summarize(phases: list[Phase], shape: Shape) -> None:
    """The issue's targets, checked against this run."""
    cold = next(p for p in phases if p.name.startswith("plan (cold"))
    warm = next(p for p in phases if p.name.startswith("plan (warm"))
    full = next(p for p in phases if p.name.startswith("plan --refresh all"))
    drift = next(p for p in phases if p.name.startswith("drift"))
    upgrade = next(p for p in phases if p.name.startswith("apply (") and "upgrades" in p.name)
    changed = sum(1 for i in range(shape.tenants) if shape.is_changed(i))
    budget = math.ceil(shape.tenants / 400) + 3 * changed
    transfers = sum(n for r, n in upgrade.routes.items() if r.endswith("/projects/transfer"))
    bound = [p for p in phases if p.calls >= 500]
    print("\n== targets")
    print(f"  full refresh calls/tenant: {full.calls / shape.tenants:.4f} (cold plan "
          f"{cold.calls / shape.tenants:.4f}); target ≤ 1.1")  # fmt: skip
    print(
        f"  fleet drift calls/tenant: {drift.calls / shape.tenants:.4f} (branch lists for "
        "every tenant, endpoint lists for those that manage compute)"
    )
    print(f"  warm plan calls: {warm.calls} for {changed} changed; target ≤ {budget}")
    print(f"  transfer calls for {shape.upgrades} upgrades: {transfers}; target ≤ 3 per 1,000")
    print("  wall ÷ (busiest account's calls ÷ rate), phases with ≥ 500 calls: "
          + ", ".join(f"{p.name}: {p.wall / p.ideal:.3f}" for p in bound)
          + "; target ≤ 1.15")  # fmt: skip
    print(f"  429s seen: {sum(p.rate_limited for p in phases)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--drifted", type=float, default=0.05, help="share drifted live")
    parser.add_argument("--changed", type=float, default=0.01, help="share of manifests edited")
    parser.add_argument("--upgrades", type=int, help="free→pro moves (default: N / 10)")
    parser.add_argument("--rate", default="7000/min", help="account rate (emulator and client)")
    parser.add_argument("--route-rate", default="400/s", help="per-route rate")
    parser.add_argument(
        "--client-rate", help="client limiter's account rate if not --rate (to provoke 429s)"
    )
    parser.add_argument("--parallelism", type=int, default=16)
    parser.add_argument("--transports", default="inprocess,loopback")
    args = parser.parse_args()
    budget = RateBudget(
        account_per_minute=parse_rate(args.rate, default_unit="min") * 60,
        route_per_second=parse_rate(args.route_rate, default_unit="s"),
    )
    client = budget
    if args.client_rate:
        client = RateBudget(
            account_per_minute=parse_rate(args.client_rate, default_unit="min") * 60,
            route_per_second=budget.route_per_second,
        )
    upgrades = args.upgrades if args.upgrades is not None else args.tenants // 10
    shape = Shape(args.tenants, args.drifted, args.changed, upgrades, args.parallelism)
    with tempfile.TemporaryDirectory(prefix="fleet-scale-") as tmp:
        pristine = Path(tmp) / "pristine.db"
        started = time.perf_counter()
        build_emulator_state(pristine, shape, budget)  # the emulator enforces ``budget``
        print(f"emulator state with {shape.tenants} projects built in "
              f"{time.perf_counter() - started:.1f}s (not measured)")  # fmt: skip
        for transport in args.transports.split(","):
            run_transport(transport, pristine, shape, (budget, client))


if __name__ == "__main__":
    main()
