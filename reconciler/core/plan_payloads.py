"""What each plan action carries: one frozen payload type per ``Action`` (a closed union).

A step's payload is the typed form of the plan file's ``before``/``after`` objects. Each payload
class declares, in one place, its ``ACTION``, its fields, how it is written (``before_json`` and
``after_json``, keys in the order the plan file has always had them, so files stay
byte-identical) and how it is read back (``from_json``, naming the field of a bad file).

The classes live in ``reconciler.core.payloads``, one module per family (``projects``,
``branches``, ``keys``, ``access``), beside ``Action`` and the shared helpers (``base``). This
module joins them: the ``Payload`` union (of the families' unions) and ``PAYLOAD_TYPES`` (every
action to its class, from the families' ``PAYLOADS``; an import-time check keeps it complete).
The rest of the code imports payloads, ``Action`` and ``ACTION_ORDER`` from here, so a family
module can be split without touching its users; a new action of an existing family adds only
its re-export here.

Fields the applier acts on are typed. The settings an update changes are a varying subset of a
resource's fields (only what differs from the manifests), so they stay a plain JSON mapping
(``old``/``new``), as do the live views a step shows (``live``): they are explained, never
acted on field by field.
"""

from __future__ import annotations

from reconciler.core.payloads import access, branches, keys, projects
from reconciler.core.payloads.access import (
    AccessPayload,
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
from reconciler.core.payloads.base import (
    ACTION_ORDER,
    ALWAYS_COUNTED,
    Action,
    JsonObject,
    check_complete,
)
from reconciler.core.payloads.branches import (
    BranchPayload,
    CreateBranch,
    DeleteBranch,
    UpdateBranch,
)
from reconciler.core.payloads.keys import (
    CreateApiKey,
    KeyPayload,
    RevokeApiKey,
)
from reconciler.core.payloads.projects import (
    AdoptProject,
    CreateProject,
    DeleteProject,
    ProjectPayload,
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

#: Every payload type: a closed union, one per ``Action``, joined from the families' unions.
Payload = ProjectPayload | BranchPayload | KeyPayload | AccessPayload

#: Action → its payload type (what the codec reads a step's ``before``/``after`` into).
PAYLOAD_TYPES: dict[Action, type[Payload]] = {
    cls.ACTION: cls
    for cls in (*projects.PAYLOADS, *branches.PAYLOADS, *keys.PAYLOADS, *access.PAYLOADS)
}

check_complete(PAYLOAD_TYPES, "plan_payloads.PAYLOAD_TYPES")


def payload_from_json(
    action: Action, before: JsonObject | None, after: JsonObject | None, where: str = "step"
) -> Payload:
    """The typed payload of a step of ``action`` from its plan file ``before``/``after``."""
    return PAYLOAD_TYPES[action].from_json(before, after, where)
