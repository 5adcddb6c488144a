"""Typed, frozen views of organisations, API keys, transfers and account-level objects.

A freshly created key's token is the one secret the client must hand back: ``CreatedApiKey``
keeps it out of ``repr`` so it never reaches a log or a traceback by accident. Role passwords
are never kept, and a connection URI lives only inside a ``ConnectionUri`` whose repr hides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.neon import fields as f


@dataclass(frozen=True, slots=True)
class OrgApiKey:
    """An API key as listed (spec: ``OrgApiKeysListResponseItem``; personal keys alike).

    ``project_id`` is set for project-scoped keys. ``created_by`` is the creator's id (the list
    response nests it in an object, the create response gives the bare id).
    """

    id: int
    name: str
    created_at: str | None = None
    project_id: str | None = None
    created_by: str | None = None
    last_used_at: str | None = None

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> OrgApiKey:
        """Parse one item of ``GET /organizations/{org_id}/api_keys`` or ``GET /api_keys``."""
        kind = "api key"
        data = f.as_object(data, kind)
        creator = data.get("created_by")
        if isinstance(creator, dict):
            created_by = f.optional_str(creator, "id", kind)
        else:
            created_by = f.optional_str(data, "created_by", kind)
        return cls(
            id=f.required_int(data, "id", kind),
            name=f.required_str(data, "name", kind),
            created_at=f.optional_str(data, "created_at", kind),
            project_id=f.optional_str(data, "project_id", kind),
            created_by=created_by,
            last_used_at=f.optional_str(data, "last_used_at", kind),
        )


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A key just minted; ``token`` is shown once by Neon and never appears in ``repr``."""

    id: int
    name: str
    token: str = field(repr=False)
    created_at: str | None = None
    project_id: str | None = None

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> CreatedApiKey:
        """Parse an ``ApiKeyCreateResponse`` / ``OrgApiKeyCreateResponse``."""
        kind = "created api key"
        data = f.as_object(data, kind)
        return cls(
            id=f.required_int(data, "id", kind),
            name=f.required_str(data, "name", kind),
            token=f.required_str(data, "key", kind),
            created_at=f.optional_str(data, "created_at", kind),
            project_id=f.optional_str(data, "project_id", kind),
        )


@dataclass(frozen=True, slots=True)
class RevokedApiKey:
    """The answer to a key revocation (spec: ``OrgApiKeyRevokeResponse``)."""

    id: int
    name: str
    revoked: bool
    project_id: str | None = None

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> RevokedApiKey:
        """Parse an ``ApiKeyRevokeResponse`` / ``OrgApiKeyRevokeResponse``."""
        kind = "revoked api key"
        data = f.as_object(data, kind)
        return cls(
            id=f.required_int(data, "id", kind),
            name=f.required_str(data, "name", kind),
            revoked=f.flag(data, "revoked", kind),
            project_id=f.optional_str(data, "project_id", kind),
        )


@dataclass(frozen=True, slots=True)
class Organization:
    """An organisation (spec: ``Organization``)."""

    id: str
    name: str
    handle: str | None = None
    plan: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    managed_by: str | None = None
    allow_hipaa_projects: bool = False

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> Organization:
        """Parse an ``Organization`` object."""
        kind = "organization"
        data = f.as_object(data, kind)
        return cls(
            id=f.required_str(data, "id", kind),
            name=f.required_str(data, "name", kind),
            handle=f.optional_str(data, "handle", kind),
            plan=f.optional_str(data, "plan", kind),
            created_at=f.optional_str(data, "created_at", kind),
            updated_at=f.optional_str(data, "updated_at", kind),
            managed_by=f.optional_str(data, "managed_by", kind),
            allow_hipaa_projects=f.flag(data, "allow_hipaa_projects", kind),
        )


@dataclass(frozen=True, slots=True)
class TransferResult:
    """A completed project transfer (the API answers ``{}``; this records what was asked)."""

    source_org_id: str
    destination_org_id: str
    project_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AuthInfo:
    """Who a key belongs to (spec: ``AuthDetailsResponse``), e.g. ``api_key_org``."""

    account_id: str
    auth_method: str

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> AuthInfo:
        """Parse the ``GET /auth`` answer."""
        kind = "auth details"
        data = f.as_object(data, kind)
        return cls(
            account_id=f.required_str(data, "account_id", kind),
            auth_method=f.required_str(data, "auth_method", kind),
        )


@dataclass(frozen=True, slots=True)
class CurrentUser:
    """The owner of a personal key (``GET /users/me``), limited to fields of use here."""

    id: str
    email: str | None = None
    name: str | None = None
    projects_limit: int | None = None
    branches_limit: int | None = None
    plan: str | None = None

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> CurrentUser:
        """Parse a ``CurrentUserInfoResponse``."""
        kind = "current user"
        data = f.as_object(data, kind)
        return cls(
            id=f.required_str(data, "id", kind),
            email=f.optional_str(data, "email", kind),
            name=f.optional_str(data, "name", kind),
            projects_limit=f.optional_int(data, "projects_limit", kind),
            branches_limit=f.optional_int(data, "branches_limit", kind),
            plan=f.optional_str(data, "plan", kind),
        )


@dataclass(frozen=True, slots=True)
class Database:
    """A database on a branch (spec: ``Database``)."""

    id: int
    branch_id: str
    name: str
    owner_name: str

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> Database:
        """Parse a ``Database`` object."""
        kind = "database"
        data = f.as_object(data, kind)
        return cls(
            id=f.required_int(data, "id", kind),
            branch_id=f.required_str(data, "branch_id", kind),
            name=f.required_str(data, "name", kind),
            owner_name=f.required_str(data, "owner_name", kind),
        )


@dataclass(frozen=True, slots=True)
class Role:
    """A Postgres role on a branch; its ``password`` (if the payload has one) is dropped."""

    branch_id: str
    name: str
    protected: bool = False

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> Role:
        """Parse a ``Role`` object."""
        kind = "role"
        data = f.as_object(data, kind)
        return cls(
            branch_id=f.required_str(data, "branch_id", kind),
            name=f.required_str(data, "name", kind),
            protected=f.flag(data, "protected", kind),
        )


@dataclass(frozen=True, slots=True)
class ConnectionUri:
    """A connection string (it embeds a password, so ``repr`` hides it)."""

    uri: str = field(repr=False)

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> ConnectionUri:
        """Parse a ``ConnectionURIResponse``."""
        return cls(uri=f.required_str(f.as_object(data, "connection uri"), "uri", "connection uri"))
