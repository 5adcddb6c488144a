"""Small builders of desired, live and ledger values for planner tests.

Two orgs (free and paid) and two tiers mirror the Agent Plan setup. ``live_project_for(tenant)``
builds the live project that exactly satisfies a desired tenant, so a test states only the
difference it is about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.core.catalog import DEFAULT_BRANCH
from reconciler.core.model import (
    ApiKeySpec,
    BranchSpec,
    DesiredFleet,
    DesiredTenant,
    FleetConfig,
    LedgerView,
    Lifecycle,
    LiveApiKey,
    LiveBranch,
    LiveEndpoint,
    LiveFleet,
    LiveProject,
    OrgRef,
    OwnedKey,
    OwnedTenant,
    Policy,
    Sourced,
    TierSpec,
)
from reconciler.core.naming import api_key_name
from reconciler.core.options import PlanOptions

NOW = "2026-11-26T12:00:00Z"
ORG_FREE = "org-free-1"
ORG_PAID = "org-paid-1"
ORGS = {
    "free": OrgRef("free", ORG_FREE, "NEON_FREE_ORG_KEY"),
    "paid": OrgRef("paid", ORG_PAID, "NEON_PAID_ORG_KEY"),
}
TIERS = {
    "free": TierSpec(
        name="free",
        org_alias="free",
        quota={"compute_time_seconds": 18000, "logical_size_bytes": 536870912},
        compute={
            "autoscaling_limit_min_cu": 0.25,
            "autoscaling_limit_max_cu": 1,
            "suspend_timeout_seconds": 300,
        },
        max_branches=10,
    ),
    "paid": TierSpec(
        name="paid",
        org_alias="paid",
        quota={"compute_time_seconds": 360000, "logical_size_bytes": 10737418240},
        compute={
            "autoscaling_limit_min_cu": 0.25,
            "autoscaling_limit_max_cu": 4,
            "suspend_timeout_seconds": 300,
        },
        max_branches=1000,
    ),
}


def fleet_config(**policy: Any) -> FleetConfig:
    return FleetConfig(
        name="acme",
        orgs=ORGS,
        personal_api_key_env="NEON_PERSONAL_KEY",
        region="aws-us-east-2",
        pg_version=17,
        policy=Policy(**policy),
    )


def tenant(
    name: str,
    tier: str = "free",
    *,
    quota: Mapping[str, int] | None = None,
    compute: Mapping[str, float | int] | None = None,
    region: str | None = None,
    pg_version: int | None = None,
    branches: Iterable[BranchSpec] = (),
    api_keys: Iterable[str] = (),
    lifecycle: Lifecycle | None = None,
    history_retention_seconds: int | None = None,
    project_id: str | None = None,
) -> DesiredTenant:
    """A desired tenant: tier values, overridden by ``quota``/``compute`` (origin: tenant)."""
    spec = TIERS[tier]
    own = f"tenant {name}"
    q = {k: Sourced(v, f"tier {tier}") for k, v in spec.quota.items()}
    q.update({k: Sourced(v, own) for k, v in (quota or {}).items()})
    c = {k: Sourced(v, f"tier {tier}") for k, v in spec.compute.items()}
    c.update({k: Sourced(v, own) for k, v in (compute or {}).items()})
    org = ORGS[spec.org_alias]
    return DesiredTenant(
        name=name,
        tier=tier,
        org_alias=org.alias,
        org_id=org.id,
        project_name=name,
        region=Sourced(region, own) if region else Sourced("aws-us-east-2", "fleet defaults"),
        pg_version=Sourced(pg_version, own) if pg_version else Sourced(17, "fleet defaults"),
        quota=q,
        compute=c,
        branches=tuple(branches),
        api_keys=tuple(ApiKeySpec(k) for k in api_keys),
        lifecycle=lifecycle or Lifecycle(),
        history_retention_seconds=(
            Sourced(history_retention_seconds, own) if history_retention_seconds else None
        ),
        max_branches=spec.max_branches,
        project_id=project_id,
        digest=f"digest-{name}",
    )


def desired(*tenants: DesiredTenant, **policy: Any) -> DesiredFleet:
    return DesiredFleet(
        fleet=fleet_config(**policy),
        tiers=TIERS,
        tenants={t.name: t for t in sorted(tenants, key=lambda t: t.name)},
        digest="sha256:manifests",
    )


def project_id_of(name: str) -> str:
    return f"prj-{name}"


def live_project_for(
    t: DesiredTenant,
    *,
    project_id: str | None = None,
    org_id: str | None = None,
    branches: Iterable[LiveBranch] | None = None,
    endpoints: Iterable[LiveEndpoint] | None = None,
    **overrides: Any,
) -> LiveProject:
    """The live project that satisfies ``t`` (one main branch with one endpoint)."""
    pid = project_id or t.project_id or project_id_of(t.name)
    quota = {k: 0 for k in ("active_time_seconds", "written_data_bytes", "data_transfer_bytes")}
    quota.update({k: v.value for k, v in t.quota.items()})
    compute = {k: v.value for k, v in t.compute.items()}
    main = LiveBranch(
        id=f"br-{pid}-main",
        name=DEFAULT_BRANCH,
        parent_id=None,
        protected=False,
        default=True,
        created_at="2026-01-01T00:00:00Z",
    )
    declared = [
        LiveBranch(
            id=f"br-{pid}-{b.name}",
            name=b.name,
            parent_id=f"br-{pid}-{b.parent}",
            protected=b.protected,
            default=False,
            created_at="2026-01-02T00:00:00Z",
            expires_at=b.expires_at or ("2026-12-01T00:00:00Z" if b.expires_in_seconds else None),
        )
        for b in t.branches
    ]
    endpoint = LiveEndpoint(
        id=f"ep-{pid}",
        branch_id=main.id,
        type="read_write",
        autoscaling_limit_min_cu=float(compute.get("autoscaling_limit_min_cu", 0.25)),
        autoscaling_limit_max_cu=float(compute.get("autoscaling_limit_max_cu", 1)),
        suspend_timeout_seconds=int(compute.get("suspend_timeout_seconds", 0)),
    )
    values: dict[str, Any] = {
        "id": pid,
        "name": t.project_name,
        "org_id": org_id or t.org_id,
        "region_id": t.region.value,
        "pg_version": t.pg_version.value,
        "created_at": "2026-01-01T00:00:00Z",
        "quota": quota,
        "default_endpoint_settings": compute,
        "history_retention_seconds": (
            t.history_retention_seconds.value if t.history_retention_seconds else 86400
        ),
        "branches": tuple(branches) if branches is not None else (main, *declared),
        "endpoints": tuple(endpoints) if endpoints is not None else (endpoint,),
    }
    values.update(overrides)
    return LiveProject(**values)


def key_for(t: DesiredTenant, key: str, key_id: int, *, org_id: str | None = None) -> LiveApiKey:
    return LiveApiKey(
        id=key_id,
        name=api_key_name(t.project_name, key),
        org_id=org_id or t.org_id,
        project_id=t.project_id or project_id_of(t.name),
        created_at="2026-01-01T00:00:00Z",
    )


def live(
    *projects: LiveProject,
    keys: Iterable[LiveApiKey] = (),
    key_orgs: Iterable[str] | None = None,
    observed_orgs: Iterable[str] = (ORG_FREE, ORG_PAID),
) -> LiveFleet:
    """A live fleet; keys of ``key_orgs`` (default: both orgs) count as observed."""
    orgs = tuple(key_orgs) if key_orgs is not None else (ORG_FREE, ORG_PAID)
    all_keys = tuple(keys)
    return LiveFleet(
        projects={p.id: p for p in projects},
        api_keys={org: tuple(k for k in all_keys if k.org_id == org) for org in orgs},
        observed_orgs=frozenset(observed_orgs),
    )


def owned(
    t: DesiredTenant | str,
    *,
    project_id: str | None = None,
    org_id: str = ORG_FREE,
    keys: Iterable[LiveApiKey] = (),
    prevent_destroy: bool = False,
) -> OwnedTenant:
    name = t if isinstance(t, str) else t.name
    pid = project_id or project_id_of(name)
    return OwnedTenant(
        tenant=name,
        project_id=pid,
        org_id=org_id,
        keys={k.name: OwnedKey(k.name, k.id, k.org_id, k.project_id or pid) for k in keys},
        prevent_destroy=prevent_destroy,
    )


def ledger(*records: OwnedTenant, pending: Iterable[str] = ()) -> LedgerView:
    return LedgerView(tenants={r.tenant: r for r in records}, pending_creates=frozenset(pending))


def options(**overrides: Any) -> PlanOptions:
    values: dict[str, Any] = {"now": NOW, "tool_version": "0.1.0"}
    values.update(overrides)
    return PlanOptions(**values)
