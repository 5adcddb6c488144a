"""Settings a tenant's tier no longer manages: reset to Neon's default, or kept with a warning.

A quota or compute key absent from a tenant's effective settings is not managed: its live
value is left alone (see ``model``). That is wrong for a value an earlier tier put there. A
tenant upgraded from ``free`` (``data_transfer_bytes: 5368709120``) to ``pro`` (which leaves the
key out: pro tenants have no transfer cap) would otherwise keep free's 5 GiB cap for ever.

The ledger records no tier and no managed keys, so the trace of the earlier tier is the live
value itself: a key the tenant's settings leave unmanaged whose live value is exactly what
another tier of the fleet sets for it is that tier's leftover (**released**). Released keys are
planned back to Neon's default, with an origin that says so:

* quota keys: ``0`` (unlimited, Neon's default for every quota key);
* ``suspend_timeout_seconds``: ``0`` (Neon's default, 300 s), on the project's defaults and on
  its computes, like any compute setting; a live ``300`` is that default already, and is not
  reset (changing it would only restart the computes);
* autoscaling limits have no fixed Neon default (it depends on the org's plan): they are kept,
  and when the project is moving to the tier's org in this plan, a warning names the value,
  the tier it came from and what to do. (Only then: ``0.25`` CU, say, is also what Neon
  itself sets, and warning about it on every plan would be noise.)

Working from live values and manifests only keeps the rule pure and crash-safe: a transfer
that landed while its quota update failed is still recognised on the next plan. Values set by
hand (equal to no tier's value) and keys under ``lifecycle.ignore_changes`` are left alone. Not
recognised: a leftover whose old tier changed its value in the same edit, or one that came
from a tenant override since removed; those stay unmanaged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from reconciler.core.context import is_ignored
from reconciler.core.model import (
    COMPUTE_KEYS,
    QUOTA_KEYS,
    DesiredTenant,
    LiveProject,
    Sourced,
    TierSpec,
)

#: Neon's default for every quota key: 0 means unlimited.
QUOTA_DEFAULT = 0
#: Neon's defaults for the compute keys that have one: 0 is the default suspend timeout, 300 s.
COMPUTE_DEFAULTS: Mapping[str, int] = {"suspend_timeout_seconds": 0}
_NONE: frozenset[float] = frozenset()
#: Live values that already mean Neon's default, so there is nothing to reset.
_SAME_AS_DEFAULT: Mapping[str, frozenset[float]] = {
    "suspend_timeout_seconds": frozenset({0, 300}),
}


def with_released_settings(
    tiers: Mapping[str, TierSpec], tenant: DesiredTenant, project: LiveProject, *, moving: bool
) -> tuple[DesiredTenant, list[str]]:
    """``tenant`` with its released keys set to Neon's defaults, and warnings for kept ones.

    ``moving`` says the plan transfers the project to the tenant's org (a tier change).
    """
    quota = dict(tenant.quota)
    compute = dict(tenant.compute)
    warnings: list[str] = []
    ignore = tenant.lifecycle.ignore_changes
    for key in QUOTA_KEYS:
        used = project.quota.get(key) if project.quota is not None else None
        source = None if key in quota else leftover_of(tiers, tenant.tier, "quota", key, used)
        if source is not None and not is_ignored(f"quota.{key}", ignore):
            quota[key] = Sourced(QUOTA_DEFAULT, _reset_origin(tenant, source, "0 = unlimited"))
    settings = project.default_endpoint_settings
    for key in COMPUTE_KEYS:
        live = settings.get(key) if settings is not None else None
        default = COMPUTE_DEFAULTS.get(key)
        source = None if key in compute else leftover_of(tiers, tenant.tier, "compute", key, live)
        if source is None or is_ignored(f"compute.{key}", ignore):
            continue
        if default is not None:
            compute[key] = Sourced(default, _reset_origin(tenant, source, "0 = 300 s"))
        elif moving:
            warnings.append(
                f"{tenant.name}: compute.{key} stays {live}, the value tier {source} sets; tier "
                f"{tenant.tier} does not manage it and Neon has no fixed default for it: set "
                f"it in tier {tenant.tier}, or add compute.{key} to lifecycle.ignore_changes"
            )
    if quota == tenant.quota and compute == tenant.compute:
        return tenant, warnings
    return replace(tenant, quota=quota, compute=compute), warnings


def leftover_of(
    tiers: Mapping[str, TierSpec], tier: str, block: str, key: str, live: float | int | None
) -> str | None:
    """The other tier whose value ``live`` is, for a ``block`` key that ``tier`` leaves
    unmanaged, when ``live`` is not already Neon's default; else None.

    ``fleet import`` asks too: an imported project whose value would be taken for a leftover
    gets it as an override, so the first plan after an import stays empty.
    """
    defaults = frozenset({QUOTA_DEFAULT}) if block == "quota" else _SAME_AS_DEFAULT.get(key, _NONE)
    if live is None or live in defaults:
        return None
    for name in sorted(tiers):
        values: Mapping[str, float | int] = getattr(tiers[name], block)
        if name != tier and values.get(key) == live:
            return name
    return None


def _reset_origin(tenant: DesiredTenant, source: str, meaning: str) -> str:
    return (
        f"no longer managed: tier {tenant.tier} leaves it unset and this is tier {source}'s "
        f"value; reset to Neon's default ({meaning})"
    )
