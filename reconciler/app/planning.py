"""Use cases ``validate`` and ``plan`` (the plan file on disk: ``reconciler.app.plan_file``).

A saved plan records, in its ``ApplyContract`` (the file's ``meta``), the manifests path it was
made from (``manifests``), the Fleet settings it was made with (org ids and the *names* of the
key variables, never keys, and never the ledger URL), the tenant bindings and the details that
were observed for the planned tenants. ``fleet apply PLANFILE`` acts on none of these: it loads
the manifests again, re-observes and re-plans (``reconciler.app.plan_trust``), and uses the
contract only to find the manifests and to cross-check. Details of tenants without steps are
not read again at apply: apply neither checks nor touches those tenants, so re-reading their
computes would only spend the rate budget.

Plans refresh incrementally on request (``refresh="changed"``, ``fleet plan``'s default): only
tenants ``observe.tenants_to_refresh`` names get their details read; the rest are compared on the
list pages alone. ``meta.refresh_mode`` records the mode and ``meta.refreshed_tenants`` /
``meta.list_only_tenants`` the split. A planned tenant that was compared on the list pages
alone has no details in ``meta.observed`` either, so apply re-reads it the same way and its
fingerprint stays comparable.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.app.environment import Environment

# The plan file on disk lives in its own module; these names stay importable from here.
from reconciler.app.plan_file import is_plan_file as is_plan_file
from reconciler.app.plan_file import load_plan_file as load_plan_file
from reconciler.app.plan_file import save_plan as save_plan
from reconciler.app.transfer_key import check_transfer_key
from reconciler.core.matching import match_tenants
from reconciler.core.model import (
    DesiredFleet,
    FleetConfig,
    LedgerView,
    LiveFleet,
)
from reconciler.core.options import PlanOptions
from reconciler.core.plan import ApplyContract, Plan, PlannedBinding
from reconciler.core.plan_contract import RefreshMode
from reconciler.core.plan_vouch import touched_tenants
from reconciler.core.planner import build_plan
from reconciler.core.sharding import Shard
from reconciler.errors import UsageError
from reconciler.manifests import load_fleet
from reconciler.observe import DetailNeeds, needs_for, observe, tenants_to_refresh


@dataclass(frozen=True)
class PlanResult:
    """A plan and what it was made from."""

    plan: Plan
    desired: DesiredFleet
    live: LiveFleet
    api_calls: int


def validate(path: str | Path) -> DesiredFleet:
    """Load and check manifests; raises ``ManifestError`` listing every problem."""
    return load_fleet(path)


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_plan(
    env: Environment,
    desired: DesiredFleet,
    *,
    targets: Sequence[str] = (),
    refresh: RefreshMode = "all",
    manifests: str | Path | None = None,
    shard: Shard | None = None,
) -> PlanResult:
    """Observe the fleet, read the ledger and build the plan (no writes anywhere).

    ``refresh="changed"`` reads details only for tenants that changed (see the module
    docstring); ``"all"`` reads them for every tenant. With ``targets`` only those tenants'
    details are read either way. ``manifests`` is the path the manifests were loaded from, as
    the user gave it: the plan records it (``meta.manifests``) so ``fleet apply PLANFILE`` can
    load the same manifests again. ``shard`` (``--shard i/n``) plans that shard's tenants only,
    declared or recorded (``shard_targets``), and records it in ``meta.shard``.
    """
    client = env.client()
    view = env.ledger().view()
    if shard is not None and not shard.whole:
        targets = shard_targets(desired, view, shard)
        if not targets:
            empty = empty_shard_plan(desired, shard, refresh, manifests)
            return PlanResult(empty, desired, LiveFleet({}), 0)
    unknown = sorted(set(targets) - set(desired.tenants) - set(view.tenants))
    if unknown:
        raise UsageError(f"--tenant names no declared or recorded tenant: {', '.join(unknown)}")
    before = client.stats.snapshot().total_requests
    observation = observe_for_plan(env, desired, view, targets=targets, refresh=refresh)
    plan = plan_from_observation(
        env,
        desired,
        view,
        observation,
        now=utc_now_text(),
        targets=targets,
        refresh=refresh,
        manifests=manifests,
        shard=shard,
    )
    calls = client.stats.snapshot().total_requests - before
    return PlanResult(plan, desired, observation.live, calls)


def shard_targets(desired: DesiredFleet, view: LedgerView, shard: Shard) -> tuple[str, ...]:
    """The tenants ``shard`` plans: declared ones and ones only the ledger still records."""
    return shard.select(set(desired.tenants) | set(view.tenants))


def empty_shard_plan(
    desired: DesiredFleet, shard: Shard, refresh: RefreshMode, manifests: str | Path | None
) -> Plan:
    """The plan of a shard that holds no tenant: nothing to read, nothing to do."""
    return Plan(
        tool_version=__version__,
        manifest_digest=desired.digest,
        fingerprints={},
        steps=(),
        created_at=utc_now_text(),
        contract=ApplyContract(
            manifests=None if manifests is None else str(manifests),
            shard=shard.describe(),
            fleet=fleet_meta(desired.fleet),
            observed={},
            tenants={},
            refresh_mode=refresh,
        ),
    )


@dataclass(frozen=True)
class Observation:
    """Live state as a plan read it: what details were read, and for which tenants in full."""

    live: LiveFleet
    needs: DetailNeeds
    #: Tenants whose details were read (``None``: every tenant, a full refresh).
    refreshed: frozenset[str] | None


def observe_for_plan(
    env: Environment,
    desired: DesiredFleet,
    view: LedgerView,
    *,
    targets: Sequence[str],
    refresh: RefreshMode,
    only_for: Collection[str] | None = None,
) -> Observation:
    """Read the list pages, then the details the planner needs for the chosen tenants.

    ``only_for`` (apply of a saved plan) restricts the per-project details to the projects of
    those tenants, exactly as ``meta.observed`` records them, so the saved plan's fingerprints
    stay comparable without re-reading tenants the plan does not touch.
    """
    client, credentials = env.client(), env.credentials()
    org_ids = [org.id for org in desired.fleet.orgs.values()]
    scope: dict[str, frozenset[str] | None] = {}

    def needs(listed: LiveFleet) -> DetailNeeds:
        chosen = tenants_to_refresh(desired, view, listed) if refresh == "changed" else None
        if targets:
            chosen = frozenset(targets) if chosen is None else chosen & frozenset(targets)
        scope["tenants"] = chosen
        wanted = needs_for(desired, view, listed, only=chosen)
        if only_for is not None:
            wanted = wanted.restricted_to(_bound_projects(desired, listed, view, only_for))
        return wanted

    live, observed = observe(
        client, credentials, org_ids, needs, parallelism=desired.fleet.policy.parallelism
    )
    return Observation(live, observed, scope.get("tenants"))


def plan_from_observation(
    env: Environment,
    desired: DesiredFleet,
    view: LedgerView,
    observation: Observation,
    *,
    now: str,
    targets: Sequence[str],
    refresh: RefreshMode,
    manifests: str | Path | None,
    shard: Shard | None = None,
) -> Plan:
    """The pure planner on ``observation``, with everything apply needs in its contract."""
    live = observation.live
    transfer_key = check_transfer_key(env.client(), env.credentials(), desired, live, view)
    options = PlanOptions(
        now=now,
        tool_version=__version__,
        targets=tuple(targets),
        transfer_key_available=transfer_key.available,
        transfer_key_problem=transfer_key.problem,
    )
    plan = build_plan(desired, live, view, options)
    refreshed = observation.refreshed
    plan_bindings = bindings(desired, live, view, plan)
    contract = replace(
        plan.contract,
        manifests=None if manifests is None else str(manifests),
        fleet=fleet_meta(desired.fleet),
        observed=observation.needs.restricted_to(bound_projects(plan_bindings)).to_dict(),
        tenants=plan_bindings,
        shard=shard.describe() if shard is not None and not shard.whole else None,
        converged=converged_digests(desired, view, plan, refreshed, targets),
        prevent_destroy={
            name: tenant.lifecycle.prevent_destroy
            for name, tenant in desired.tenants.items()
            if (record := view.tenants.get(name)) is not None
            and record.prevent_destroy != tenant.lifecycle.prevent_destroy
        },
        **refresh_counts(desired, refresh, refreshed),
    )
    warnings = quiet_list_only_warnings(plan.warnings, desired, refreshed)
    return replace(plan, contract=contract, warnings=warnings)


def converged_digests(
    desired: DesiredFleet,
    view: LedgerView,
    plan: Plan,
    refreshed: Collection[str] | None,
    targets: Sequence[str],
) -> dict[str, str]:
    """Owned tenants read in full that need nothing although their manifests changed.

    Apply records their new manifest digest, so the next incremental plan trusts the list
    pages for them instead of reading their details again and again.
    """
    busy = touched_tenants(plan) | {b.tenant for b in plan.blockers}
    converged: dict[str, str] = {}
    for name, tenant in desired.tenants.items():
        record = view.tenants.get(name)
        if record is None or record.manifest_digest == tenant.digest or name in busy:
            continue
        if (refreshed is not None and name not in refreshed) or (targets and name not in targets):
            continue
        converged[name] = tenant.digest
    return converged


def refresh_counts(
    desired: DesiredFleet, mode: RefreshMode, refreshed: Collection[str] | None
) -> dict[str, Any]:
    """How the plan refreshed: the mode, and how many tenants were read in full."""
    declared = len(desired.tenants)
    full = declared if refreshed is None else sum(1 for t in refreshed if t in desired.tenants)
    return {
        "refresh_mode": mode,
        "refreshed_tenants": full,
        "list_only_tenants": declared - full,
    }


#: The planner's per-tenant notes about details that were not read. For a tenant deliberately
#: left to the list pages they are expected, so they are dropped instead of repeated per tenant.
_NOT_OBSERVED = (
    ": endpoints were not observed;",
    ": branches were not observed;",
    ": databases and roles were not observed;",
)


def quiet_list_only_warnings(
    warnings: Sequence[str], desired: DesiredFleet, refreshed: Collection[str] | None
) -> tuple[str, ...]:
    """``warnings`` without the "not observed" notes of tenants skipped on purpose."""
    if refreshed is None:
        return tuple(warnings)
    read = frozenset(refreshed)

    def expected(warning: str) -> bool:
        tenant, sep, rest = warning.partition(": ")
        return (
            bool(sep)
            and tenant in desired.tenants
            and tenant not in read
            and any(f": {rest}".startswith(marker) for marker in _NOT_OBSERVED)
        )

    return tuple(w for w in warnings if not expected(w))


def bindings(
    desired: DesiredFleet, live: LiveFleet, view: LedgerView, plan: Plan
) -> dict[str, PlannedBinding]:
    """Every touched tenant's project as planned: what apply starts its bindings from."""
    planned = sorted(touched_tenants(plan))
    tenants: dict[str, PlannedBinding] = {}
    for name, match in match_tenants(desired, live, view, planned).items():
        tenant = desired.tenants.get(name)
        record = view.tenants.get(name)
        project = match.project
        tenants[name] = PlannedBinding(
            project_name=tenant.project_name if tenant else (project.name if project else ""),
            org_id=(project.org_id if project else tenant.org_id if tenant else "")
            or (record.org_id if record else ""),
            project_id=project.id if project else None,
            prevent_destroy=(
                tenant.lifecycle.prevent_destroy
                if tenant
                else bool(record and record.prevent_destroy)
            ),
            digest=tenant.digest if tenant else "",
        )
    return tenants


def bound_projects(planned: Mapping[str, PlannedBinding]) -> set[str]:
    """The project ids of planned bindings (whose details ``contract.observed`` records)."""
    return {b.project_id for b in planned.values() if b.project_id}


def _bound_projects(
    desired: DesiredFleet, live: LiveFleet, view: LedgerView, tenants: Collection[str]
) -> set[str]:
    matches = match_tenants(desired, live, view, sorted(tenants)).values()
    return {match.project.id for match in matches if match.project is not None}


def fleet_meta(fleet: FleetConfig) -> dict[str, Any]:
    return {
        "name": fleet.name,
        "orgs": {
            alias: {"id": org.id, "api_key_env": org.api_key_env}
            for alias, org in sorted(fleet.orgs.items())
        },
        "personal_api_key_env": fleet.personal_api_key_env,
        "secrets": (
            {
                "kind": fleet.secrets.kind,
                "target": fleet.secrets.target,
                "env": list(fleet.secrets.env),
            }
            if fleet.secrets
            else None
        ),
        "parallelism": fleet.policy.parallelism,
        "region": fleet.region,
        "pg_version": fleet.pg_version,
    }
