"""Semantic checks across schema-valid documents: references, ranges and derived names.

The schema has already checked each document on its own; here documents meet each other:
tiers name orgs, tenants name tiers, regions must be Neon's (``core.regions``), the Fleet's
``project_name`` template renders every tenant's project name (valid and unique), and
effective compute limits (Tier ← Tenant) must make sense together.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reconciler.core.model import IGNORABLE_PATHS
from reconciler.core.regions import NEON_REGIONS
from reconciler.errors import Problem
from reconciler.manifests.access import tenant_access_problems, tier_access_problems
from reconciler.manifests.branches import branch_problems
from reconciler.manifests.catalog import Catalog
from reconciler.manifests.templates import (
    DEFAULT_TEMPLATE,
    project_name_problem,
    render_project_name,
    template_problem,
)
from reconciler.manifests.timing import parse_duration
from reconciler.manifests.wording import unknown
from reconciler.manifests.yaml_source import SourceDocument

_MIN_CU, _MAX_CU = "autoscaling_limit_min_cu", "autoscaling_limit_max_cu"
#: The shortest ``policy.history_retention`` accepted.
MIN_HISTORY_RETENTION_SECONDS = 86400
#: Neon refuses autoscaling ranges wider than this many compute units.
MAX_CU_SPREAD = 8


def semantic_problems(catalog: Catalog, now: datetime) -> list[Problem]:
    """Every cross-document and derived-value problem of a catalog."""
    problems: list[Problem] = []
    fleet = catalog.fleet
    orgs: Mapping[str, Any] | None = None
    template: str | None = None
    if fleet is not None:
        spec = fleet.data["spec"]
        orgs = spec["orgs"]
        problems.extend(_org_id_problems(fleet, spec["orgs"]))
        problems.extend(_secret_sink_problems(fleet, spec.get("secrets")))
        problems.extend(_history_retention_problems(fleet, spec.get("policy", {})))
        problems.extend(region_problems(fleet, ("spec", "defaults", "region")))
        template = spec.get("project_name", DEFAULT_TEMPLATE)
        reason = template_problem(str(template))
        if reason is not None:
            problems.append(fleet.problem(("spec", "project_name"), reason))
            template = None
    has_sink = None if fleet is None else "secrets" in fleet.data["spec"]
    for tier in catalog.tiers.values():
        problems.extend(_tier_problems(tier, orgs))
        problems.extend(tier_access_problems(tier, has_sink))
    project_names: dict[str, str] = {}
    project_ids: dict[str, str] = {}
    for name, tenant in catalog.tenants.items():
        problems.extend(_tenant_problems(tenant, catalog, now))
        tier_doc = catalog.tiers.get(tenant.data["spec"]["tier"])
        tier_spec = tier_doc.data["spec"] if tier_doc is not None else {}
        problems.extend(tenant_access_problems(tenant, tier_spec, has_sink))
        project_id = tenant.data["spec"].get("project_id")
        if project_id is not None:
            if project_id in project_ids:
                message = (
                    f"project {project_id} is already bound to tenant {project_ids[project_id]}"
                )
                problems.append(tenant.problem(("spec", "project_id"), message))
            else:
                project_ids[project_id] = name
        if template is not None:
            problems.extend(_project_name_problems(tenant, name, template, project_names))
    return problems


def region_problems(doc: SourceDocument, field: tuple[str, ...]) -> list[Problem]:
    """A problem when the region at ``field`` (if set) is not one of Neon's regions."""
    value: Any = doc.data
    for part in field:
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str) or value in NEON_REGIONS:
        return []
    return [doc.problem(field, unknown("Neon region", value, NEON_REGIONS))]


def _org_id_problems(fleet: SourceDocument, orgs: Mapping[str, Any]) -> list[Problem]:
    owner: dict[str, str] = {}
    problems: list[Problem] = []
    for alias, org in orgs.items():
        if org["id"] in owner:
            message = f"organisation {org['id']} is already declared as org {owner[org['id']]!r}"
            problems.append(fleet.problem(("spec", "orgs", alias, "id"), message))
        else:
            owner[org["id"]] = alias
    return problems


def _secret_sink_problems(fleet: SourceDocument, sink: Mapping[str, Any] | None) -> list[Problem]:
    """``secrets`` names exactly one sink; ``env`` (the exec allow-list) goes with ``exec`` only."""
    if sink is None:
        return []
    kinds = [kind for kind in ("file", "exec") if kind in sink]
    if len(kinds) != 1:
        return [fleet.problem(("spec", "secrets"), "must set exactly one of file or exec")]
    if "env" in sink and kinds != ["exec"]:
        message = "env lists the variables an exec command receives; it does not apply to file"
        return [fleet.problem(("spec", "secrets", "env"), message)]
    return []


