"""Build the effective desired state (Fleet defaults ← Tier ← Tenant) and its digests.

Every effective value is a ``Sourced`` value naming where it came from: ``fleet defaults``,
``tier <name>``, ``tenant <name>`` or ``built-in default``. Quota and compute keys that no layer
sets are left out of the tenant's mappings: absent means "not managed" (see core.model).

Digests are sha256 over canonical JSON (sorted keys, no whitespace) of the parsed documents, so
they do not change with file order, formatting, comments or YAML style. Each document is
serialised once; tenant digests splice the pre-serialised tier and fleet parts in, which gives
exactly the canonical JSON of ``{"fleet": ..., "tenant": ..., "tier": ...}`` (the key order
``json.dumps(sort_keys=True)`` would choose) without re-serialising them per tenant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from reconciler.core.branch_policies import CheckpointPolicy, PreviewPolicy
from reconciler.core.json_text import compact_sorted
from reconciler.core.model import (
    COMPUTE_KEYS,
    DEFAULT_HISTORY_RETENTION_SECONDS,
    QUOTA_KEYS,
    ApiKeySpec,
    DesiredFleet,
    DesiredTenant,
    DriftIgnore,
    FleetConfig,
    Lifecycle,
    Location,
    OrgRef,
    Policy,
    Pricing,
    Rate,
    SecretSink,
    Sourced,
    TierSpec,
)
from reconciler.manifests.access import (
    to_auth,
    to_connection_secrets,
    to_databases,
    to_roles,
)
from reconciler.manifests.branches import to_branch_specs
from reconciler.manifests.catalog import Catalog
from reconciler.manifests.templates import DEFAULT_TEMPLATE, render_project_name
from reconciler.manifests.timing import NEVER, parse_duration
from reconciler.manifests.yaml_source import SourceDocument

FLEET_DEFAULTS = "fleet defaults"
BUILT_IN = "built-in default"
#: Neon's default Postgres major version (neon-api-notes §1, ProjectCreateRequest.pg_version).
DEFAULT_PG_VERSION = 17


#: ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, encoder made once.
_CANONICAL = compact_sorted(allow_nan=True)


def canonical_json(value: Any) -> str:
    """The canonical JSON text digests are computed over (sorted keys, no whitespace)."""
    return _CANONICAL(value)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fleet_parts_for(fleet_doc: Mapping[str, Any], org_alias: str) -> dict[str, Any]:
    """The parts of the Fleet manifest a tenant in org ``org_alias`` depends on."""
    spec = fleet_doc["spec"]
    return {
        "name": fleet_doc["metadata"]["name"],
        "org": {"alias": org_alias, **spec["orgs"][org_alias]},
        "defaults": spec["defaults"],
        "project_name": spec.get("project_name", DEFAULT_TEMPLATE),
    }


def tenant_digest(
    tenant_doc: Mapping[str, Any], tier_doc: Mapping[str, Any], fleet_parts: Mapping[str, Any]
) -> str:
    """sha256 of one tenant's effective inputs: its document, its tier's, and fleet parts."""
    return _sha256(canonical_json({"fleet": fleet_parts, "tenant": tenant_doc, "tier": tier_doc}))


def build_desired(catalog: Catalog) -> DesiredFleet:
    """The DesiredFleet of a catalog that passed every check."""
    assert catalog.fleet is not None, "build_desired needs a checked catalog"
    fleet_data = catalog.fleet.data
    config = _fleet_config(fleet_data)
    tiers = {name: _tier_spec(name, doc.data["spec"]) for name, doc in catalog.tiers.items()}
    # Serialise each tier with its fleet parts once: "...","tier":<tier json>}
    contexts = {
        name: (
            canonical_json(fleet_parts_for(fleet_data, tier.org_alias)),
            canonical_json(catalog.tiers[name].data),
        )
        for name, tier in tiers.items()
    }
    pg_origin = FLEET_DEFAULTS if "pg_version" in fleet_data["spec"]["defaults"] else BUILT_IN
    tenants: dict[str, DesiredTenant] = {}
    tenant_json: dict[str, str] = {}
    for name in sorted(catalog.tenants):
        doc = catalog.tenants[name]
        text = canonical_json(doc.data)
        tenant_json[name] = text
        tier = tiers[doc.data["spec"]["tier"]]
        fleet_text, tier_text = contexts[tier.name]
        digest = _sha256(f'{{"fleet":{fleet_text},"tenant":{text},"tier":{tier_text}}}')
        tenants[name] = _tenant(name, doc, config, tier, digest=digest, pg_origin=pg_origin)
    everything = (
        f'{{"fleet":{canonical_json(fleet_data)},'
        f'"tenants":{_joined(tenant_json)},'
        f'"tiers":{_joined({n: contexts[n][1] for n in sorted(contexts)})}}}'
    )
    return DesiredFleet(
        fleet=config, tiers=dict(sorted(tiers.items())), tenants=tenants, digest=_sha256(everything)
    )


def _joined(serialised: Mapping[str, str]) -> str:
    """A JSON object from already-serialised values, keys in sorted order."""
    items = ",".join(f"{canonical_json(k)}:{serialised[k]}" for k in sorted(serialised))
    return "{" + items + "}"


def _fleet_config(data: Mapping[str, Any]) -> FleetConfig:
    spec = data["spec"]
    policy = spec.get("policy", {})
    max_age = policy.get("old_branch_max_age")
    secrets = spec.get("secrets")
    sink = None
    if secrets is not None:
        kind = "exec" if "exec" in secrets else "file"
        sink = SecretSink(kind=kind, target=secrets[kind], env=tuple(secrets.get("env", ())))
    return FleetConfig(
        name=data["metadata"]["name"],
        orgs={
            alias: OrgRef(alias=alias, id=org["id"], api_key_env=org["api_key_env"])
            for alias, org in spec["orgs"].items()
        },
        personal_api_key_env=spec.get("personal_api_key_env"),
        region=spec["defaults"]["region"],
        pg_version=int(spec["defaults"].get("pg_version", DEFAULT_PG_VERSION)),
        project_name_template=spec.get("project_name", DEFAULT_TEMPLATE),
        policy=Policy(
            prune=policy.get("prune", False),
            max_deletes=int(policy.get("max_deletes", 0)),
            parallelism=int(policy.get("parallelism", 8)),
            prune_branches=policy.get("prune_branches", False),
            old_branch_max_age_seconds=parse_duration(max_age) if max_age else None,
            drift_ignore=tuple(
                DriftIgnore(path=item["path"], tenant=item.get("tenant", "*"))
                for item in policy.get("drift_ignore", [])
            ),
            history_retention_seconds=history_retention(policy.get("history_retention")),
            prune_databases=policy.get("prune_databases", False),
            allow_auth_removal=policy.get("allow_auth_removal", False),
        ),
        ledger_url=spec.get("ledger"),
        secrets=sink,
        pricing=_pricing(spec.get("pricing")),
        quota_thresholds=tuple(
            float(t) for t in spec.get("alerts", {}).get("quota_thresholds", (0.8, 0.95))
        ),
    )


def history_retention(text: str | None) -> int | None:
    """Seconds of ``policy.history_retention``: the default when absent, None for ``never``."""
    if text is None:
        return DEFAULT_HISTORY_RETENTION_SECONDS
    return None if text == NEVER else parse_duration(text)


def _pricing(block: Mapping[str, Any] | None) -> Pricing | None:
    if block is None:
        return None
    return Pricing(
        currency=block["currency"],
        rates={
            metric: Rate(price=float(rate["price"]), per=float(rate.get("per", 1)))
            for metric, rate in sorted(block["rates"].items())
        },
    )


def _checkpoints(block: Mapping[str, Any] | None) -> CheckpointPolicy | None:
    if block is None:
        return None
    max_age, every = block.get("max_age"), block.get("every")
    return CheckpointPolicy(
        keep_last=block.get("keep_last"),
        max_age_seconds=parse_duration(max_age) if max_age else None,
        every_seconds=parse_duration(every) if every else None,
    )


def _previews(block: Mapping[str, Any] | None) -> PreviewPolicy:
    defaults = PreviewPolicy()
    if block is None:
        return defaults
    # The schema admits durations only, so parse_duration cannot return None for these.
    ttl, suspend, idle = (block.get(key) for key in ("ttl", "suspend_timeout", "idle_after"))
    return PreviewPolicy(
        ttl_seconds=parse_duration(ttl) or defaults.ttl_seconds if ttl else defaults.ttl_seconds,
        suspend_timeout_seconds=(
            parse_duration(suspend) or defaults.suspend_timeout_seconds
            if suspend
            else defaults.suspend_timeout_seconds
        ),
        idle_after_seconds=parse_duration(idle) if idle else None,
        compute={k: float(v) for k, v in sorted(block.get("compute", {}).items())},
    )


def _tier_spec(name: str, spec: Mapping[str, Any]) -> TierSpec:
    compute = spec.get("compute", {})
    return TierSpec(
        name=name,
        org_alias=spec["org"],
        quota={k: int(v) for k, v in spec.get("quota", {}).items()},
        compute={k: _compute_value(k, compute[k]) for k in COMPUTE_KEYS if k in compute},
        max_branches=spec.get("max_branches"),
        checkpoints=_checkpoints(spec.get("checkpoints")),
        previews=_previews(spec.get("previews")),
        databases=to_databases(spec["databases"]) if "databases" in spec else None,
        roles=to_roles(spec["roles"]) if "roles" in spec else None,
        connection_secrets=(
            to_connection_secrets(spec["connection_secrets"])
            if "connection_secrets" in spec
            else None
        ),
        auth=to_auth(spec["auth"]) if "auth" in spec else None,
    )


def _access(spec: Mapping[str, Any], tier: TierSpec, name: str) -> dict[str, Any]:
    """The tenant's databases, roles, connection secrets and auth: its own, else its tier's."""
    convert: dict[str, Any] = {
        "databases": to_databases,
        "roles": to_roles,
        "connection_secrets": to_connection_secrets,
        "auth": to_auth,
    }
    result: dict[str, Any] = {}
    for key, to_model in convert.items():
        if key in spec:
            result[key] = Sourced(to_model(spec[key]), f"tenant {name}")
        else:
            inherited = getattr(tier, key)
            result[key] = None if inherited is None else Sourced(inherited, f"tier {tier.name}")
    return result


def _compute_value(key: str, value: float | int) -> float | int:
    # suspend_timeout_seconds is an integer even when YAML wrote 300.0
    return int(value) if key == "suspend_timeout_seconds" else value


def _tenant(
    name: str,
    doc: SourceDocument,
    fleet: FleetConfig,
    tier: TierSpec,
    *,
    digest: str,
    pg_origin: str,
) -> DesiredTenant:
    spec = doc.data["spec"]
    me, tier_origin = f"tenant {name}", f"tier {tier.name}"
    region = (
        Sourced(spec["region"], me) if "region" in spec else Sourced(fleet.region, FLEET_DEFAULTS)
    )
    if "pg_version" in spec:
        pg_version = Sourced(int(spec["pg_version"]), me)
    else:
        pg_version = Sourced(fleet.pg_version, pg_origin)
    quota = _layered(QUOTA_KEYS, tier.quota, tier_origin, spec.get("quota", {}), me, int)
    own_compute = {k: _compute_value(k, v) for k, v in spec.get("compute", {}).items()}
    compute = _layered(COMPUTE_KEYS, tier.compute, tier_origin, own_compute, me, lambda v: v)
    lifecycle = spec.get("lifecycle", {})
    org = fleet.orgs[tier.org_alias]
    retention = spec.get("history_retention_seconds")
    return DesiredTenant(
        name=name,
        tier=tier.name,
        org_alias=org.alias,
        org_id=org.id,
        project_name=render_project_name(fleet.project_name_template, name),
        region=region,
        pg_version=pg_version,
        quota=quota,
        compute=compute,
        branches=to_branch_specs(spec.get("branches", [])),
        api_keys=tuple(ApiKeySpec(name=key["name"]) for key in spec.get("api_keys", [])),
        lifecycle=Lifecycle(
            prevent_destroy=lifecycle.get("prevent_destroy", False),
            ignore_changes=tuple(dict.fromkeys(lifecycle.get("ignore_changes", []))),
        ),
        labels=dict(spec.get("labels", {})),
        hipaa=spec.get("hipaa"),
        history_retention_seconds=Sourced(int(retention), me) if retention is not None else None,
        max_branches=tier.max_branches,
        project_id=spec.get("project_id"),
        digest=digest,
        location=Location(path=doc.path, line=doc.line),
        checkpoints=tier.checkpoints,
        **_access(spec, tier, name),
    )


def _layered(
    keys: tuple[str, ...],
    inherited: Mapping[str, Any],
    inherited_origin: str,
    own: Mapping[str, Any],
    own_origin: str,
    convert: Any,
) -> dict[str, Sourced[Any]]:
    """Per key: the tenant's value, else the tier's, else absent (not managed)."""
    result: dict[str, Sourced[Any]] = {}
    for key in keys:
        if key in own:
            result[key] = Sourced(convert(own[key]), own_origin)
        elif key in inherited:
            result[key] = Sourced(inherited[key], inherited_origin)
    return result
