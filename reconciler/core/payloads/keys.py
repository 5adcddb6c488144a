"""Payloads of project-scoped API key steps: mint (to the secret sink) and revoke."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from reconciler.core.payloads.base import (
    _OPT_STR,
    Action,
    JsonObject,
    _absent,
    _Creates,
    _need,
    _Removes,
)


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


#: The API key family's payloads; ``plan_payloads.Payload`` is the union of the families.
KeyPayload = CreateApiKey | RevokeApiKey

#: The same classes, in the order ``plan_payloads.PAYLOAD_TYPES`` lists them.
PAYLOADS: tuple[type[KeyPayload], ...] = (
    CreateApiKey,
    RevokeApiKey,
)
