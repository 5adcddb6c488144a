"""Typed, frozen views of the Neon API's project, branch, endpoint and operation objects.

Each type has a ``from_wire(dict)`` constructor that reads only the fields neon-fleet uses and
ignores the rest, so a richer real payload (the recorded cassettes) parses as well as a minimal
one. Fields the OpenAPI document marks ``x-sensitive`` (endpoint ``host``, connection URIs,
role passwords) are deliberately not kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.neon import fields as f

#: The five keys of ``settings.quota`` (spec: ``ProjectQuota``); 0 means unlimited.
QUOTA_KEYS: tuple[str, ...] = (
    "active_time_seconds",
    "compute_time_seconds",
    "written_data_bytes",
    "data_transfer_bytes",
    "logical_size_bytes",
)

#: Operation statuses after which nothing more will happen, and which of them are failures.
TERMINAL_OK_STATUSES = frozenset({"finished", "skipped", "cancelled"})
TERMINAL_FAILED_STATUSES = frozenset({"failed", "error"})


@dataclass(frozen=True, slots=True)
class EndpointDefaults:
    """Compute settings: a project's ``default_endpoint_settings`` (``None`` = not reported)."""

    autoscaling_limit_min_cu: float | None = None
    autoscaling_limit_max_cu: float | None = None
    suspend_timeout_seconds: int | None = None

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> EndpointDefaults:
        """Parse a ``DefaultEndpointSettings`` object."""
        kind = "default_endpoint_settings"
        return cls(
            autoscaling_limit_min_cu=f.optional_number(data, "autoscaling_limit_min_cu", kind),
            autoscaling_limit_max_cu=f.optional_number(data, "autoscaling_limit_max_cu", kind),
            suspend_timeout_seconds=f.optional_int(data, "suspend_timeout_seconds", kind),
        )

    def to_wire(self) -> dict[str, Any]:
        """Return the request form, leaving out the settings that are ``None``."""
        values: dict[str, Any] = {
            "autoscaling_limit_min_cu": self.autoscaling_limit_min_cu,
            "autoscaling_limit_max_cu": self.autoscaling_limit_max_cu,
            "suspend_timeout_seconds": self.suspend_timeout_seconds,
        }
        return {key: value for key, value in values.items() if value is not None}


def _quota(settings: f.JsonObject | None) -> dict[str, int] | None:
    if settings is None:
        return None
    quota = f.optional_object(settings, "quota", "project settings")
    if quota is None:
        return None
    return {key: f.required_int(quota, key, "quota") for key in quota if key in QUOTA_KEYS}


@dataclass(frozen=True, slots=True)
class ProjectListItem:
    """A project as ``GET /projects`` lists it (spec: ``ProjectListItem``).

    ``quota`` holds the keys of ``settings.quota`` that Neon reported (``None`` when the payload
    has no quota object at all; an absent key means Neon stores nothing, i.e. unlimited).
    """

    id: str
    name: str
    region_id: str
    pg_version: int
    created_at: str
    org_id: str | None = None
    updated_at: str | None = None
    history_retention_seconds: int | None = None
    quota: Mapping[str, int] | None = None
    default_endpoint_settings: EndpointDefaults | None = None
    hipaa: bool = False
    #: Whether the payload carried ``settings`` at all (list items may omit it).
    has_settings: bool = False

    @classmethod
    def _fields_from_wire(cls, data: f.JsonObject, kind: str) -> dict[str, Any]:
        settings = f.optional_object(data, "settings", kind)
        defaults = f.optional_object(data, "default_endpoint_settings", kind)
        return {
            "id": f.required_str(data, "id", kind),
            "name": f.required_str(data, "name", kind),
            "region_id": f.required_str(data, "region_id", kind),
            "pg_version": f.required_int(data, "pg_version", kind),
            "created_at": f.required_str(data, "created_at", kind),
            "org_id": f.optional_str(data, "org_id", kind),
            "updated_at": f.optional_str(data, "updated_at", kind),
            "history_retention_seconds": f.optional_int(data, "history_retention_seconds", kind),
            "quota": _quota(settings),
            "default_endpoint_settings": (
                EndpointDefaults.from_wire(defaults) if defaults is not None else None
            ),
            "hipaa": f.flag(settings, "hipaa", kind) if settings is not None else False,
            "has_settings": settings is not None,
        }

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> ProjectListItem:
        """Parse one item of ``GET /projects``."""
        return cls(**cls._fields_from_wire(f.as_object(data, "project"), "project"))


