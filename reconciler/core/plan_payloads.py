"""What each plan action carries: one frozen payload type per ``Action`` (a closed union).

A step's payload is the typed form of the plan file's ``before``/``after`` objects. Each payload
class declares, in one place, its ``ACTION``, its fields, how it is written (``before_json`` and
``after_json``, keys in the order the plan file has always had them, so files stay
byte-identical) and how it is read back (``from_json``, naming the field of a bad file).
``PAYLOAD_TYPES`` maps every action to its class; an import-time check keeps it complete.

Fields the applier acts on are typed. The settings an update changes are a varying subset of a
resource's fields (only what differs from the manifests), so they stay a plain JSON mapping
(``old``/``new``), as do the live views a step shows (``live``): they are explained, never
acted on field by field.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from reconciler.errors import PlanFileError

#: A plain JSON object (what ``json.loads`` gives for ``{...}``).
JsonObject = Mapping[str, Any]


class Action(enum.StrEnum):
    """What a step does. The values are the plan file's ``action`` strings."""

    CREATE_PROJECT = "create_project"
    ADOPT_PROJECT = "adopt_project"
    UPDATE_PROJECT = "update_project"
    UPDATE_ENDPOINT = "update_endpoint"
    TRANSFER_PROJECTS = "transfer_projects"
    CREATE_BRANCH = "create_branch"
    UPDATE_BRANCH = "update_branch"
    DELETE_BRANCH = "delete_branch"
    CREATE_API_KEY = "create_api_key"
    REVOKE_API_KEY = "revoke_api_key"
    DELETE_PROJECT = "delete_project"
    CREATE_ROLE = "create_role"
    DELETE_ROLE = "delete_role"
    CREATE_DATABASE = "create_database"
    UPDATE_DATABASE = "update_database"
    DELETE_DATABASE = "delete_database"
    ENABLE_AUTH = "enable_auth"
    DISABLE_AUTH = "disable_auth"
    CREATE_ENDPOINT = "create_endpoint"
    RESET_ROLE_PASSWORD = "reset_role_password"
    DELIVER_CONNECTION_SECRET = "deliver_connection_secret"


#: The actions of plan files before databases, roles and secrets existed: a plan's ``summary``
#: always counts these, and later actions only when the plan has them, so plan files of fleets
#: that use none of them keep their bytes.
ALWAYS_COUNTED: tuple[Action, ...] = tuple(Action)[:11]


# ------------------------------------------------------------------------------ reading helpers


