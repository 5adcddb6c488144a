"""Scale benchmark of apply's freshness checks at 40,000 projects: ``check_fresh`` and the vouch.

Run: ``python bench/fresh_scale.py [--sizes 40000]``. For N generated tenants (the mix of
``plan_scale.live_for``: 95 % live, of which 5 % changed tier; half keep a runtime key, so
about N/2 project-scoped keys are observed) the live fleet is planned with an empty ledger, so
every live tenant is adopted by name and every tenant has a step. Then, timed separately:

* ``check_fresh``: what ``fleet apply PATH`` runs on its re-observed state, with bindings by
  name (``project_id`` unknown: the adopt case, which looks each name up among the live
  projects) and every org's keys observed (each tenant's keys looked up);
* ``vouch``: what ``fleet apply PLANFILE`` runs after re-planning (``plan_trust.vouch``):
  ``stale_tenants`` and ``unvouched_steps`` of the saved plan against the re-plan, and
  ``plan_digest`` of the saved plan (the run's recorded digest).

CPU time is ``time.process_time``. Each timed phase starts from a collected heap
(``gc.collect()`` first): otherwise whichever phase happens to trip a full collection of the
two plans built before it pays for walking them (about 1 s here), which measures the bench's
history, not the check. Target: each ≤ 1 s at 40,000 projects (docs/scale.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_scale import NOW, desired_in_memory, live_for

from reconciler.apply.applier import check_fresh
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.core.model import LedgerView
from reconciler.core.options import PlanOptions
from reconciler.core.plan_codec import plan_digest
from reconciler.core.plan_vouch import stale_tenants, unvouched_steps
from reconciler.core.planner import build_plan


def measure(count: int) -> dict[str, Any]:
    """Plan ``count`` tenants (untimed), then time check_fresh and the vouch comparisons."""
    desired = desired_in_memory(count)
    live, _ = live_for(desired)
    options = PlanOptions(now=NOW, tool_version="bench")
    saved = build_plan(desired, live, LedgerView(), options)
    replan = build_plan(desired, live, LedgerView(), options)
    bindings = {
        t.name: TenantBinding(t.name, t.project_name, t.org_id) for t in desired.tenants.values()
    }
    # check_fresh reads only the bindings; client, keys, ledger and sink are not touched.
    ctx = ApplyContext(
        client=cast(Any, None),
        credentials=cast(Any, None),
        ledger=cast(Any, None),
        sink=None,
        bindings=bindings,
        now=cast(Any, None),
    )
    managed = frozenset(t.org_id for t in desired.tenants.values())
    gc.collect()
    start = time.process_time()
    check_fresh(saved, ctx, live, managed)  # raises StalePlanError if the bench is wrong
    fresh_s = time.process_time() - start
    gc.collect()
    start = time.process_time()
    stale = stale_tenants(saved, replan)
    mismatches = unvouched_steps(saved, replan)
    digest = plan_digest(saved)
    vouch_s = time.process_time() - start
    if stale or mismatches or not digest:
        raise SystemExit(f"bench plans disagree: {stale[:3]} {mismatches[:3]}")
    keys = sum(len(k) for k in live.api_keys.values())
    return {
        "tenants": count,
        "live_projects": len(live.projects),
        "live_keys": keys,
        "steps": len(saved.steps),
        "check_fresh_cpu_s": round(fresh_s, 3),
        "vouch_cpu_s": round(vouch_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="42106", help="42,106 tenants: 40,000 live projects")
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        print(json.dumps(measure(size)), flush=True)


if __name__ == "__main__":
    main()
