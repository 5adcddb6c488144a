"""Request bodies, built by pure functions so the contract tests can check each one.

Only fields the caller set are sent (Neon treats an absent field as "leave alone"), with one
deliberate exception: a quota is always sent whole, exactly as given, because whether Neon merges
a partial ``settings.quota`` is undocumented.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Final

from reconciler import errors
from reconciler.neon.wire import QUOTA_KEYS, EndpointDefaults

#: Neon's cap on project ids per transfer request.
MAX_TRANSFER_PROJECTS = 400


class Unset(enum.Enum):
    """Marks an argument that was not given, where ``None`` has a meaning of its own."""

    UNSET = "unset"


#: "Not given" (for ``expires_at``, ``None`` means "remove the expiry").
UNSET: Final = Unset.UNSET

ComputeSettings = EndpointDefaults | Mapping[str, float | int]


def _compute(settings: ComputeSettings) -> dict[str, Any]:
    if isinstance(settings, EndpointDefaults):
        return settings.to_wire()
    return {key: value for key, value in settings.items() if value is not None}


def _quota(quota: Mapping[str, int]) -> dict[str, int]:
    unknown = sorted(set(quota) - set(QUOTA_KEYS))
    if unknown:
        raise errors.UsageError(f"unknown quota key(s): {', '.join(unknown)}")
    return dict(quota)


def _settings(quota: Mapping[str, int] | None, hipaa: bool | None) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if quota is not None:
        settings["quota"] = _quota(quota)
    if hipaa is not None:
        settings["hipaa"] = hipaa
    return settings


def project_create(
    *,
    name: str,
    org_id: str | None = None,
    region_id: str | None = None,
    pg_version: int | None = None,
    quota: Mapping[str, int] | None = None,
    default_endpoint_settings: ComputeSettings | None = None,
    history_retention_seconds: int | None = None,
    hipaa: bool | None = None,
) -> dict[str, Any]:
    """Body of ``POST /projects``."""
    project: dict[str, Any] = {"name": name}
    optional = {"org_id": org_id, "region_id": region_id, "pg_version": pg_version}
    project.update({key: value for key, value in optional.items() if value is not None})
    if default_endpoint_settings is not None:
        project["default_endpoint_settings"] = _compute(default_endpoint_settings)
    if history_retention_seconds is not None:
        project["history_retention_seconds"] = history_retention_seconds
    settings = _settings(quota, hipaa)
    if settings:
        project["settings"] = settings
    return {"project": project}


def project_update(
    *,
    name: str | None = None,
    quota: Mapping[str, int] | None = None,
    default_endpoint_settings: ComputeSettings | None = None,
    history_retention_seconds: int | None = None,
    hipaa: bool | None = None,
) -> dict[str, Any]:
    """Body of ``PATCH /projects/{project_id}``."""
    project: dict[str, Any] = {}
    if name is not None:
        project["name"] = name
    if default_endpoint_settings is not None:
        project["default_endpoint_settings"] = _compute(default_endpoint_settings)
    if history_retention_seconds is not None:
        project["history_retention_seconds"] = history_retention_seconds
    settings = _settings(quota, hipaa)
    if settings:
        project["settings"] = settings
    return {"project": project}


def branch_create(
    *,
    name: str,
    parent_id: str | None = None,
    protected: bool | None = None,
    expires_at: str | None = None,
    endpoint_type: str | None = None,
    endpoint_settings: ComputeSettings | None = None,
) -> dict[str, Any]:
    """Body of ``POST /projects/{project_id}/branches``; ``endpoint_type`` adds one compute."""
    branch: dict[str, Any] = {"name": name}
    optional = {"parent_id": parent_id, "protected": protected, "expires_at": expires_at}
    branch.update({key: value for key, value in optional.items() if value is not None})
    body: dict[str, Any] = {"branch": branch}
    if endpoint_type is not None:
        endpoint: dict[str, Any] = {"type": endpoint_type}
        if endpoint_settings is not None:
            endpoint.update(_compute(endpoint_settings))
        body["endpoints"] = [endpoint]
    elif endpoint_settings is not None:
        raise errors.UsageError("endpoint_settings needs an endpoint_type")
    return body


def branch_update(
    *,
    name: str | None = None,
    protected: bool | None = None,
    expires_at: str | Unset | None = UNSET,
) -> dict[str, Any]:
    """Body of ``PATCH .../branches/{branch_id}``; ``expires_at=None`` removes the expiry."""
    branch: dict[str, Any] = {}
    if name is not None:
        branch["name"] = name
    if protected is not None:
        branch["protected"] = protected
    if expires_at is not UNSET:
        branch["expires_at"] = expires_at
    return {"branch": branch}


def endpoint_update(
    *,
    autoscaling_limit_min_cu: float | None = None,
    autoscaling_limit_max_cu: float | None = None,
    suspend_timeout_seconds: int | None = None,
) -> dict[str, Any]:
    """Body of ``PATCH .../endpoints/{endpoint_id}``."""
    settings = EndpointDefaults(
        autoscaling_limit_min_cu, autoscaling_limit_max_cu, suspend_timeout_seconds
    )
    return {"endpoint": settings.to_wire()}


def endpoint_create(
    branch_id: str, endpoint_type: str, settings: ComputeSettings | None
) -> dict[str, Any]:
    """Body of ``POST /projects/{project_id}/endpoints``."""
    endpoint: dict[str, Any] = {"branch_id": branch_id, "type": endpoint_type}
    if settings is not None:
        endpoint.update(_compute(settings))
    return {"endpoint": endpoint}


def org_api_key_create(name: str, project_id: str | None = None) -> dict[str, Any]:
    """Body of ``POST /organizations/{org_id}/api_keys`` (project-scoped with ``project_id``)."""
    body: dict[str, Any] = {"key_name": name}
    if project_id is not None:
        body["project_id"] = project_id
    return body


def transfer(destination_org_id: str, project_ids: Sequence[str]) -> dict[str, Any]:
    """Body of ``POST /organizations/{source_org_id}/projects/transfer`` (1..400 ids)."""
    ids = list(project_ids)
    if not ids:
        raise errors.UsageError("a transfer needs at least one project id")
    if len(ids) > MAX_TRANSFER_PROJECTS:
        raise errors.UsageError(
            f"a transfer takes at most {MAX_TRANSFER_PROJECTS} projects, got {len(ids)}; "
            "split it into batches"
        )
    return {"destination_org_id": destination_org_id, "project_ids": ids}
