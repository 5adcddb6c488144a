"""Multi-org benchmark: a full refresh with per-account rate budgets vs one process-wide budget.

Run: ``python bench/multi_org.py [--orgs 4] [--tenants-per-org 2500] [--rate 700/min]``
(``--tenants-per-org 200 --rate 1400/min`` for a quick check; docs/scale.md shows the output).

Neon budgets requests per account, and every org key is its own account. The bench builds one
emulator state with ``--orgs`` orgs of ``--tenants-per-org`` projects each (every tenant manages
quotas and compute limits, so a full refresh reads one endpoint list per tenant plus the list
pages), then runs the same ``fleet plan --refresh all`` once per rate-limit scope, side by side
on fresh copies of that state:

- ``account`` (the default): one budget per Neon account, orgs read concurrently;
- ``process``: ``NEON_FLEET_RATE_LIMIT_SCOPE=process``, one budget for every call of the process,
  which is how the client paced itself before budgets were per account.

The emulator enforces ``--rate`` per account and ``--route-rate`` per account and route, and the
client is given the same budget, so any overspending shows as 429s. The target: the account run's
wall ≤ 0.3 × the process run's (≈ 1/orgs), with 0 × 429.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.app.environment import Environment, GlobalOptions
from reconciler.app.planning import make_plan
from reconciler.emulator import Emulator, seed_from_mapping
from reconciler.emulator.provision import NewProject, create_project
from reconciler.emulator.routes_keys import org_admin_user
from reconciler.manifests import load_fleet
from reconciler.neon import NeonClient
from reconciler.neon.ratelimit import RateBudget, RateScope, configure_shared_limiter, parse_rate

QUOTA = {"compute_time_seconds": 36000, "logical_size_bytes": 1073741824}
COMPUTE = {"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 2}
PERSONAL_KEY = "bench-me"


@dataclass(frozen=True)
class Shape:
    """The fleet: ``orgs`` orgs of ``per_org`` tenants each."""

    orgs: int
    per_org: int

    def org_ids(self) -> list[str]:
        return [f"org-bench-{k}" for k in range(self.orgs)]

    def key_of(self, k: int) -> str:
        return f"bench-key-{k}"

    @property
    def tenants(self) -> int:
        return self.orgs * self.per_org


def write_manifests(root: Path, shape: Shape, parallelism: int) -> None:
    """Fleet (one org per account), one tier per org, tenants in files of 500."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "tenants").mkdir(parents=True)
    orgs = "\n".join(
        f"    o{k}: {{id: {oid}, api_key_env: NEON_O{k}_KEY}}"
        for k, oid in enumerate(shape.org_ids())
    )
    (root / "fleet.yaml").write_text(
        "apiVersion: neon-fleet/v1\nkind: Fleet\nmetadata: {name: bench}\nspec:\n"
        f"  orgs:\n{orgs}\n  personal_api_key_env: NEON_PERSONAL_KEY\n"
        "  defaults: {region: aws-us-east-2, pg_version: 17}\n"
        '  project_name: "t-{tenant}"\n'
        f"  policy: {{prune: false, max_deletes: 0, parallelism: {parallelism}}}\n"
    )
    (root / "tiers.yaml").write_text(
        "---\n".join(
            f"apiVersion: neon-fleet/v1\nkind: Tier\nmetadata: {{name: t{k}}}\nspec:\n"
            f"  org: o{k}\n  quota: {json.dumps(QUOTA)}\n  compute: {json.dumps(COMPUTE)}\n"
            for k in range(shape.orgs)
        )
    )
    names = [(k, i) for k in range(shape.orgs) for i in range(shape.per_org)]
    for start in range(0, len(names), 500):
        (root / "tenants" / f"t-{start:06d}.yaml").write_text(
            "---\n".join(
                f"apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata: {{name: c{k}-{i:05d}}}\n"
                f"spec: {{tier: t{k}}}\n"
                for k, i in names[start : start + 500]
            )
        )


def build_emulator_state(path: Path, shape: Shape, budget: RateBudget) -> None:
    """The orgs, their keys, the per-account limits and one live project per tenant."""
    orgs = shape.org_ids()
    seed = {
        "orgs": [{"id": oid, "name": oid, "plan": "scale"} for oid in orgs],
        "keys": [
            {"token": PERSONAL_KEY, "kind": "personal", "orgs": {oid: "admin" for oid in orgs}},
            *({"token": shape.key_of(k), "kind": "org", "org": oid} for k, oid in enumerate(orgs)),
        ],
        "limits": {
            "requests_per_minute": round(budget.account_per_minute),
            "route_requests_per_second": round(budget.route_per_second),
        },
        "operation_duration_ms": 0,
    }
    emulator = Emulator(path, seed_from_mapping(seed))
    now = time.time()
    with emulator.store.transaction() as conn:
        for k, oid in enumerate(orgs):
            owner = org_admin_user(conn, oid)
            for i in range(shape.per_org):
                new = NewProject(
                    org_id=oid,
                    name=f"t-c{k}-{i:05d}",
                    settings={"quota": dict(QUOTA)},
                    default_endpoint_settings=dict(COMPUTE),
                )
                create_project(conn, new, owner, now, ready_at=now)
    emulator.close()


class BenchEnvironment(Environment):
    """An ``Environment`` whose client talks to the in-process emulator."""

    def __init__(self, options: GlobalOptions, fleet: Any, transport: httpx.BaseTransport):
        super().__init__(options, fleet)
        self._transport = transport

    def client(self) -> NeonClient:
        if self._client is None:
            self._client = NeonClient("http://emulator.invalid/api/v2", transport=self._transport)
        return self._client


