"""Payloads of project steps: create, adopt, update (project and endpoint), transfer, delete."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from reconciler.core.payloads.base import (
    _OPT_INT,
    _OPT_STR,
    Action,
    JsonObject,
    _absent,
    _Changes,
    _Creates,
    _need,
    _object,
    _optional,
    _Removes,
    _rest,
    _strings,
)
from reconciler.errors import PlanFileError


@dataclass(frozen=True)
class CreateProject(_Creates):
    """A new project for a tenant, with every setting the manifests give it."""

    ACTION: ClassVar[Action] = Action.CREATE_PROJECT
    name: str
    org_id: str
    region_id: str | None
    pg_version: int | None
    quota: JsonObject
    #: The project's ``default_endpoint_settings`` (the manifests' ``compute``).
    compute: JsonObject
    history_retention_seconds: int | None = None
    hipaa: bool = False

    def after_json(self) -> dict[str, Any]:
        after: dict[str, Any] = {
            "name": self.name,
            "org_id": self.org_id,
            "region_id": self.region_id,
            "pg_version": self.pg_version,
            "quota": dict(self.quota),
            "default_endpoint_settings": dict(self.compute),
        }
        if self.history_retention_seconds is not None:
            after["history_retention_seconds"] = self.history_retention_seconds
        if self.hipaa:
            after["hipaa"] = True
        return after

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(before, where + ".before")
        at = where + ".after"
        return cls(
            name=_need(after, "name", str, at),
            org_id=_need(after, "org_id", str, at),
            region_id=_need(after, "region_id", _OPT_STR, at),
            pg_version=_need(after, "pg_version", _OPT_INT, at),
            quota=_need(after, "quota", (dict, type(None)), at) or {},
            compute=_need(after, "default_endpoint_settings", (dict, type(None)), at) or {},
            history_retention_seconds=_optional(after, "history_retention_seconds", int, at),
            hipaa=bool(_optional(after, "hipaa", bool, at)),
        )


@dataclass(frozen=True)
class AdoptProject:
    """An existing project becomes the tenant's (recorded in the ledger; nothing changes live)."""

    ACTION: ClassVar[Action] = Action.ADOPT_PROJECT
    project_id: str
    name: str
    org_id: str
    #: The live project as observed (``views.project_view``).
    live: JsonObject
    #: The removed tenant the project is handed over from, if any.
    handover_from: str | None = None

    def before_json(self) -> JsonObject | None:
        return dict(self.live)

    def after_json(self) -> JsonObject | None:
        after: dict[str, Any] = {
            "project_id": self.project_id,
            "name": self.name,
            "org_id": self.org_id,
        }
        if self.handover_from:
            after["handover_from"] = self.handover_from
        return after

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        at = where + ".after"
        live = _object(before, where + ".before")
        return cls(
            project_id=_need(after, "project_id", str, at),
            name=_need(after, "name", str, at),
            org_id=_need(after, "org_id", str, at),
            live=live,
            handover_from=_optional(after, "handover_from", str, at) or None,
        )


@dataclass(frozen=True)
class UpdateProject(_Changes):
    """Project settings that differ from the manifests: ``old`` live values, ``new`` desired."""

    ACTION: ClassVar[Action] = Action.UPDATE_PROJECT
    project_id: str
    #: Only the fields that change (``name``, ``quota``, ``default_endpoint_settings``,
    #: ``history_retention_seconds``, ``hipaa``), live values.
    old: JsonObject
    #: The same fields, desired values.
    new: JsonObject

    def _ident(self) -> dict[str, Any]:
        return {"project_id": self.project_id}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _object(before, where + ".before")
        project_id = _need(after, "project_id", str, where + ".after")
        return cls(project_id, _rest(before or {}, "project_id"), _rest(after or {}, "project_id"))


@dataclass(frozen=True)
class UpdateEndpoint(_Changes):
    """Compute settings of one existing endpoint that differ from the manifests."""

    ACTION: ClassVar[Action] = Action.UPDATE_ENDPOINT
    endpoint_id: str
    branch_id: str
    #: The changed compute fields, live values.
    old: JsonObject
    #: The changed compute fields, desired values.
    new: JsonObject

    def _ident(self) -> dict[str, Any]:
        return {"endpoint_id": self.endpoint_id, "branch_id": self.branch_id}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _object(before, where + ".before")
        at = where + ".after"
        ident = ("endpoint_id", "branch_id")
        return cls(
            endpoint_id=_need(after, "endpoint_id", str, at),
            branch_id=_need(after, "branch_id", str, at),
            old=_rest(before or {}, *ident),
            new=_rest(after or {}, *ident),
        )


@dataclass(frozen=True)
class TransferProjects:
    """One batch of projects moved from one org to another (the only step of no tenant)."""

    ACTION: ClassVar[Action] = Action.TRANSFER_PROJECTS
    source_org_id: str
    destination_org_id: str
    #: The moved projects, and the tenant of each at the same index.
    project_ids: tuple[str, ...]
    tenants: tuple[str, ...]

    def before_json(self) -> JsonObject | None:
        return {"org_id": self.source_org_id, "tenants": list(self.tenants)}

    def after_json(self) -> JsonObject | None:
        return {
            "source_org_id": self.source_org_id,
            "destination_org_id": self.destination_org_id,
            "project_ids": list(self.project_ids),
            "tenants": list(self.tenants),
        }

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        at = where + ".after"
        project_ids = _strings(_need(after, "project_ids", list, at), at + ".project_ids")
        tenants = _strings(_need(after, "tenants", list, at), at + ".tenants")
        if len(project_ids) != len(tenants):
            raise PlanFileError(f"plan file: {at}: project_ids and tenants differ in length")
        return cls(
            source_org_id=_need(after, "source_org_id", str, at),
            destination_org_id=_need(after, "destination_org_id", str, at),
            project_ids=project_ids,
            tenants=tenants,
        )

    def projects(self) -> dict[str, str]:
        """Project id → its tenant."""
        return dict(zip(self.project_ids, self.tenants, strict=True))


@dataclass(frozen=True)
class DeleteProject(_Removes):
    """A removed tenant's project is deleted (recoverable for Neon's recovery window)."""

    ACTION: ClassVar[Action] = Action.DELETE_PROJECT
    project_id: str
    #: None when the project was not observed (only the ledger knows it).
    name: str | None
    org_id: str
    #: The rest of the live project view, when it was observed.
    live: JsonObject = field(default_factory=dict)

    def before_json(self) -> JsonObject | None:
        return {"id": self.project_id, "name": self.name, "org_id": self.org_id, **self.live}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(after, where + ".after")
        at = where + ".before"
        return cls(
            project_id=_need(before, "id", str, at),
            name=_need(before, "name", _OPT_STR, at),
            org_id=_need(before, "org_id", str, at),
            live=_rest(before or {}, "id", "name", "org_id"),
        )


#: The project family's payloads; ``plan_payloads.Payload`` is the union of the families.
ProjectPayload = (
    CreateProject | AdoptProject | UpdateProject | UpdateEndpoint | TransferProjects | DeleteProject
)

#: The same classes, in the order ``plan_payloads.PAYLOAD_TYPES`` lists them.
PAYLOADS: tuple[type[ProjectPayload], ...] = (
    CreateProject,
    AdoptProject,
    UpdateProject,
    UpdateEndpoint,
    TransferProjects,
    DeleteProject,
)
