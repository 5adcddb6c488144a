"""Sharded apply benchmark: ``n`` ``fleet apply --shard i/n`` processes, one org, one ledger.

Run: ``python bench/shard_apply.py [--tenants 120] [--shards 4] [--rate 240/min]``
(docs/scale.md shows the output). Needs a PostgreSQL server: ``--dsn`` or
``FLEET_TEST_POSTGRES_DSN`` (a fresh schema is created for the run and dropped after it).

The emulator is served on loopback with ``--rate`` per account and ``--route-rate`` per route
and account; every runner is told the same budget (``NEON_FLEET_RATE_LIMIT`` /
``NEON_FLEET_ROUTE_RATE_LIMIT``) and shares it through the ledger's ``rate_leases``. The
emulator's account bucket holds a whole minute of budget, so it only refuses a run that
overspends for longer than that: the default fleet takes about 1.5 minutes at 240/min, and four
runners that each spent the whole budget would meet 429s after about 20 seconds. Besides the
emulator's 429 count, the bench samples the emulator's request count and reports the busiest
10- and 60-second windows, the aggregate rate the account actually saw.

It reports: API calls, wall, aggregate calls/min over the run and in the busiest window vs the
budget, 429s, creates sent per tenant (must be exactly one), and the re-plan's exit code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reconciler.emulator import Emulator, seed_from_mapping, serve  # noqa: E402
from reconciler.neon.ratelimit import parse_rate  # noqa: E402
from tests.e2e.conftest import KEYS, e2e_seed  # noqa: E402
from tests.support.pg_schemas import private_schema_url  # noqa: E402
from tests.support.shard_run import (  # noqa: E402
    RequestSampler,
    start_shards,
    write_one_org_fleet,
)

#: The windows the busiest stretch is measured over (seconds).
WINDOWS = (10.0, 60.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=120)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rate", default="240/min", help="per-account budget (emulator, runners)")
    parser.add_argument("--route-rate", default="40/s", help="per-route budget of the account")
    parser.add_argument("--dsn", default=os.environ.get("FLEET_TEST_POSTGRES_DSN", ""))
    args = parser.parse_args()
    if not args.dsn:
        parser.error("a PostgreSQL server is needed: --dsn or FLEET_TEST_POSTGRES_DSN")
    per_minute = parse_rate(args.rate, default_unit="min") * 60
    per_route = parse_rate(args.route_rate, default_unit="s")
    seed = e2e_seed(operation_ms=20, rpm=round(per_minute), per_route=round(per_route))
    with (
        private_schema_url(args.dsn, "fleet_bench") as ledger,
        tempfile.TemporaryDirectory(prefix="shard-apply-") as tmp,
    ):
        work = Path(tmp) / "work"
        names = write_one_org_fleet(work / "fleet", args.tenants)
        emulator = Emulator(Path(tmp) / "emulator.db", seed_from_mapping(seed))
        with serve(emulator) as server:
            env = {
                **KEYS,
                "NEON_API_HOST": server.url,
                "NEON_FLEET_RATE_LIMIT": f"{per_minute:g}/min",
                "NEON_FLEET_ROUTE_RATE_LIMIT": f"{per_route:g}/s",
            }
            apply = ["--ledger", ledger, "apply", "fleet", "--auto-approve"]
            print(
                f"{args.tenants} tenants in one org, {args.shards} shards; emulator and "
                f"runners {per_minute:g}/min and {per_route:g}/s per route",
                flush=True,
            )
            started = time.monotonic()
            with RequestSampler(emulator) as sampler:
                running = start_shards(apply, args.shards, cwd=work, env=env)
                # communicate, not wait: a shard's plan text can fill its pipe.
                codes = {i: (p.communicate(), p.returncode)[1] for i, p in running.items()}
            wall = time.monotonic() - started
            stats = emulator.stats()
            replan_args = ["--ledger", ledger, "plan", "fleet", "--detailed-exitcode"]
            replan = subprocess.run(
                [sys.executable, "-m", "reconciler", *replan_args],
                cwd=work,
                env={**os.environ, **env},
                capture_output=True,
                check=False,
            ).returncode
            projects = _project_names(server.url)
        emulator.close()
    creates = stats.requests.get(("POST", "/projects"), 0)
    busiest = "; ".join(
        f"{window:g} s: {sampler.most_in_window(window) / window * 60:,.0f}" for window in WINDOWS
    )
    print(f"""
| {args.shards} × fleet apply --shard i/{args.shards}, {args.tenants} tenants, one org | |
|---|---|
| exit codes | {' '.join(str(codes[i]) for i in sorted(codes))} |
| API calls | {stats.total} |
| wall s | {wall:.1f} |
| aggregate calls/min over the run | {stats.total / wall * 60:,.0f} (budget {per_minute:g}) |
| busiest window, calls/min | {busiest} |
| 429s at the emulator | {stats.rate_limited} |
| create requests per tenant | {creates / args.tenants:.2f} ({creates} for {args.tenants}) |
| projects with a tenant's name, each once | {projects == Counter(f"t-{n}" for n in names)} |
| re-plan exit code (0: no changes) | {replan} |""")  # fmt: skip


def _project_names(url: str) -> Counter[str]:
    headers = {"Authorization": f"Bearer {KEYS['NEON_FREE_ORG_KEY']}"}
    names: Counter[str] = Counter()
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        cursor = None
        while True:
            params: dict[str, str | int] = {"org_id": "org-free-1", "limit": 400}
            if cursor:
                params["cursor"] = cursor
            body = client.get("/projects", params=params).json()
            names.update(p["name"] for p in body["projects"])
            cursor = body.get("pagination", {}).get("cursor")
            if not body["projects"] or not cursor:
                return names


if __name__ == "__main__":
    main()