def _need(data: JsonObject | None, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``data[name]``, which must exist and be of ``kind`` (``None`` allowed when in ``kind``)."""
    if data is None:
        raise PlanFileError(f"plan file: {where}: expected an object")
    if name not in data:
        raise PlanFileError(f"plan file: {where}.{name}: missing")
    value = data[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:  # bool is an int subclass
        raise PlanFileError(f"plan file: {where}.{name}: expected {_names(kinds)}")
    if not isinstance(value, kinds) and not (value is None and type(None) in kinds):
        raise PlanFileError(f"plan file: {where}.{name}: expected {_names(kinds)}")
    return value


def _optional(data: JsonObject | None, name: str, kind: type, where: str) -> Any:
    """``data[name]`` when present and not null (then of ``kind``), else None."""
    if data is None or data.get(name) is None:
        return None
    return _need(data, name, kind, where)


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join("null" if k is type(None) else k.__name__ for k in kinds)


def _rest(data: JsonObject, *taken: str) -> dict[str, Any]:
    """The entries of ``data`` other than ``taken``, in file order."""
    return {k: v for k, v in data.items() if k not in taken}


def _absent(data: JsonObject | None, where: str) -> None:
    if data is not None:
        raise PlanFileError(f"plan file: {where}: expected null")


def _object(value: JsonObject | None, where: str) -> JsonObject:
    if not isinstance(value, dict):
        raise PlanFileError(f"plan file: {where}: expected an object")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PlanFileError(f"plan file: {where}: expected a list of strings")
    return tuple(value)


_OPT_STR = (str, type(None))
_OPT_INT = (int, type(None))


# ------------------------------------------------------------------------------------- shapes


class _Creates:
    """A payload of something that does not exist yet: the plan file's ``before`` is null."""

    def before_json(self) -> JsonObject | None:
        return None


class _Removes:
    """A payload of something that goes away: the plan file's ``after`` is null."""

    def after_json(self) -> JsonObject | None:
        return None


class _Changes:
    """A payload that changes some settings: identity first, then the ``old``/``new`` values."""

    old: JsonObject
    new: JsonObject

    def _ident(self) -> dict[str, Any]:
        raise NotImplementedError

    def before_json(self) -> JsonObject | None:
        return {**self._ident(), **self.old}

    def after_json(self) -> JsonObject | None:
        return {**self._ident(), **self.new}


# ------------------------------------------------------------------------------------ projects


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


# ------------------------------------------------------------------------------------ branches


@dataclass(frozen=True)
class CreateBranch(_Creates):
    """A declared branch that does not exist; its parent by name."""

    ACTION: ClassVar[Action] = Action.CREATE_BRANCH
    name: str
    parent: str | None
    protected: bool
    #: Absolute expiry (RFC 3339); or relative, resolved at apply time.
    expires_at: str | None = None
    expires_in_seconds: int | None = None

    def after_json(self) -> dict[str, Any]:
        after: dict[str, Any] = {
            "name": self.name,
            "parent": self.parent,
            "protected": self.protected,
        }
        if self.expires_at is not None:
            after["expires_at"] = self.expires_at
        elif self.expires_in_seconds is not None:
            after["expires_in_seconds"] = self.expires_in_seconds
        return after

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(before, where + ".before")
        at = where + ".after"
        return cls(
            name=_need(after, "name", str, at),
            parent=_need(after, "parent", _OPT_STR, at),
            protected=bool(_need(after, "protected", (bool, type(None)), at)),
            expires_at=_optional(after, "expires_at", str, at),
            expires_in_seconds=_optional(after, "expires_in_seconds", int, at),
        )


@dataclass(frozen=True)
class UpdateBranch(_Changes):
    """Branch settings (protection, expiry) that differ from the manifests."""

    ACTION: ClassVar[Action] = Action.UPDATE_BRANCH
    name: str
    #: The live branch's id (None when the live branch had none, looked up at apply time).
    branch_id: str | None
    #: The changed fields (``protected``, ``expires_at``, ``expires_in_seconds``), live values.
    old: JsonObject
    #: The same fields, desired values.
    new: JsonObject

    def _ident(self) -> dict[str, Any]:
        return {"name": self.name, "branch_id": self.branch_id}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _object(before, where + ".before")
        at = where + ".after"
        return cls(
            name=_need(after, "name", str, at),
            branch_id=_need(after, "branch_id", _OPT_STR, at),
            old=_rest(before or {}, "name", "branch_id"),
            new=_rest(after or {}, "name", "branch_id"),
        )


@dataclass(frozen=True)
class DeleteBranch(_Removes):
    """A live branch the manifests do not declare (or an expired restore leftover)."""

    ACTION: ClassVar[Action] = Action.DELETE_BRANCH
    branch_id: str
    name: str
    #: The rest of the live branch view (``views.branch_view``).
    live: JsonObject = field(default_factory=dict)

    def before_json(self) -> JsonObject | None:
        return {"id": self.branch_id, "name": self.name, **self.live}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(after, where + ".after")
        at = where + ".before"
        return cls(
            branch_id=_need(before, "id", str, at),
            name=_need(before, "name", str, at),
            live=_rest(before or {}, "id", "name"),
        )


# -------------------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class CreateApiKey(_Creates):
    """A project-scoped org API key to mint and deliver to the secret sink."""

    ACTION: ClassVar[Action] = Action.CREATE_API_KEY
    #: The manifests' key name (``runtime``) and the full Neon key name (``t-cust:runtime``).
    key: str
    key_name: str
    org_id: str
    #: None while the project is still to be created (the applier knows it by then).
    project_id: str | None

    def after_json(self) -> JsonObject | None:
        return {
            "key": self.key,
            "key_name": self.key_name,
            "org_id": self.org_id,
            "project_id": self.project_id,
        }

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(before, where + ".before")
        at = where + ".after"
        return cls(
            key=_need(after, "key", str, at),
            key_name=_need(after, "key_name", str, at),
            org_id=_need(after, "org_id", str, at),
            project_id=_need(after, "project_id", _OPT_STR, at),
        )


@dataclass(frozen=True)
class RevokeApiKey(_Removes):
    """An API key to revoke (undeclared, rotated out, or of a project about to be deleted)."""

    ACTION: ClassVar[Action] = Action.REVOKE_API_KEY
    key_id: int
    key_name: str
    org_id: str
    project_id: str | None

    def before_json(self) -> JsonObject | None:
        return {
            "key_id": self.key_id,
            "key_name": self.key_name,
            "org_id": self.org_id,
            "project_id": self.project_id,
        }

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(after, where + ".after")
        at = where + ".before"
        return cls(
            key_id=_need(before, "key_id", int, at),
            key_name=_need(before, "key_name", str, at),
            org_id=_need(before, "org_id", str, at),
            project_id=_need(before, "project_id", _OPT_STR, at),
        )


# -------------------------------------------------------------- databases, roles, auth, secrets


@dataclass(frozen=True)
class CreateRole(_Creates):
    """A declared role of the default branch that does not exist (Neon keeps its password)."""

    ACTION: ClassVar[Action] = Action.CREATE_ROLE
    name: str

    def after_json(self) -> JsonObject | None:
        return {"role": self.name}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(before, where + ".before")
        return cls(_need(after, "role", str, where + ".after"))


@dataclass(frozen=True)
class DeleteRole(_Removes):
    """A role of the default branch the manifests leave out (``policy.prune_databases``)."""

    ACTION: ClassVar[Action] = Action.DELETE_ROLE
    name: str

    def before_json(self) -> JsonObject | None:
        return {"role": self.name}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(after, where + ".after")
        return cls(_need(before, "role", str, where + ".before"))


@dataclass(frozen=True)
class CreateDatabase(_Creates):
    """A declared database of the default branch that does not exist, and its owner."""

    ACTION: ClassVar[Action] = Action.CREATE_DATABASE
    name: str
    owner: str

    def after_json(self) -> JsonObject | None:
        return {"database": self.name, "owner": self.owner}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(before, where + ".before")
        at = where + ".after"
        return cls(_need(after, "database", str, at), _need(after, "owner", str, at))


@dataclass(frozen=True)
class UpdateDatabase:
    """A database whose owner is not the declared one."""

    ACTION: ClassVar[Action] = Action.UPDATE_DATABASE
    name: str
    old_owner: str
    owner: str

    def before_json(self) -> JsonObject | None:
        return {"database": self.name, "owner": self.old_owner}

    def after_json(self) -> JsonObject | None:
        return {"database": self.name, "owner": self.owner}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        old, new = where + ".before", where + ".after"
        return cls(
            _need(after, "database", str, new),
            _need(before, "owner", str, old),
            _need(after, "owner", str, new),
        )


@dataclass(frozen=True)
class DeleteDatabase(_Removes):
    """A database the manifests leave out: deleting it destroys its data."""

    ACTION: ClassVar[Action] = Action.DELETE_DATABASE
    name: str
    owner: str

    def before_json(self) -> JsonObject | None:
        return {"database": self.name, "owner": self.owner}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(after, where + ".after")
        at = where + ".before"
        return cls(_need(before, "database", str, at), _need(before, "owner", str, at))


@dataclass(frozen=True)
class EnableAuth(_Creates):
    """Turn Neon Auth on for the default branch; its one-time keys go to the secret sink."""

    ACTION: ClassVar[Action] = Action.ENABLE_AUTH
    provider: str
    database: str

    def after_json(self) -> JsonObject | None:
        return {"provider": self.provider, "database": self.database}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(before, where + ".before")
        at = where + ".after"
        return cls(_need(after, "provider", str, at), _need(after, "database", str, at))


@dataclass(frozen=True)
class DisableAuth(_Removes):
    """Turn Neon Auth off (only with ``policy.allow_auth_removal``)."""

    ACTION: ClassVar[Action] = Action.DISABLE_AUTH
    database: str

    def before_json(self) -> JsonObject | None:
        return {"database": self.database}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(after, where + ".after")
        return cls(_need(before, "database", str, where + ".before"))


@dataclass(frozen=True)
class DeliverConnectionSecret(_Creates):
    """Deliver a connection secret to the sink: which one, never its value."""

    ACTION: ClassVar[Action] = Action.DELIVER_CONNECTION_SECRET
    name: str
    role: str
    database: str
    branch: str
    pooled: bool

    def after_json(self) -> JsonObject | None:
        return {
            "secret_name": self.name,
            "role": self.role,
            "database": self.database,
            "branch": self.branch,
            "pooled": self.pooled,
        }

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(before, where + ".before")
        at = where + ".after"
        return cls(
            name=_need(after, "secret_name", str, at),
            role=_need(after, "role", str, at),
            database=_need(after, "database", str, at),
            branch=_need(after, "branch", str, at),
            pooled=_need(after, "pooled", bool, at),
        )


@dataclass(frozen=True)
class ResetRolePassword:
    """Give a role a new password (``fleet secrets rotate``); ``secrets`` use it and follow."""

    ACTION: ClassVar[Action] = Action.RESET_ROLE_PASSWORD
    role: str
    #: The connection secrets (names) that use the role: delivered again after the reset.
    secrets: tuple[str, ...] = ()

    def before_json(self) -> JsonObject | None:
        return {"role": self.role}

    def after_json(self) -> JsonObject | None:
        return {"role": self.role, "secrets": list(self.secrets)}

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _object(before, where + ".before")
        at = where + ".after"
        return cls(_need(after, "role", str, at), _strings(_need(after, "secrets", list, at), at))


@dataclass(frozen=True)
class CreateEndpoint(_Creates):
    """A read-write compute for a declared branch that has none."""

    ACTION: ClassVar[Action] = Action.CREATE_ENDPOINT
    branch: str
    min_cu: float | None
    max_cu: float | None
    suspend_timeout: int | None

    def after_json(self) -> JsonObject | None:
        return {
            "branch": self.branch,
            "min_cu": self.min_cu,
            "max_cu": self.max_cu,
            "suspend_timeout": self.suspend_timeout,
        }

    @classmethod
    def from_json(cls, before: JsonObject | None, after: JsonObject | None, where: str) -> Self:
        _absent(before, where + ".before")
        at = where + ".after"
        return cls(
            branch=_need(after, "branch", str, at),
            min_cu=_need(after, "min_cu", (int, float, type(None)), at),
            max_cu=_need(after, "max_cu", (int, float, type(None)), at),
            suspend_timeout=_need(after, "suspend_timeout", (int, type(None)), at),
        )


#: Every payload type: a closed union, one per ``Action``.
Payload = (
    CreateProject
    | AdoptProject
    | UpdateProject
    | UpdateEndpoint
    | TransferProjects
    | DeleteProject
    | CreateBranch
    | UpdateBranch
    | DeleteBranch
    | CreateApiKey
    | RevokeApiKey
    | CreateRole
    | DeleteRole
    | CreateDatabase
    | UpdateDatabase
    | DeleteDatabase
    | EnableAuth
    | DisableAuth
    | CreateEndpoint
    | ResetRolePassword
    | DeliverConnectionSecret
)

#: Action → its payload type (what the codec reads a step's ``before``/``after`` into).
PAYLOAD_TYPES: dict[Action, type[Payload]] = {
    cls.ACTION: cls
    for cls in (
        CreateProject,
        AdoptProject,
        UpdateProject,
        UpdateEndpoint,
        TransferProjects,
        DeleteProject,
        CreateBranch,
        UpdateBranch,
        DeleteBranch,
        CreateApiKey,
        RevokeApiKey,
        CreateRole,
        DeleteRole,
        CreateDatabase,
        UpdateDatabase,
        DeleteDatabase,
        EnableAuth,
        DisableAuth,
        CreateEndpoint,
        ResetRolePassword,
        DeliverConnectionSecret,
    )
}


def check_complete(registry: Mapping[Action, object], what: str) -> None:
    """Raise ``TypeError`` (at import time) unless ``registry`` has exactly every ``Action``."""
    missing = sorted(a.value for a in Action if a not in registry)
    extra = sorted(str(a) for a in registry if a not in set(Action))
    if missing or extra:
        raise TypeError(f"{what}: missing {missing}, unknown {extra}")


#: Tie-break order of actions in the plan (after dependencies and tenant name).
ACTION_ORDER: dict[Action, int] = {
    action: index
    for index, action in enumerate(
        (
            Action.ADOPT_PROJECT,
            Action.CREATE_PROJECT,
            Action.TRANSFER_PROJECTS,
            Action.UPDATE_PROJECT,
            Action.UPDATE_ENDPOINT,
            Action.CREATE_BRANCH,
            Action.UPDATE_BRANCH,
            Action.DELETE_BRANCH,
            Action.CREATE_ENDPOINT,
            Action.CREATE_ROLE,
            Action.CREATE_DATABASE,
            Action.UPDATE_DATABASE,
            Action.ENABLE_AUTH,
            Action.RESET_ROLE_PASSWORD,
            Action.DELIVER_CONNECTION_SECRET,
            Action.DISABLE_AUTH,
            Action.DELETE_DATABASE,
            Action.DELETE_ROLE,
            Action.CREATE_API_KEY,
            Action.REVOKE_API_KEY,
            Action.DELETE_PROJECT,
        )
    )
}

check_complete(PAYLOAD_TYPES, "plan_payloads.PAYLOAD_TYPES")
check_complete(ACTION_ORDER, "plan_payloads.ACTION_ORDER")


def payload_from_json(
    action: Action, before: JsonObject | None, after: JsonObject | None, where: str = "step"
) -> Payload:
    """The typed payload of a step of ``action`` from its plan file ``before``/``after``."""
    return PAYLOAD_TYPES[action].from_json(before, after, where)
