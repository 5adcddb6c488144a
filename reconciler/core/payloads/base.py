"""The shared part of every plan payload: ``Action``, the reading helpers and the three shapes.

``Action`` names every step kind and ``ACTION_ORDER`` gives each its place in the plan order
(both complete, checked at import). The payload classes live in one module per family
(``projects``, ``branches``, ``keys``, ``access``); ``reconciler.core.plan_payloads`` joins them
into the closed ``Payload`` union and ``PAYLOAD_TYPES``. The underscored helpers and shapes are
for those family modules only: they name the field of a bad plan file (``PlanFileError``) and
fix which side of a step is null.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

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

check_complete(ACTION_ORDER, "payloads.base.ACTION_ORDER")


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
