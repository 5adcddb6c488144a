"""Exporting one existing Neon project as a Tenant manifest (pure; used by ``fleet import``).

The manifest must reproduce the live project exactly, so that ``fleet plan`` is empty after the
import:

* **Tier.** Among the tiers of the import org, the one whose managed quota and compute keys
  differ from the live values in the fewest places (ties: by tier name); the differing keys
  become explicit tenant overrides. An exact match needs no override at all.
* **Compute.** The project's ``default_endpoint_settings`` give the desired compute; a key on
  which an existing endpoint disagrees cannot be described by one value, so it goes to
  ``lifecycle.ignore_changes`` (with a note) rather than being changed by the next apply.
* **Placement.** ``region`` and ``pg_version`` are written when they differ from the Fleet's
  defaults (Neon cannot change them in place).
* **Name.** When the project name fits the Fleet's ``project_name`` template, the tenant is the
  template's variable part; otherwise the tenant gets a sanitised name and an explicit
  ``project_id`` binding, and ``project_name`` is added to ``ignore_changes`` so the project is
  never renamed.
* **Branches and keys.** Non-default branches without an expiry are declared (with their parent
  and ``protected`` flag); project-scoped keys with the fleet's naming prefix are declared by
  their short name, so the planner neither prunes nor revokes them.
* **Databases, roles, Neon Auth** (``access_block``). The default branch's databases and roles
  are written when they differ from what the tier declares (or, for a tier that declares none,
  from Neon's own ``neondb``/``neondb_owner``), and Neon Auth when it is enabled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.access_rules import NEW_PROJECT_CATALOG
from reconciler.core.model import (
    COMPUTE_KEYS,
    QUOTA_KEYS,
    FleetConfig,
    LiveApiKey,
    LiveProject,
    TierSpec,
)
from reconciler.core.naming import api_key_name, api_key_prefix, is_old_branch
from reconciler.core.released import COMPUTE_DEFAULTS, leftover_of
from reconciler.manifests import API_VERSION

#: Tenant names (``metadata.name``): see ``schemas/tenant.schema.json``.
TENANT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
_BRANCH_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PLACEHOLDER = "{tenant}"


@dataclass(frozen=True)
class TierChoice:
    """The chosen tier and the overrides that make it match the live project exactly."""

    tier: str
    quota: Mapping[str, int]
    compute: Mapping[str, float | int]

    @property
    def override_count(self) -> int:
        return len(self.quota) + len(self.compute)


@dataclass(frozen=True)
class ImportedManifest:
    """A Tenant manifest for one live project, and what the import had to decide."""

    tenant: str
    project: LiveProject
    document: Mapping[str, Any]
    tier: str
    bound: bool
    branch_ids: Mapping[str, str] = field(default_factory=dict)
    keys: tuple[LiveApiKey, ...] = ()
    notes: tuple[str, ...] = ()


def tenant_from_name(template: str, project_name: str) -> str | None:
    """The tenant whose templated project name is ``project_name``, or None if none can be."""
    if template.count(_PLACEHOLDER) != 1:
        return None
    head, tail = template.split(_PLACEHOLDER)
    if not project_name.startswith(head) or not project_name.endswith(tail):
        return None
    middle = project_name[len(head) : len(project_name) - len(tail)]
    return middle if TENANT_NAME.match(middle) else None


def sanitized_tenant(project_name: str, project_id: str) -> str:
    """A valid tenant name made from a project name that does not fit the template."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", project_name).strip("-_")[:63].rstrip("-_")
    return cleaned if TENANT_NAME.match(cleaned) else project_id[:63].rstrip("-_")


def choose_tier(
    tiers: Sequence[TierSpec], quota: Mapping[str, int], compute: Mapping[str, float | int]
) -> TierChoice:
    """The tier needing the fewest overrides (ties by name) and those overrides.

    A value the tier leaves unmanaged but that equals another tier's is an override too: the
    planner would otherwise take it for that tier's leftover and reset it (``core.released``).
    """
    by_name = {tier.name: tier for tier in tiers}
    choices = []
    for tier in sorted(tiers, key=lambda t: t.name):
        quota_overrides = {
            k: quota[k]
            for k in QUOTA_KEYS
            if (
                tier.quota[k] != quota[k]
                if k in tier.quota
                else _leftover(by_name, tier, "quota", k, quota.get(k))
            )
        }
        compute_overrides = {
            k: compute[k]
            for k in COMPUTE_KEYS
            if k in compute
            and (
                tier.compute[k] != compute[k]
                if k in tier.compute
                else k in COMPUTE_DEFAULTS and _leftover(by_name, tier, "compute", k, compute[k])
            )
        }
        choices.append(TierChoice(tier.name, quota_overrides, compute_overrides))
    return min(choices, key=lambda c: c.override_count)


def _leftover(
    tiers: Mapping[str, TierSpec], tier: TierSpec, block: str, key: str, live: float | None
) -> bool:
    return leftover_of(tiers, tier.name, block, key, live) is not None


