"""Manifests: load YAML files, validate them (JSON Schema, then semantics) and build the
effective ``DesiredFleet`` with the origin of every value.

Modules: ``discovery`` (which files), ``yaml_source`` (YAML documents and node marks),
``yaml_data`` (nodes to data, limits on hostile input), ``schema_check`` (per-kind JSON Schema,
with ``fastcheck`` as the quick path), ``catalog`` (kinds and identities), ``checks`` and
``branches`` (semantic rules), ``templates`` (project names), ``timing`` (durations and
timestamps), ``effective`` (Fleet defaults ← Tier ← Tenant, digests), ``loader`` (the entry).
"""

from reconciler.manifests.effective import canonical_json, fleet_parts_for, tenant_digest
from reconciler.manifests.loader import load_fleet
from reconciler.manifests.schema_check import API_VERSION, SCHEMA_FILES, load_schema
from reconciler.manifests.templates import render_project_name

__all__ = [
    "API_VERSION",
    "SCHEMA_FILES",
    "canonical_json",
    "fleet_parts_for",
    "load_fleet",
    "load_schema",
    "render_project_name",
    "tenant_digest",
]