@dataclass(frozen=True, slots=True)
class Project(ProjectListItem):
    """A project with the per-billing-period consumption counters ``GET /projects/{id}`` adds.

    Counters are ``None`` when the payload omits them; real responses may carry the zero time
    ``0001-01-01T00:00:00Z`` as the period bounds, which is kept verbatim.
    """

    consumption_period_start: str | None = None
    consumption_period_end: str | None = None
    active_time_seconds: int | None = None
    compute_time_seconds: int | None = None
    written_data_bytes: int | None = None
    data_transfer_bytes: int | None = None

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> Project:
        """Parse a full ``Project`` object."""
        kind = "project"
        data = f.as_object(data, kind)
        values = cls._fields_from_wire(data, kind)
        for key in ("consumption_period_start", "consumption_period_end"):
            values[key] = f.optional_str(data, key, kind)
        for key in (
            "active_time_seconds",
            "compute_time_seconds",
            "written_data_bytes",
            "data_transfer_bytes",
        ):
            values[key] = f.optional_int(data, key, kind)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Branch:
    """A branch (spec: ``Branch``); ``parent_id`` is ``None`` for a root branch."""

    id: str
    project_id: str
    name: str
    default: bool
    protected: bool
    created_at: str
    parent_id: str | None = None
    current_state: str | None = None
    updated_at: str | None = None
    expires_at: str | None = None
    logical_size: int | None = None

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> Branch:
        """Parse a ``Branch`` object (``primary`` is read when ``default`` is missing)."""
        kind = "branch"
        data = f.as_object(data, kind)
        return cls(
            id=f.required_str(data, "id", kind),
            project_id=f.required_str(data, "project_id", kind),
            name=f.required_str(data, "name", kind),
            default=f.flag(data, "default", kind, default=f.flag(data, "primary", kind)),
            protected=f.flag(data, "protected", kind),
            created_at=f.required_str(data, "created_at", kind),
            parent_id=f.optional_str(data, "parent_id", kind),
            current_state=f.optional_str(data, "current_state", kind),
            updated_at=f.optional_str(data, "updated_at", kind),
            expires_at=f.optional_str(data, "expires_at", kind),
            logical_size=f.optional_int(data, "logical_size", kind),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A compute endpoint (spec: ``Endpoint``), without its (sensitive) ``host``."""

    id: str
    project_id: str
    branch_id: str
    type: str
    autoscaling_limit_min_cu: float
    autoscaling_limit_max_cu: float
    suspend_timeout_seconds: int
    region_id: str | None = None
    current_state: str | None = None
    disabled: bool = False
    created_at: str | None = None
    #: When the compute was last active (absent until it first ran): idle previews are found
    #: by it.
    last_active: str | None = None

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> Endpoint:
        """Parse an ``Endpoint`` object."""
        kind = "endpoint"
        data = f.as_object(data, kind)
        minimum = f.optional_number(data, "autoscaling_limit_min_cu", kind)
        maximum = f.optional_number(data, "autoscaling_limit_max_cu", kind)
        if minimum is None or maximum is None:
            raise f.malformed(kind, "autoscaling_limit_min_cu/max_cu", None)
        return cls(
            id=f.required_str(data, "id", kind),
            project_id=f.required_str(data, "project_id", kind),
            branch_id=f.required_str(data, "branch_id", kind),
            type=f.required_str(data, "type", kind),
            autoscaling_limit_min_cu=minimum,
            autoscaling_limit_max_cu=maximum,
            suspend_timeout_seconds=f.optional_int(data, "suspend_timeout_seconds", kind) or 0,
            region_id=f.optional_str(data, "region_id", kind),
            current_state=f.optional_str(data, "current_state", kind),
            disabled=f.flag(data, "disabled", kind),
            created_at=f.optional_str(data, "created_at", kind),
            last_active=f.optional_str(data, "last_active", kind),
        )


@dataclass(frozen=True, slots=True)
class Operation:
    """An asynchronous Neon operation (spec: ``Operation``)."""

    id: str
    project_id: str
    action: str
    status: str
    branch_id: str | None = None
    endpoint_id: str | None = None
    error: str | None = None
    failures_count: int = 0
    created_at: str | None = None
    updated_at: str | None = None
    total_duration_ms: int | None = field(default=None, compare=False)

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> Operation:
        """Parse an ``Operation`` object."""
        kind = "operation"
        data = f.as_object(data, kind)
        return cls(
            id=f.required_str(data, "id", kind),
            project_id=f.required_str(data, "project_id", kind),
            action=f.required_str(data, "action", kind),
            status=f.required_str(data, "status", kind),
            branch_id=f.optional_str(data, "branch_id", kind),
            endpoint_id=f.optional_str(data, "endpoint_id", kind),
            error=f.optional_str(data, "error", kind),
            failures_count=f.optional_int(data, "failures_count", kind) or 0,
            created_at=f.optional_str(data, "created_at", kind),
            updated_at=f.optional_str(data, "updated_at", kind),
            total_duration_ms=f.optional_int(data, "total_duration_ms", kind),
        )

    @property
    def is_terminal(self) -> bool:
        """True when the operation will not change any more."""
        return self.status in TERMINAL_OK_STATUSES or self.status in TERMINAL_FAILED_STATUSES

    @property
    def has_failed(self) -> bool:
        """True when the operation ended ``failed`` or ``error``."""
        return self.status in TERMINAL_FAILED_STATUSES