def build_manifest(
    fleet: FleetConfig,
    tiers: Sequence[TierSpec],
    project: LiveProject,
    tenant: str,
    *,
    bound: bool,
    keys: Iterable[LiveApiKey] = (),
) -> ImportedManifest:
    """The Tenant manifest that describes ``project`` exactly (see the module docstring)."""
    notes: list[str] = []
    ignore: list[str] = ["project_name"] if bound else []
    quota = dict(project.quota) if project.quota is not None else {k: 0 for k in QUOTA_KEYS}
    if project.quota is None:
        notes.append("Neon reported no quota settings: quota is not managed")
        ignore.append("quota")
    compute = dict(project.default_endpoint_settings or {})
    choice = choose_tier(tiers, quota, compute)
    tier = next(t for t in tiers if t.name == choice.tier)
    for key in COMPUTE_KEYS:
        if key not in tier.compute:
            continue
        disagree = key not in compute or any(
            getattr(e, key) != compute[key] for e in project.endpoints or ()
        )
        if disagree:
            ignore.append(f"compute.{key}")
            notes.append(f"endpoints disagree on {key}: left as it is (ignore_changes)")
    spec: dict[str, Any] = {"tier": choice.tier}
    if bound:
        spec["project_id"] = project.id
    if project.region_id != fleet.region:
        spec["region"] = project.region_id
    if project.pg_version != fleet.pg_version:
        spec["pg_version"] = project.pg_version
    if project.hipaa:
        spec["hipaa"] = True
    if choice.quota and project.quota is not None:
        spec["quota"] = dict(choice.quota)
    overrides = {k: v for k, v in choice.compute.items() if f"compute.{k}" not in ignore}
    if overrides:
        spec["compute"] = overrides
    access, access_notes = access_block(tier, project)
    spec.update(access)
    notes += access_notes
    branches, branch_ids, branch_notes = _branches(project)
    notes += branch_notes
    if branches:
        spec["branches"] = branches
    template_name = fleet.project_name_template.replace(_PLACEHOLDER, tenant)
    declared_keys, key_notes = _keys(template_name, project, keys)
    notes += key_notes
    if declared_keys:
        spec["api_keys"] = [{"name": short} for short, _ in declared_keys]
    if ignore:
        spec["lifecycle"] = {"ignore_changes": ignore}
    document = {
        "apiVersion": API_VERSION,
        "kind": "Tenant",
        "metadata": {"name": tenant},
        "spec": spec,
    }
    return ImportedManifest(
        tenant=tenant,
        project=project,
        document=document,
        tier=choice.tier,
        bound=bound,
        branch_ids=branch_ids,
        keys=tuple(key for _, key in declared_keys),
        notes=tuple(notes),
    )


def access_block(tier: TierSpec, project: LiveProject) -> tuple[dict[str, Any], list[str]]:
    """``databases``, ``roles`` and ``auth`` entries that reproduce the default branch."""
    catalog = project.catalog
    if catalog is None:
        return {}, []
    found: dict[str, Any] = {}
    notes: list[str] = []
    databases = sorted((d.name, d.owner) for d in catalog.databases)
    roles = sorted(r.name for r in catalog.roles if not r.protected)
    if tier.databases is not None:
        expected_dbs = sorted((d.name, d.owner) for d in tier.databases)
    else:
        expected_dbs = sorted((d.name, d.owner) for d in NEW_PROJECT_CATALOG.databases)
    if tier.roles is not None:
        expected_roles = sorted(r.name for r in tier.roles)
    else:
        expected_roles = sorted(r.name for r in NEW_PROJECT_CATALOG.roles)
    if databases != expected_dbs:
        found["databases"] = [{"name": n, "owner": o} for n, o in databases]
    if roles != expected_roles:
        found["roles"] = [{"name": n} for n in roles]
    if catalog.auth_database is not None:
        found["auth"] = {"provider": "better_auth", "database": catalog.auth_database}
    elif catalog.auth_observed and tier.auth is not None:
        notes.append(f"tier {tier.name} declares Neon Auth, which this project does not have")
    return found, notes


def _branches(project: LiveProject) -> tuple[list[dict[str, Any]], dict[str, str], list[str]]:
    """Declarable branches (entries, name → id) and notes on those left undeclared."""
    live = sorted(project.branches or (), key=lambda b: b.name)
    names = {b.id: b.name for b in live}
    entries: list[dict[str, Any]] = []
    ids: dict[str, str] = {}
    notes: list[str] = []
    for branch in live:
        if branch.default:
            continue
        if branch.expires_at is not None or is_old_branch(branch.name):
            notes.append(f"branch {branch.name!r} expires or is a restore leftover: not declared")
            continue
        if not _BRANCH_NAME.match(branch.name) or branch.parent_id not in names:
            notes.append(f"branch {branch.name!r} cannot be declared: not declared")
            continue
        entry: dict[str, Any] = {"name": branch.name, "parent": names[branch.parent_id]}
        if branch.protected:
            entry["protected"] = True
        entries.append(entry)
        ids[branch.name] = branch.id
    return entries, ids, notes


def _keys(
    template_name: str, project: LiveProject, keys: Iterable[LiveApiKey]
) -> tuple[list[tuple[str, LiveApiKey]], list[str]]:
    """(short name, key) of the project's keys named the fleet's way; notes on the others."""
    prefix = api_key_prefix(template_name)
    declared: dict[str, LiveApiKey] = {}
    notes: list[str] = []
    for key in sorted(keys, key=lambda k: k.id):
        if key.project_id != project.id or not key.name.startswith(prefix):
            continue
        short = key.name[len(prefix) :]
        if not _KEY_NAME.match(short) or api_key_name(template_name, short) != key.name:
            notes.append(f"key {key.name!r} cannot be declared by a short name")
        elif short in declared:
            notes.append(f"key {key.name!r} ({key.id}) duplicates key {declared[short].id}")
        else:
            declared[short] = key
    return sorted(declared.items()), notes