@dataclass
class Run:
    """One full refresh's figures."""

    scope: RateScope
    wall: float = 0.0
    cpu: float = 0.0
    calls: int = 0
    client_429: int = 0
    server_429: int = 0
    accounts: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


def full_refresh(pristine: Path, shape: Shape, budget: RateBudget, parallelism: int) -> Run:
    """``plan --refresh all`` with a cold ledger on a fresh copy of the state."""
    run = Run(budget.scope)
    with tempfile.TemporaryDirectory(prefix=f"multi-org-{budget.scope}-") as tmp:
        work = Path(tmp)
        state = work / "emulator.db"
        shutil.copy(pristine, state)
        write_manifests(work / "fleet", shape, parallelism)
        environ = {f"NEON_O{k}_KEY": shape.key_of(k) for k in range(shape.orgs)}
        options = GlobalOptions(
            ledger_url=f"sqlite:///{work / 'ledger.db'}",
            workdir=work,
            environ={**environ, "NEON_PERSONAL_KEY": PERSONAL_KEY},
        )
        emulator = Emulator(state)
        desired = load_fleet(work / "fleet")
        limiter = configure_shared_limiter(budget)
        transport = httpx.WSGITransport(app=emulator)
        with BenchEnvironment(options, desired.fleet, transport) as env:
            cpu, wall = time.process_time(), time.perf_counter()
            result = make_plan(env, desired, refresh="all")
            run.wall = time.perf_counter() - wall
            run.cpu = time.process_time() - cpu
            stats = env.client().stats.snapshot()
        run.calls = sum(stats.requests.values())
        run.client_429 = stats.total_rate_limited
        run.server_429 = emulator.stats().rate_limited
        run.accounts = limiter.accounts
        meta = result.plan.contract.to_json()
        run.notes = [
            f"{meta['refreshed_tenants']} tenants read in full, {len(result.plan.steps)} steps",
        ]
        emulator.close()
    return run


def table(runs: list[Run], shape: Shape, budget: RateBudget) -> str:
    """Both runs side by side, and the ratio the issue asks for."""
    per_second = budget.account_per_minute / 60.0
    rows: list[tuple[str, ...]] = [("", *(f"scope {r.scope}" for r in runs))]
    rows += [
        ("API calls", *(f"{r.calls}" for r in runs)),
        ("calls per tenant", *(f"{r.calls / shape.tenants:.4f}" for r in runs)),
        ("wall s", *(f"{r.wall:.1f}" for r in runs)),
        ("calls ÷ one account's rate s", *(f"{r.calls / per_second:.1f}" for r in runs)),
        ("budget accounts", *(f"{len(r.accounts)}" for r in runs)),
        (
            "wall ÷ (calls ÷ their budgets)",
            *(f"{r.wall * per_second * len(r.accounts) / r.calls:.3f}" for r in runs),
        ),
        ("aggregate calls/min", *(f"{r.calls / r.wall * 60:.0f}" for r in runs)),
        ("429s (client / emulator)", *(f"{r.client_429} / {r.server_429}" for r in runs)),
        ("CPU s (client + emulator)", *(f"{r.cpu:.1f}" for r in runs)),
        *(("note", *(r.notes[i] for r in runs)) for i in range(len(runs[0].notes))),
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join(
        "  " + "  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)) for row in rows
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=4)
    parser.add_argument("--tenants-per-org", type=int, default=2500)
    parser.add_argument("--rate", default="700/min", help="per-account rate (emulator, client)")
    parser.add_argument("--route-rate", default="40/s", help="per-account, per-route rate")
    parser.add_argument("--parallelism", type=int, default=8, help="reads in flight per org")
    parser.add_argument("--scopes", default="account,process", help="runs, in this order")
    args = parser.parse_args()
    shape = Shape(args.orgs, args.tenants_per_org)
    budget = RateBudget(
        account_per_minute=parse_rate(args.rate, default_unit="min") * 60,
        route_per_second=parse_rate(args.route_rate, default_unit="s"),
    )
    scopes: list[RateScope] = [
        "process" if name == "process" else "account" for name in args.scopes.split(",")
    ]
    with tempfile.TemporaryDirectory(prefix="multi-org-") as tmp:
        pristine = Path(tmp) / "pristine.db"
        started = time.perf_counter()
        build_emulator_state(pristine, shape, budget)
        print(f"{shape.orgs} orgs × {shape.per_org} tenants; emulator and client "
              f"{budget.describe()}; state built in "
              f"{time.perf_counter() - started:.1f}s (not measured)", flush=True)  # fmt: skip
        runs = []
        for scope in scopes:
            scoped = replace(budget, scope=scope)
            runs.append(full_refresh(pristine, shape, scoped, args.parallelism))
            print(f"  scope {scope}: {runs[-1].wall:.1f}s wall", flush=True)
    print("\n== full refresh (plan --refresh all, cold ledger)")
    print(table(runs, shape, budget))
    by_scope = {r.scope: r for r in runs}
    if {"account", "process"} <= by_scope.keys():
        ratio = by_scope["account"].wall / by_scope["process"].wall
        print(f"\n  wall(account) ÷ wall(process): {ratio:.3f}; target ≤ 0.3 "
              f"(ideal 1/{shape.orgs} = {1 / shape.orgs:.3f})")  # fmt: skip
    print(f"  429s seen: {sum(r.client_429 + r.server_429 for r in runs)}; target 0")


if __name__ == "__main__":
    main()
