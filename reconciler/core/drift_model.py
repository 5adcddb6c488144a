"""The drift item: what ``fleet drift`` reports, one differing thing, with a stable identity.

Every item has a stable identity, ``<tenant>/<kind>/<path>[/<resource>]`` (``-`` for items of no
tenant), so the ledger can say since when it has drifted. Paths use the manifests' field paths
(``quota.written_data_bytes``, ``compute.autoscaling_limit_max_cu``, ``branches.dev``,
``api_keys.runtime``), the same ones ``lifecycle.ignore_changes`` and ``.fleetignore`` speak.
Items come from a plan's steps (``core.drift_items``, ``core.drift_access``) and from the
read-only checks of the live fleet (``core.drift_checks``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from reconciler.core.naming import API_KEY_SEPARATOR


class DriftKind(enum.StrEnum):
    """What kind of drift an item is. The values are the report's ``kind`` strings."""

    CHANGED = "changed"
    MISSING_PROJECT = "missing_project"
    WRONG_ORG = "wrong_org"
    UNRECORDED_PROJECT = "unrecorded_project"
    REMOVED_TENANT = "removed_tenant"
    MISSING_BRANCH = "missing_branch"
    UNDECLARED_BRANCH = "undeclared_branch"
    OLD_BRANCH = "old_branch"
    EXPIRED_BRANCH = "expired_branch"
    MISSING_KEY = "missing_key"
    UNDECLARED_KEY = "undeclared_key"
    BROKEN_KEY = "broken_key"
    MISSING_ROLE = "missing_role"
    UNDECLARED_ROLE = "undeclared_role"
    MISSING_DATABASE = "missing_database"
    UNDECLARED_DATABASE = "undeclared_database"
    MISSING_AUTH = "missing_auth"
    UNDECLARED_AUTH = "undeclared_auth"
    MISSING_COMPUTE = "missing_compute"
    OUTDATED_DELIVERY = "outdated_delivery"
    UNMANAGED_PROJECT = "unmanaged_project"
    BLOCKER = "blocker"


#: Report order of kinds within a tenant.
KIND_ORDER: dict[DriftKind, int] = {kind: index for index, kind in enumerate(DriftKind)}

#: Plan field path prefixes → manifest field paths (what users write in ``.fleetignore``).
_COMPUTE_PREFIX = ("default_endpoint_settings.", "compute.")


@dataclass(frozen=True)
class DriftItem:
    """One thing that differs between the manifests and the live fleet.

    ``live`` and ``desired`` are plain JSON values (never secrets); ``origin`` says where the
    desired value came from (``tier free``, ``tenant cust-1``); ``resource`` names the live
    object when a path alone is ambiguous (an endpoint id, a key id, a project id).
    """

    kind: DriftKind
    tenant: str | None
    path: str
    live: Any = None
    desired: Any = None
    origin: str = ""
    message: str = ""
    resource: str = ""

    @property
    def id(self) -> str:
        """The stable identity of the item across reports."""
        parts = [self.tenant or "-", self.kind.value, self.path]
        if self.resource:
            parts.append(self.resource)
        return "/".join(parts)

    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.tenant or "", KIND_ORDER[self.kind], self.path, self.resource)


def manifest_path(plan_path: str) -> str:
    """A plan change path as manifests write it: ``default_endpoint_settings.x`` → ``compute.x``."""
    if plan_path == "name":
        return "project_name"
    old, new = _COMPUTE_PREFIX
    return new + plan_path[len(old) :] if plan_path.startswith(old) else plan_path


def changed_item(
    tenant: str | None, path: str, live: Any, desired: Any, origin: str, resource: str = ""
) -> DriftItem:
    where = f" on endpoint {resource}" if resource else ""
    return DriftItem(
        DriftKind.CHANGED,
        tenant,
        manifest_path(path),
        live=live,
        desired=desired,
        origin=origin,
        message=f"changed outside neon-fleet{where}",
        resource=resource,
    )


def undeclared_key_item(tenant: str | None, key_name: str, key_id: Any) -> DriftItem:
    short = key_name.split(API_KEY_SEPARATOR, 1)[-1]
    return DriftItem(
        DriftKind.UNDECLARED_KEY,
        tenant,
        f"api_keys.{short}",
        live={"key_name": key_name, "key_id": key_id},
        message="carries the fleet's key naming prefix but no manifest declares it",
        resource=str(key_id),
    )
