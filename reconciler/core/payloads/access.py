"""Payloads of the default branch's catalog: roles, databases, Neon Auth, connection secrets,
and the read-write compute of a declared branch.

None of them holds a secret: a connection secret or a role password is named, never carried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from reconciler.core.payloads.base import (
    Action,
    JsonObject,
    _absent,
    _Creates,
    _need,
    _object,
    _Removes,
    _strings,
)


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


#: The access family's payloads; ``plan_payloads.Payload`` is the union of the families.
AccessPayload = (
    CreateRole
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

#: The same classes, in the order ``plan_payloads.PAYLOAD_TYPES`` lists them.
PAYLOADS: tuple[type[AccessPayload], ...] = (
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
