"""What each plan action carries: one frozen payload type per ``Action`` (a closed union).

A step's payload is the typed form of the plan file's ``before``/``after`` objects. Each payload
class declares, in one place, its ``ACTION``, its fields, how it is written (``before_json`` and
``after_json``, keys in the order the plan file has always had them, so files stay
byte-identical) and how it is read back (``from_json``, naming the field of a bad file).

The classes live in ``reconciler.core.payloads``, one module per family (``projects``,
``branches``, ``keys``, ``access``), beside ``Action`` and the shared helpers (``base``). This
module is the registry: the ``Payload`` union, ``PAYLOAD_TYPES`` (every action to its class; an
import-time check keeps it complete) and ``ACTION_ORDER``. The rest of the code imports payloads
from here, so a family module can be split without touching its users.

Fields the applier acts on are typed. The settings an update changes are a varying subset of a
resource's fields (only what differs from the manifests), so they stay a plain JSON mapping
(``old``/``new``), as do the live views a step shows (``live``): they are explained, never
acted on field by field.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.core.payloads.access import (
    CreateDatabase,
    CreateEndpoint,
    CreateRole,
    DeleteDatabase,
    DeleteRole,
    DeliverConnectionSecret,
    DisableAuth,
    EnableAuth,
    ResetRolePassword,
    UpdateDatabase,
)
from reconciler.core.payloads.base import ALWAYS_COUNTED, Action, JsonObject
from reconciler.core.payloads.branches import (
    CreateBranch,
    DeleteBranch,
    UpdateBranch,
)
from reconciler.core.payloads.keys import (
    CreateApiKey,
    RevokeApiKey,
)
from reconciler.core.payloads.projects import (
    AdoptProject,
    CreateProject,
    DeleteProject,
    TransferProjects,
    UpdateEndpoint,
    UpdateProject,
)

__all__ = [
    "ACTION_ORDER",
    "ALWAYS_COUNTED",
    "PAYLOAD_TYPES",
    "Action",
    "AdoptProject",
    "CreateApiKey",
    "CreateBranch",
    "CreateDatabase",
    "CreateEndpoint",
    "CreateProject",
    "CreateRole",
    "DeleteBranch",
    "DeleteDatabase",
    "DeleteProject",
    "DeleteRole",
    "DeliverConnectionSecret",
    "DisableAuth",
    "EnableAuth",
    "JsonObject",
    "Payload",
    "ResetRolePassword",
    "RevokeApiKey",
    "TransferProjects",
    "UpdateBranch",
    "UpdateDatabase",
    "UpdateEndpoint",
    "UpdateProject",
    "check_complete",
    "payload_from_json",
]

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
