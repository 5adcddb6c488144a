"""Plain JSON views of live resources, as they appear in plan steps and fingerprints.

Only fields the model carries appear here. Fields Neon changes on its own (``updated_at``,
consumption counters, an endpoint's ``current_state``) are deliberately absent from the model,
so a view (and a fingerprint built from it) changes only when something the planner reads does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.core.catalog import LiveCatalog
from reconciler.core.model import LiveApiKey, LiveBranch, LiveEndpoint, LiveProject


def project_view(project: LiveProject) -> dict[str, Any]:
    """The project-level fields of ``project`` (no branches, endpoints or keys)."""
    return {
        "id": project.id,
        "name": project.name,
        "org_id": project.org_id,
        "region_id": project.region_id,
        "pg_version": project.pg_version,
        "created_at": project.created_at,
        "quota": _plain(project.quota),
        "default_endpoint_settings": _plain(project.default_endpoint_settings),
        "history_retention_seconds": project.history_retention_seconds,
        "hipaa": project.hipaa,
        "integrations": list(project.integrations),
    }


def branch_view(branch: LiveBranch) -> dict[str, Any]:
    """A live branch as a plain dict."""
    return {
        "id": branch.id,
        "name": branch.name,
        "parent_id": branch.parent_id,
        "protected": branch.protected,
        "default": branch.default,
        "created_at": branch.created_at,
        "expires_at": branch.expires_at,
    }


def endpoint_view(endpoint: LiveEndpoint) -> dict[str, Any]:
    """A live endpoint as a plain dict."""
    return {
        "id": endpoint.id,
        "branch_id": endpoint.branch_id,
        "type": endpoint.type,
        "autoscaling_limit_min_cu": endpoint.autoscaling_limit_min_cu,
        "autoscaling_limit_max_cu": endpoint.autoscaling_limit_max_cu,
        "suspend_timeout_seconds": endpoint.suspend_timeout_seconds,
    }


def key_view(key: LiveApiKey) -> dict[str, Any]:
    """A live API key (id and name only; tokens are never in the model)."""
    return {
        "id": key.id,
        "name": key.name,
        "org_id": key.org_id,
        "project_id": key.project_id,
        "created_at": key.created_at,
    }


def catalog_view(catalog: LiveCatalog) -> dict[str, Any]:
    """The default branch's databases, roles and Neon Auth (names only, never passwords)."""
    return {
        "branch_id": catalog.branch_id,
        "databases": sorted([d.name, d.owner] for d in catalog.databases),
        "roles": sorted(r.name for r in catalog.roles),
        "auth_database": catalog.auth_database,
        "auth_observed": catalog.auth_observed,
    }


def _plain(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {k: values[k] for k in sorted(values)}
