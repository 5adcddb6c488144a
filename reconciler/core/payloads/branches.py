"""Payloads of branch steps: create, update, delete."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from reconciler.core.payloads.base import (
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
)


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


#: The branch family's payloads; ``plan_payloads.Payload`` is the union of the families.
BranchPayload = CreateBranch | UpdateBranch | DeleteBranch

#: The same classes, in the order ``plan_payloads.PAYLOAD_TYPES`` lists them.
PAYLOADS: tuple[type[BranchPayload], ...] = (
    CreateBranch,
    UpdateBranch,
    DeleteBranch,
)
