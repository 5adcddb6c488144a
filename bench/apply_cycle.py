"""Apply and re-plan against the loopback emulator: wall time and API calls per phase.

Run: ``python bench/apply_cycle.py [--tenants 1000] [--rate 700/min] [--operation-ms 500]
[--handoff]``

Two fleets go through the same cycle, each as real ``fleet`` processes talking HTTP to the
emulator on 127.0.0.1 (what a CI job does against Neon): ``fleet.example`` and a generated fleet of
N tenants (quota override on every third, a branch on every fifth, a key on every seventh).
Phases: ``apply`` from nothing (creates, waits for operations, branches, keys) and the ``re-plan``
right after (which must be empty). API calls are counted by the emulator; the emulator enforces
the given rate limits and the client's limiter uses the same budget, so wall ÷ (calls ÷ rate)
shows how close to the budget each phase runs.

``--handoff``: both tiers of the generated fleet also declare a database and its owner role
(Neon's ``neondb``/``neondb_owner`` kept) and two connection secrets (pooled and direct) that
go to the file sink, so the apply also creates roles and databases and delivers 2 N secrets;
each phase then reports its API calls per tenant too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.emulator import Emulator, seed_from_mapping, serve
from reconciler.neon.ratelimit import parse_rate

REPO = Path(__file__).resolve().parent.parent
KEYS = {
    "NEON_FREE_ORG_KEY": "bench-free-key",
    "NEON_PAID_ORG_KEY": "bench-paid-key",
    "NEON_PERSONAL_KEY": "bench-personal-key",
}


def seed(rate_per_minute: int, route_per_second: int, operation_ms: int) -> dict[str, object]:
    return {
        "orgs": [
            {"id": "org-free-1", "name": "Free", "plan": "agent"},
            {"id": "org-paid-1", "name": "Paid", "plan": "agent"},
        ],
        "keys": [
            {
                "token": KEYS["NEON_PERSONAL_KEY"],
                "kind": "personal",
                "orgs": {"org-free-1": "admin", "org-paid-1": "admin"},
            },
            {"token": KEYS["NEON_FREE_ORG_KEY"], "kind": "org", "org": "org-free-1"},
            {"token": KEYS["NEON_PAID_ORG_KEY"], "kind": "org", "org": "org-paid-1"},
        ],
        "limits": {
            "requests_per_minute": rate_per_minute,
            "route_requests_per_second": route_per_second,
        },
        "operation_duration_ms": operation_ms,
    }


#: What ``--handoff`` adds to both tiers.
HANDOFF = """\
  databases: [{name: app, owner: app_owner}, {name: neondb, owner: neondb_owner}]
  roles: [{name: app_owner}, {name: neondb_owner}]
  connection_secrets:
    - {name: app-pooled, role: app_owner, database: app, pooled: true}
    - {name: app-direct, role: app_owner, database: app}
"""


def generated_fleet(root: Path, tenants: int, *, handoff: bool = False) -> Path:
    target = root / "generated"
    target.mkdir()
    shutil.copy(REPO / "fleet.example" / "fleet.yaml", target / "fleet.yaml")
    tiers = (REPO / "fleet.example" / "tiers.yaml").read_text()
    if handoff:
        for limit in ("  max_branches: 5\n", "  max_branches: 20\n"):
            tiers = tiers.replace(limit, limit + HANDOFF)
    (target / "tiers.yaml").write_text(tiers)
    documents = []
    for n in range(tenants):
        lines = [
            "apiVersion: neon-fleet/v1",
            "kind: Tenant",
            f"metadata: {{name: bench-{n:05d}}}",
            "spec:",
            f"  tier: {'pro' if n % 4 == 0 else 'free'}",
        ]
        if n % 3 == 0:
            lines.append("  quota: {compute_time_seconds: 18000}")
        if n % 5 == 0:
            lines.append("  branches: [{name: staging, parent: main}]")
        if n % 7 == 0:
            lines.append("  api_keys: [{name: runtime}]")
        documents.append("\n".join(lines) + "\n")
    (target / "tenants.yaml").write_text("---\n".join(documents))
    return target


def total_calls(url: str) -> int:
    admin = url.removesuffix("/api/v2") + "/_emulator/stats"
    return int(httpx.get(admin, timeout=10).json()["total"])


def run_phase(
    name: str,
    args: list[str],
    cwd: Path,
    env: dict[str, str],
    url: str,
    rate: float,
    expect: int,
    tenants: int = 0,
) -> str:
    before = total_calls(url)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != expect:
        raise SystemExit(
            f"{name}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    calls = total_calls(url) - before
    floor = calls / rate
    ratio = wall / floor if floor else float("nan")
    per_tenant = f" | {calls / tenants:.1f}" if tenants else ""
    return f"| {name} | {calls} | {wall:.1f} s | {floor:.1f} s | {ratio:.2f}{per_tenant} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--rate", default="700/min", help="account rate limit (emulator + client)")
    parser.add_argument("--route-rate", default="40/s")
    parser.add_argument("--operation-ms", type=int, default=500)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--handoff", action="store_true", help="databases, roles and secrets too")
    args = parser.parse_args()
    per_second = parse_rate(args.rate, default_unit="min")
    route_per_second = parse_rate(args.route_rate, default_unit="s")
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        generated = generated_fleet(root, args.tenants, handoff=args.handoff)
        fleets = {
            "fleet.example": REPO / "fleet.example",
            f"generated ({args.tenants} tenants)": generated,
        }
        if args.handoff:  # the generated fleet is the point; skip the example
            del fleets["fleet.example"]
        print(
            f"rate limit {args.rate} (= {per_second:.2f}/s), route {args.route_rate}, "
            f"operations take {args.operation_ms} ms, parallelism {args.parallelism}\n"
        )
        if args.handoff:
            print("| phase | API calls | wall | calls ÷ rate | ratio | calls per tenant |")
            print("|---|---|---|---|---|---|")
        else:
            print("| phase | API calls | wall | calls ÷ rate | ratio |\n|---|---|---|---|---|")
        count = args.tenants if args.handoff else 0
        for label, source in fleets.items():
            work = root / f"work-{len(label)}"
            shutil.copytree(source, work / "fleet", ignore=shutil.ignore_patterns("ci"))
            emulator = Emulator(
                work / "emulator.db",
                seed_from_mapping(
                    seed(round(per_second * 60), round(route_per_second), args.operation_ms)
                ),
            )
            with serve(emulator) as server:
                env = {
                    **os.environ,
                    **KEYS,
                    "NEON_API_HOST": server.url,
                    "NO_COLOR": "1",
                    "NEON_FLEET_RATE_LIMIT": args.rate,
                    "NEON_FLEET_ROUTE_RATE_LIMIT": args.route_rate,
                }
                apply_args = [
                    "apply",
                    "fleet",
                    "--auto-approve",
                    "--parallelism",
                    str(args.parallelism),
                ]
                print(
                    run_phase(
                        f"{label}: apply", apply_args, work, env, server.url, per_second, 0, count
                    )
                )
                print(
                    run_phase(
                        f"{label}: re-plan",
                        ["plan", "fleet", "--detailed-exitcode"],
                        work,
                        env,
                        server.url,
                        per_second,
                        0,
                        count,
                    )
                )
            emulator.close()


if __name__ == "__main__":
    main()
