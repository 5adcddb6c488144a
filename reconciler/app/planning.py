"""Use cases ``validate`` and ``plan``, and the plan file on disk.

A saved plan is self-contained: besides the steps it carries, in ``meta``, the Fleet settings
apply needs (org ids and the *names* of the key variables, never keys), the tenant bindings and
the details that were observed for the planned tenants, so ``fleet apply PLANFILE`` can
re-observe the same things and compare fingerprints without reading the manifests again.
Details of tenants without steps are left out of ``meta.observed``: apply neither checks nor
touches those tenants, so re-reading their computes would only spend the rate budget.

Plans refresh incrementally on request (``refresh="changed"``, ``fleet plan``'s default): only
tenants ``observe.tenants_to_refresh`` names get their details read; the rest are compared on the
list pages alone. ``meta.refresh_mode`` records the mode and ``meta.refreshed_tenants`` /
``meta.list_only_tenants`` the split. A planned tenant that was compared on the list pages
alone has no details in ``meta.observed`` either, so apply re-reads it the same way and its
fingerprint stays comparable.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.app.environment import Environment
from reconciler.app.transfer_key import check_transfer_key
from reconciler.apply.context import TenantBinding
from reconciler.core.matching import match_tenants
from reconciler.core.model import (
    DesiredFleet,
    FleetConfig,
    LedgerView,
    LiveFleet,
    OrgRef,
    Policy,
    SecretSink,
)
from reconciler.core.options import PlanOptions
from reconciler.core.plan import Plan
from reconciler.core.plan_codec import plan_from_dict
from reconciler.core.planner import build_plan
from reconciler.errors import PlanFileError, UsageError
from reconciler.manifests import load_fleet
from reconciler.observe import DetailNeeds, RefreshMode, needs_for, observe, tenants_to_refresh
from reconciler.render.json import render_json, validate_plan_dict


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
) -> PlanResult:
    """Observe the fleet, read the ledger and build the plan (no writes anywhere).

    ``refresh="changed"`` reads details only for tenants that changed (see the module
    docstring); ``"all"`` reads them for every tenant. With ``targets`` only those tenants'
    details are read either way.
    """
    client, credentials, ledger = env.client(), env.credentials(), env.ledger()
    view = ledger.view()
    unknown = sorted(set(targets) - set(desired.tenants) - set(view.tenants))
    if unknown:
        raise UsageError(f"--tenant names no declared or recorded tenant: {', '.join(unknown)}")
    before = client.stats.snapshot().total_requests
    org_ids = [org.id for org in desired.fleet.orgs.values()]
    scope: dict[str, frozenset[str] | None] = {}

    def needs(listed: LiveFleet) -> DetailNeeds:
        chosen = tenants_to_refresh(desired, view, listed) if refresh == "changed" else None
        if targets:
            chosen = frozenset(targets) if chosen is None else chosen & frozenset(targets)
        scope["tenants"] = chosen
        return needs_for(desired, view, listed, only=chosen)

    live, observed = observe(
        client, credentials, org_ids, needs, parallelism=desired.fleet.policy.parallelism
    )
    transfer_key = check_transfer_key(client, credentials, desired, live, view)
    options = PlanOptions(
        now=utc_now_text(),
        tool_version=__version__,
        targets=tuple(targets),
        transfer_key_available=transfer_key.available,
        transfer_key_problem=transfer_key.problem,
    )
    plan = build_plan(desired, live, view, options)
    refreshed = scope.get("tenants")
    meta = {
        **plan.meta,
        **plan_meta(desired, live, view, plan, observed),
        **refresh_meta(desired, refresh, refreshed),
    }
    meta["converged"] = converged_digests(desired, view, plan, refreshed, targets)
    meta["prevent_destroy"] = {
        name: tenant.lifecycle.prevent_destroy
        for name, tenant in desired.tenants.items()
        if (record := view.tenants.get(name)) is not None
        and record.prevent_destroy != tenant.lifecycle.prevent_destroy
    }
    warnings = quiet_list_only_warnings(plan.warnings, desired, refreshed)
    plan = replace(plan, meta=meta, warnings=warnings)
    calls = client.stats.snapshot().total_requests - before
    return PlanResult(plan, desired, live, calls)


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
    busy = {s.tenant for s in plan.steps} | _batched(plan) | {b.tenant for b in plan.blockers}
    converged: dict[str, str] = {}
    for name, tenant in desired.tenants.items():
        record = view.tenants.get(name)
        if record is None or record.manifest_digest == tenant.digest or name in busy:
            continue
        if (refreshed is not None and name not in refreshed) or (targets and name not in targets):
            continue
        converged[name] = tenant.digest
    return converged


def refresh_meta(
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
_NOT_OBSERVED = (": endpoints were not observed;", ": branches were not observed;")


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


def plan_meta(
    desired: DesiredFleet, live: LiveFleet, view: LedgerView, plan: Plan, needs: DetailNeeds
) -> dict[str, Any]:
    """What apply needs besides the steps: fleet settings, bindings, observed details."""
    fleet = desired.fleet
    planned = sorted({s.tenant for s in plan.steps if s.tenant is not None} | _batched(plan))
    tenants: dict[str, Any] = {}
    bound: set[str] = set()
    for name, match in match_tenants(desired, live, view, planned).items():
        tenant = desired.tenants.get(name)
        record = view.tenants.get(name)
        project = match.project
        binding = TenantBinding(
            tenant=name,
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
        tenants[name] = binding.to_meta()
        if binding.project_id:
            bound.add(binding.project_id)
    return {
        "fleet": fleet_meta(fleet),
        "observed": needs.restricted_to(bound).to_dict(),
        "tenants": tenants,
    }


def _batched(plan: Plan) -> set[str]:
    return {
        str(t) for s in plan.steps if s.tenant is None for t in (s.after or {}).get("tenants", ())
    }


def fleet_meta(fleet: FleetConfig) -> dict[str, Any]:
    return {
        "name": fleet.name,
        "orgs": {
            alias: {"id": org.id, "api_key_env": org.api_key_env}
            for alias, org in sorted(fleet.orgs.items())
        },
        "personal_api_key_env": fleet.personal_api_key_env,
        "ledger": fleet.ledger_url,
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


def fleet_from_meta(meta: Mapping[str, Any]) -> FleetConfig:
    """The Fleet settings a saved plan carries (enough to apply it)."""
    try:
        data = meta["fleet"]
        secrets = data.get("secrets")
        return FleetConfig(
            name=str(data["name"]),
            orgs={
                alias: OrgRef(alias, str(org["id"]), str(org["api_key_env"]))
                for alias, org in data["orgs"].items()
            },
            personal_api_key_env=data.get("personal_api_key_env"),
            region=str(data.get("region", "")),
            pg_version=int(data.get("pg_version", 0)),
            policy=Policy(parallelism=int(data.get("parallelism", 8))),
            ledger_url=data.get("ledger"),
            secrets=(
                SecretSink(
                    str(secrets["kind"]),
                    str(secrets["target"]),
                    tuple(str(name) for name in secrets.get("env", ())),
                )
                if secrets
                else None
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanFileError(f"plan file: meta.fleet is incomplete ({exc})") from exc


def save_plan(plan: Plan, path: str | Path) -> None:
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_json(plan), encoding="utf-8")
    except OSError as exc:
        raise PlanFileError(f"cannot write the plan file {target}: {exc.strerror}") from exc


def load_plan_file(path: str | Path) -> Plan:
    """Read a saved plan; a file that is not a valid plan gets one clear error."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanFileError(f"{source}: cannot read the plan file: {exc.strerror}") from exc
    except ValueError as exc:
        raise PlanFileError(f"{source}: not a JSON plan file: {exc}") from exc
    try:
        validate_plan_dict(data)
        plan = plan_from_dict(data)
    except PlanFileError as exc:
        raise PlanFileError(f"{source}: {exc}") from exc
    for key in ("fleet", "observed", "tenants"):
        if key not in plan.meta:
            raise PlanFileError(
                f"{source}: plan file: meta.{key} is missing (not made by fleet plan?)"
            )
    return plan


def is_plan_file(path: str | Path) -> bool:
    """A saved plan is a JSON file; manifests are YAML files or directories."""
    candidate = Path(path)
    if not candidate.is_file():
        return False
    if candidate.suffix == ".json":
        return True
    with candidate.open("rb") as handle:
        return handle.read(64).lstrip().startswith(b"{")
