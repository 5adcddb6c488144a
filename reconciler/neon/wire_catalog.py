"""Typed answers of the database, role, endpoint-create and Neon Auth routes.

Secrets in these answers (a reset role's ``password``, ``reveal_password``'s answer, Neon Auth's
``pub_client_key``/``secret_server_key``) are kept only in fields excluded from ``repr``, and
only by the types whose purpose is to carry them to the secret sink.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.neon import fields as f
from reconciler.neon.wire import Endpoint, Operation
from reconciler.neon.wire_orgs import Database, Role


def _operations(body: f.JsonObject) -> list[Operation]:
    return [Operation.from_wire(item) for item in f.object_list(body, "operations", "body")]


def _inner(body: object, key: str) -> f.JsonObject:
    inner = f.optional_object(f.as_object(body, "response"), key, "response")
    if inner is None:
        raise f.malformed("response", key, None)
    return inner


def parse_database_change(body: object) -> tuple[Database, list[Operation]]:
    """Parse ``{database, operations}`` (create, update or delete of a database)."""
    return Database.from_wire(_inner(body, "database")), _operations(f.as_object(body, "body"))


def parse_role_change(body: object) -> tuple[Role, list[Operation]]:
    """Parse ``{role, operations}``; a password in the answer is dropped (``Role``)."""
    return Role.from_wire(_inner(body, "role")), _operations(f.as_object(body, "body"))


@dataclass(frozen=True, slots=True)
class RolePassword:
    """A role's password (``reveal_password`` or ``reset_password``); ``repr`` hides it."""

    password: str = field(repr=False)

    @classmethod
    def from_wire(cls, data: object) -> RolePassword:
        """Parse a ``RolePasswordResponse``."""
        return cls(f.required_str(f.as_object(data, "role password"), "password", "role password"))


@dataclass(frozen=True, slots=True)
class ResetRole:
    """The answer of ``reset_password``: the role, its new password, the operations to wait on."""

    role: Role
    password: RolePassword
    operations: tuple[Operation, ...]


def parse_role_reset(body: object) -> ResetRole:
    """Parse ``POST .../roles/{role_name}/reset_password`` (``RoleOperations``)."""
    inner = _inner(body, "role")
    return ResetRole(
        role=Role.from_wire(inner),
        password=RolePassword.from_wire(inner),
        operations=tuple(_operations(f.as_object(body, "body"))),
    )


def parse_endpoint_created(body: object) -> tuple[Endpoint, list[Operation]]:
    """Parse ``POST /projects/{project_id}/endpoints`` (``{endpoint, operations}``)."""
    return Endpoint.from_wire(_inner(body, "endpoint")), _operations(f.as_object(body, "body"))


@dataclass(frozen=True, slots=True)
class NeonAuth:
    """Neon Auth on a branch (``NeonAuthIntegration``): which provider and which database."""

    auth_provider: str
    branch_id: str
    db_name: str
    jwks_url: str
    base_url: str = ""

    @classmethod
    def from_wire(cls, data: object) -> NeonAuth:
        """Parse a ``NeonAuthIntegration``."""
        kind = "neon auth"
        body = f.as_object(data, kind)
        return cls(
            auth_provider=f.required_str(body, "auth_provider", kind),
            branch_id=f.required_str(body, "branch_id", kind),
            db_name=f.required_str(body, "db_name", kind),
            jwks_url=f.required_str(body, "jwks_url", kind),
            base_url=f.optional_str(body, "base_url", kind) or "",
        )


@dataclass(frozen=True, slots=True)
class EnabledNeonAuth:
    """The answer of enabling Neon Auth: the only time Neon shows its keys (hidden in repr)."""

    auth_provider: str
    jwks_url: str
    base_url: str
    pub_client_key: str = field(repr=False)
    secret_server_key: str = field(repr=False)

    @classmethod
    def from_wire(cls, data: object) -> EnabledNeonAuth:
        """Parse a ``NeonAuthCreateIntegrationResponse``."""
        kind = "neon auth"
        body = f.as_object(data, kind)
        return cls(
            auth_provider=f.required_str(body, "auth_provider", kind),
            jwks_url=f.required_str(body, "jwks_url", kind),
            base_url=f.optional_str(body, "base_url", kind) or "",
            pub_client_key=f.required_str(body, "pub_client_key", kind),
            secret_server_key=f.required_str(body, "secret_server_key", kind),
        )
