"""Apply a saved plan only as far as the manifests vouch for it.

A plan file is an artifact that travelled (CI artifact store, a laptop); its seal catches
accidental edits but anyone can re-seal it. So ``fleet apply PLANFILE`` trusts the plan for
nothing it acts on:

1. ``manifests_for`` loads the manifests the plan names (``meta.manifests``, as given when the
   plan was made, relative to the working directory; or ``-f/--manifests``), refuses them when
   their digest differs from the plan's ``manifest_digest`` and when the plan's recorded Fleet
   settings (``meta.fleet``) differ from theirs. Keys, sinks, ledger and policy come from the
   manifests only.
2. ``vouch`` (inside the apply session: lock held, recovery done) re-observes the tenants the
   plan touches with the details a plan reads, re-plans with the pure planner using the saved
   plan's ``created_at`` as ``now`` and its targets and refresh mode, refuses the plan as stale
   (exit 3) when a touched tenant's fingerprint moved, and as unvouched (exit 1) when any saved
   step is not exactly a step of the re-plan (``reconciler.core.plan_vouch``). What runs is the
   re-plan's copy of each saved step, with the re-plan's bindings (project ids, orgs), converged
   digests and ``prevent_destroy`` values, never the file's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.app.environment import Environment
from reconciler.app.planning import (
    fleet_meta,
    observe_for_plan,
    plan_from_observation,
    shard_targets,
)
from reconciler.core.model import DesiredFleet, LiveFleet
from reconciler.core.plan import Plan
from reconciler.core.plan_codec import plan_digest
from reconciler.core.plan_vouch import stale_tenants, touched_tenants, unvouched_steps
from reconciler.core.sharding import Shard
from reconciler.errors import StalePlanError, UnvouchedPlanError, UsageError
from reconciler.manifests import load_fleet

#: How many offending steps the refusal names (the rest are counted).
_NAMED = 5


@dataclass(frozen=True)
class VouchedPlan:
    """The steps to run, the live state they were checked against, and the saved plan's seal."""

    plan: Plan
    live: LiveFleet
    digest: str


def manifests_for(saved: Plan, override: Path | None) -> DesiredFleet:
    """The manifests ``saved`` was made from, refused when they changed since."""
    recorded = saved.contract.manifests
    source = override if override is not None else recorded
    if not source:
        raise UsageError(
            "the plan file does not say which manifests it was made from: pass -f/--manifests PATH"
        )
    where = Path(source)
    if not where.exists():
        raise UsageError(
            f"the manifests the plan was made from are not at {where}: run fleet apply from the "
            "directory fleet plan ran in, or pass -f/--manifests PATH"
        )
    desired = load_fleet(where)
    if desired.digest != saved.manifest_digest:
        raise UnvouchedPlanError(
            f"the manifests changed since the plan was made ({where} has another digest than "
            "the plan's manifest_digest); plan again"
        )
    recorded_fleet = saved.contract.fleet
    if recorded_fleet is not None and recorded_fleet != _json_shape(fleet_meta(desired.fleet)):
        raise UnvouchedPlanError(
            f"the plan's Fleet settings (meta.fleet) differ from {where}'s (orgs, key "
            "variables, secrets sink or ledger); the plan file was edited: plan again"
        )
    return desired


def saved_shard(saved: Plan) -> Shard | None:
    """The shard a saved plan was made for (``meta.shard``), or None for a whole-fleet plan."""
    recorded = saved.contract.shard
    if recorded is None:
        return None
    try:
        shard = Shard.parse(str(recorded))
    except UsageError as exc:
        raise UnvouchedPlanError(f"plan file: meta.shard: {exc}") from exc
    return None if shard.whole else shard


def vouch(env: Environment, desired: DesiredFleet, saved: Plan) -> VouchedPlan:
    """Re-plan from the manifests and live state; the saved steps the re-plan vouches for.

    A shard's plan (``meta.shard``) must name exactly the tenants the manifests and the ledger
    put in that shard now: its steps run under that shard's lock only, so a tenant of another
    shard in it could be applied by two runners at once.
    """
    refresh = saved.contract.refresh_mode or "all"
    view = env.ledger().view()
    shard = saved_shard(saved)
    if shard is not None:
        if tuple(saved.targets) != shard_targets(desired, view, shard):
            raise UnvouchedPlanError(
                f"the plan's tenants are not those of shard {shard.describe()} now (tenants were "
                "added or removed since, or the plan file was edited); plan again"
            )
        if not saved.targets:
            return VouchedPlan(saved, LiveFleet({}), saved.seal or plan_digest(saved))
    observation = observe_for_plan(
        env,
        desired,
        view,
        targets=saved.targets,
        refresh=refresh,
        only_for=touched_tenants(saved),
    )
    replan = plan_from_observation(
        env,
        desired,
        view,
        observation,
        now=saved.created_at,
        targets=saved.targets,
        refresh=refresh,
        manifests=saved.contract.manifests,
        shard=shard,
    )
    stale = stale_tenants(saved, replan)
    if stale:
        raise StalePlanError(stale)
    mismatches = unvouched_steps(saved, replan)
    if mismatches:
        named = "; ".join(f"{m.step_id}: {m.why}" for m in mismatches[:_NAMED])
        more = f" (and {len(mismatches) - _NAMED} more)" if len(mismatches) > _NAMED else ""
        raise UnvouchedPlanError(
            f"the plan asks for what the manifests would not plan, nothing was changed: "
            f"{named}{more}; plan again"
        )
    fresh = {step.id: step for step in replan.steps}
    blockers = {(b.tenant, b.message): b for b in (*saved.blockers, *replan.blockers)}
    vouched = replace(
        saved,
        steps=tuple(fresh[step.id] for step in saved.steps),
        blockers=tuple(sorted(blockers.values(), key=lambda b: (b.tenant, b.message))),
        contract=replan.contract,
    )
    # The seal was verified when the file was read: no second pass over every step.
    return VouchedPlan(vouched, observation.live, saved.seal or plan_digest(saved))


def _json_shape(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))