def _history_retention_problems(fleet: SourceDocument, policy: Mapping[str, Any]) -> list[Problem]:
    """A retention shorter than a day is refused: ``90m`` is far likelier a typo of ``90d``
    than a wish to forget yesterday's apply runs."""
    text = policy.get("history_retention")
    seconds = parse_duration(text) if isinstance(text, str) else None
    if seconds is None or seconds >= MIN_HISTORY_RETENTION_SECONDS:
        return []
    message = f"{text} is shorter than the minimum 1d (write never to keep history forever)"
    return [fleet.problem(("spec", "policy", "history_retention"), message)]


def _tier_problems(tier: SourceDocument, orgs: Mapping[str, Any] | None) -> list[Problem]:
    spec = tier.data["spec"]
    problems: list[Problem] = []
    if orgs is not None and spec["org"] not in orgs:
        problems.append(tier.problem(("spec", "org"), unknown("org alias", spec["org"], orgs)))
    compute = spec.get("compute", {})
    reason = compute_range_problem(compute.get(_MIN_CU), compute.get(_MAX_CU))
    if reason is not None:
        problems.append(tier.problem(("spec", "compute"), reason))
    return problems


def compute_range_problem(
    min_cu: float | None, max_cu: float | None, origins: tuple[str, str] | None = None
) -> str | None:
    """Why an autoscaling range is invalid (min above max, or wider than 8 CU), or None."""
    if min_cu is None or max_cu is None:
        return None
    low, high = (f"{_MIN_CU} {min_cu}", f"{_MAX_CU} {max_cu}")
    if origins is not None:
        low, high = f"{low} ({origins[0]})", f"{high} ({origins[1]})"
    if min_cu > max_cu:
        return f"{low} is greater than {high}"
    if max_cu - min_cu > MAX_CU_SPREAD:
        return f"{low} and {high} are more than {MAX_CU_SPREAD} CU apart"
    return None


def _tenant_problems(tenant: SourceDocument, catalog: Catalog, now: datetime) -> list[Problem]:
    spec = tenant.data["spec"]
    tier_name = spec["tier"]
    problems = region_problems(tenant, ("spec", "region"))
    if catalog.complete and tier_name not in catalog.tier_names:
        problems.append(
            tenant.problem(("spec", "tier"), unknown("tier", tier_name, catalog.tier_names))
        )
    tier_doc = catalog.tiers.get(tier_name)
    tier_spec: Mapping[str, Any] = tier_doc.data["spec"] if tier_doc is not None else {}
    own = spec.get("compute", {})
    if tier_doc is not None and (_MIN_CU in own or _MAX_CU in own):
        inherited = tier_spec.get("compute", {})
        values, origins = [], []
        for key in (_MIN_CU, _MAX_CU):
            values.append(own.get(key, inherited.get(key)))
            origins.append(f"tenant {spec_name(tenant)}" if key in own else f"tier {tier_name}")
        reason = compute_range_problem(values[0], values[1], (origins[0], origins[1]))
        if reason is not None:
            problems.append(tenant.problem(("spec", "compute"), reason))
    problems.extend(
        branch_problems(
            tenant,
            spec.get("branches", []),
            tier=tier_name,
            max_branches=tier_spec.get("max_branches"),
            now=now,
        )
    )
    problems.extend(_api_key_problems(tenant, spec.get("api_keys", [])))
    ignored = spec.get("lifecycle", {}).get("ignore_changes", [])
    for i, path in enumerate(ignored):
        if path not in IGNORABLE_PATHS:
            field = ("spec", "lifecycle", "ignore_changes", i)
            problems.append(tenant.problem(field, unknown("field path", path, IGNORABLE_PATHS)))
    return problems


def spec_name(doc: SourceDocument) -> str:
    """``metadata.name`` of a schema-valid document."""
    return str(doc.data["metadata"]["name"])


def _api_key_problems(tenant: SourceDocument, keys: list[Mapping[str, Any]]) -> list[Problem]:
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for i, key in enumerate(keys):
        name = key["name"]
        if name in first:
            message = f"duplicate API key name {name!r}; already declared at spec.api_keys"
            problems.append(
                tenant.problem(("spec", "api_keys", i, "name"), f"{message}[{first[name]}]")
            )
        else:
            first[name] = i
    return problems


def _project_name_problems(
    tenant: SourceDocument, name: str, template: str, taken: dict[str, str]
) -> list[Problem]:
    project = render_project_name(template, name)
    reason = project_name_problem(project)
    where = ("metadata", "name")
    if reason is not None:
        return [tenant.problem(where, f"{reason} (project_name is {template!r})")]
    other = taken.setdefault(project, name)
    if other != name:
        message = (
            f"project name {project!r} is also the project name of tenant {other!r} "
            f"(project_name is {template!r}); include {{tenant}} in the template"
        )
        return [tenant.problem(where, message)]
    return []
