"""Scale benchmark of the planner: validate + plan 1,000 / 10,000 / 50,000 generated tenants.

Run: ``python bench/plan_scale.py [--sizes 1000,10000,50000]``. Each (size, mode) runs in its
own subprocess so peak memory is not shared between measurements. Modes:

* ``plan``: ``build_plan`` on a ``DesiredFleet`` built directly in memory (no YAML);
* ``validate+plan``: YAML manifests are written to a temp dir, then ``load_fleet`` (parse,
  JSON-Schema validation, resolution) and ``build_plan`` are timed separately;
* ``cli``: exactly ``fleet --sandbox plan DIR -o plan.json`` of N *new* tenants (an empty
  sandbox) in a child process: its CPU seconds (user + system) and peak RSS are the figures
  that the targets in docs/scale.md are about (≤ 3 s / 150 MB at 10,000; ≤ 30 s / 800 MB at
  100,000). ``--profile FILE`` runs the child under cProfile and writes its stats there.

The live state is generated from the desired fleet (not timed): 85 % of tenants match exactly
(owned, with their branches, endpoints and keys), 5 % have drifted quotas and compute, 5 % have
changed tier (so they need a transfer, quota patch and key re-issue) and 5 % are new. CPU time
is ``time.process_time``; memory is the process's peak RSS and its growth over the timed phase.
Target: 10,000 tenants planned in under 3 s CPU and 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.core.catalog import DEFAULT_BRANCH
from reconciler.core.model import (
    QUOTA_KEYS,
    ApiKeySpec,
    BranchSpec,
    DesiredFleet,
    DesiredTenant,
    FleetConfig,
    LedgerView,
    LiveApiKey,
    LiveBranch,
    LiveEndpoint,
    LiveFleet,
    LiveProject,
    OrgRef,
    OwnedKey,
    OwnedTenant,
    Sourced,
    TierSpec,
)
from reconciler.core.naming import api_key_name
from reconciler.core.options import PlanOptions
from reconciler.core.planner import build_plan

NOW = "2026-11-26T12:00:00Z"
ORGS = {"free": "org-free-1", "paid": "org-paid-1"}
TIERS: dict[str, dict[str, Any]] = {
    "free": {
        "org": "free",
        "quota": {"compute_time_seconds": 9000, "logical_size_bytes": 536870912},
        "compute": {"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 1},
        "max_branches": 10,
    },
    "pro": {
        "org": "paid",
        "quota": {"compute_time_seconds": 360000, "logical_size_bytes": 10737418240},
        "compute": {"autoscaling_limit_min_cu": 0.5, "autoscaling_limit_max_cu": 4},
        "max_branches": 100,
    },
}


def tenant_spec(i: int) -> dict[str, Any]:
    """The manifest ``spec`` of generated tenant ``i`` (a deterministic variety)."""
    spec: dict[str, Any] = {"tier": "pro" if i % 4 == 0 else "free"}
    if i % 3 == 0:
        spec["quota"] = {"compute_time_seconds": 18000 + i % 7 * 100}
    if i % 5 == 0:
        spec["branches"] = [{"name": "staging", "parent": "main"}]
    if i % 2 == 0:
        spec["api_keys"] = [{"name": "runtime"}]
    return spec


# --------------------------------------------------------------------------- desired, in memory


def desired_in_memory(count: int) -> DesiredFleet:
    """The fleet the YAML manifests describe, built without the loader."""
    orgs = {alias: OrgRef(alias, oid, f"NEON_{alias.upper()}_KEY") for alias, oid in ORGS.items()}
    tiers = {
        name: TierSpec(name, t["org"], t["quota"], t["compute"], t["max_branches"])
        for name, t in TIERS.items()
    }
    tenants: dict[str, DesiredTenant] = {}
    for i in range(count):
        name = f"cust-{i:05d}"
        spec = tenant_spec(i)
        tier = TIERS[spec["tier"]]
        quota = {k: Sourced(v, f"tier {spec['tier']}") for k, v in tier["quota"].items()}
        quota.update({k: Sourced(v, f"tenant {name}") for k, v in spec.get("quota", {}).items()})
        tenants[name] = DesiredTenant(
            name=name,
            tier=spec["tier"],
            org_alias=tier["org"],
            org_id=ORGS[tier["org"]],
            project_name=f"t-{name}",
            region=Sourced("aws-us-east-2", "fleet defaults"),
            pg_version=Sourced(17, "fleet defaults"),
            quota=quota,
            compute={k: Sourced(v, f"tier {spec['tier']}") for k, v in tier["compute"].items()},
            branches=tuple(BranchSpec(b["name"], b["parent"]) for b in spec.get("branches", [])),
            api_keys=tuple(ApiKeySpec(k["name"]) for k in spec.get("api_keys", [])),
            max_branches=tier["max_branches"],
        )
    fleet = FleetConfig("bench", orgs, "NEON_PERSONAL_KEY", "aws-us-east-2", 17, "t-{tenant}")
    return DesiredFleet(fleet, tiers, tenants, digest="bench")


# --------------------------------------------------------------------------- YAML manifests


def write_manifests(root: Path, count: int, per_file: int = 500) -> None:
    """Fleet, tiers and ``count`` tenants as YAML (``per_file`` documents per tenant file)."""
    org_lines = "\n".join(
        f"    {a}: {{id: {o}, api_key_env: NEON_{a.upper()}_KEY}}" for a, o in ORGS.items()
    )
    (root / "fleet.yaml").write_text(
        "apiVersion: neon-fleet/v1\nkind: Fleet\nmetadata:\n  name: bench\nspec:\n"
        f"  orgs:\n{org_lines}\n  personal_api_key_env: NEON_PERSONAL_KEY\n"
        "  defaults: {region: aws-us-east-2, pg_version: 17}\n"
        '  project_name: "t-{tenant}"\n  policy: {prune: false, max_deletes: 0}\n'
    )
    tiers = [
        "apiVersion: neon-fleet/v1\nkind: Tier\nmetadata:\n"
        f"  name: {name}\nspec:\n  org: {t['org']}\n"
        f"  quota: {json.dumps(t['quota'])}\n  compute: {json.dumps(t['compute'])}\n"
        f"  max_branches: {t['max_branches']}\n"
        for name, t in TIERS.items()
    ]
    (root / "tiers.yaml").write_text("---\n".join(tiers))
    tenants_dir = root / "tenants"
    tenants_dir.mkdir()
    for start in range(0, count, per_file):
        docs = [
            "apiVersion: neon-fleet/v1\nkind: Tenant\nmetadata:\n"
            f"  name: cust-{i:05d}\nspec: {json.dumps(tenant_spec(i))}\n"
            for i in range(start, min(start + per_file, count))
        ]
        (tenants_dir / f"tenants-{start:06d}.yaml").write_text("---\n".join(docs))


# --------------------------------------------------------------------------- live state


def live_for(desired: DesiredFleet) -> tuple[LiveFleet, LedgerView]:
    """Generated live state and ledger for ``desired`` (see the module docstring for the mix)."""
    projects: dict[str, LiveProject] = {}
    keys: dict[str, list[LiveApiKey]] = {oid: [] for oid in ORGS.values()}
    records: dict[str, OwnedTenant] = {}
    for index, t in enumerate(desired.tenants.values()):
        bucket = index % 20
        if bucket == 19:
            continue  # new tenant
        pid = f"prj-{t.name}"
        org = t.org_id
        quota = {k: 0 for k in QUOTA_KEYS}
        quota.update({k: v.value for k, v in t.quota.items()})
        compute = {k: v.value for k, v in t.compute.items()}
        if bucket == 17:  # drifted
            quota["compute_time_seconds"] += 1
            compute = {**compute, "autoscaling_limit_max_cu": 2}
        if bucket == 18:  # changed tier: lives in the other org
            org = ORGS["free"] if org == ORGS["paid"] else ORGS["paid"]
        main = LiveBranch(f"br-{pid}", DEFAULT_BRANCH, None, False, True, "2026-01-01T00:00:00Z")
        branches = [main] + [
            LiveBranch(f"br-{pid}-{b.name}", b.name, main.id, False, False, "2026-01-02T00:00:00Z")
            for b in t.branches
        ]
        endpoint = LiveEndpoint(
            f"ep-{pid}",
            main.id,
            "read_write",
            float(compute["autoscaling_limit_min_cu"]),
            float(compute["autoscaling_limit_max_cu"]),
            300,
        )
        projects[pid] = LiveProject(
            id=pid,
            name=t.project_name,
            org_id=org,
            region_id="aws-us-east-2",
            pg_version=17,
            created_at="2026-01-01T00:00:00Z",
            quota=quota,
            default_endpoint_settings=compute,
            history_retention_seconds=86400,
            branches=tuple(branches),
            endpoints=(endpoint,),
        )
        owned: dict[str, OwnedKey] = {}
        for n, spec in enumerate(t.api_keys):
            key = LiveApiKey(index * 10 + n, api_key_name(t.project_name, spec.name), org, pid)
            keys[org].append(key)
            owned[key.name] = OwnedKey(key.name, key.id, org, pid)
        records[t.name] = OwnedTenant(t.name, pid, org, keys=owned)
    live = LiveFleet(
        projects=projects,
        api_keys={o: tuple(k) for o, k in keys.items()},
        observed_orgs=frozenset(ORGS.values()),
    )
    return live, LedgerView(tenants=records)


# --------------------------------------------------------------------------- measurement


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_cli(count: int, profile: str | None) -> dict[str, Any]:
    """``fleet --sandbox plan DIR -o plan.json`` of ``count`` new tenants in a child process."""
    result: dict[str, Any] = {"tenants": count, "mode": "cli"}
    with tempfile.TemporaryDirectory() as tmp:
        manifests = Path(tmp) / "fleet"
        manifests.mkdir()
        write_manifests(manifests, count)
        prefix = [sys.executable]
        if profile:
            prefix += ["-m", "cProfile", "-o", profile]
        command = [*prefix, "-m", "reconciler", "--sandbox", "plan", str(manifests)]
        command += ["-o", "plan.json"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in (0, 2):
            raise SystemExit(f"fleet plan failed ({done.returncode}): {done.stderr[-2000:]}")
        result["cpu_s"] = round(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2
        )
        # RUSAGE_CHILDREN's maxrss is the largest of the waited-for children: the only one here.
        result["peak_rss_mb"] = round(after.ru_maxrss / 1024, 1)
        result["plan_json_mb"] = round((Path(tmp) / "plan.json").stat().st_size / 2**20, 1)
        result["text_lines"] = done.stdout.count("\n")
    return result


def measure_one(count: int, mode: str, profile: str | None = None) -> dict[str, Any]:
    """One measurement in this process (called in a fresh subprocess)."""
    if mode == "cli":
        return measure_cli(count, profile)
    options = PlanOptions(now=NOW, tool_version="bench")
    result: dict[str, Any] = {"tenants": count, "mode": mode}
    with tempfile.TemporaryDirectory() as tmp:
        if mode == "plan":
            desired = desired_in_memory(count)
        else:
            from reconciler.manifests import load_fleet

            write_manifests(Path(tmp), count)
            rss_before = rss_mb()
            start = time.process_time()
            desired = load_fleet(tmp)
            result["validate_cpu_s"] = round(time.process_time() - start, 3)
            result["validate_rss_growth_mb"] = round(peak_mb() - rss_before, 1)
        live, ledger = live_for(desired)
        rss_before = rss_mb()
        start = time.process_time()
        plan = build_plan(desired, live, ledger, options)
        result["plan_cpu_s"] = round(time.process_time() - start, 3)
        result["plan_rss_growth_mb"] = round(peak_mb() - rss_before, 1)
    result["peak_rss_mb"] = round(peak_mb(), 1)
    result["steps"] = len(plan.steps)
    result["blockers"] = len(plan.blockers)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--modes", default="plan,validate+plan")
    parser.add_argument("--profile", help="cli mode: write the child's cProfile stats here")
    parser.add_argument("--one", nargs=2, metavar=("COUNT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(int(args.one[0]), args.one[1], args.profile)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for mode in args.modes.split(","):
            extra = ["--profile", args.profile] if args.profile else []
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(size), mode, *extra],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    print()
    print(f"{'tenants':>8} {'mode':<14} {'validate s':>10} {'plan s':>7} {'peak RSS MB':>11} steps")
    for r in rows:
        validate = r.get("validate_cpu_s", "-")
        # The cli row's one CPU figure covers the whole command (parse, plan, render, save).
        plan_s = r.get("plan_cpu_s", r.get("cpu_s", "-"))
        print(
            f"{r['tenants']:>8} {r['mode']:<14} {validate!s:>10} {plan_s!s:>7} "
            f"{r['peak_rss_mb']:>11} {r.get('steps', '-')}"
        )


if __name__ == "__main__":
    main()
