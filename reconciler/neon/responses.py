"""Whole-response parsers, one per route the client calls, and the values they return.

``RESPONSE_PARSERS`` maps ``(METHOD, route template)`` to the parser the client uses for that
route's success body. The client calls these functions directly (typed); the table exists so the
contract tests can feed every recorded real response to the very parser the client would use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.neon import fields as f
from reconciler.neon.wire import Branch, Endpoint, Operation, Project, ProjectListItem
from reconciler.neon.wire_catalog import (
    EnabledNeonAuth,
    NeonAuth,
    RolePassword,
    parse_database_change,
    parse_endpoint_created,
    parse_role_change,
    parse_role_reset,
)
from reconciler.neon.wire_orgs import (
    AuthInfo,
    ConnectionUri,
    CreatedApiKey,
    CurrentUser,
    Database,
    Organization,
    OrgApiKey,
    RevokedApiKey,
    Role,
)


@dataclass(frozen=True, slots=True)
class ProjectPage:
    """One page of ``GET /projects``; ``cursor`` is ``None`` when Neon sent none."""

    projects: tuple[ProjectListItem, ...]
    #: Integration names per project id (``github``, ``vercel``), as the response lists them.
    integrations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cursor: str | None = None
    #: Ids Neon could not fetch in time (only with the ``timeout`` parameter).
    unavailable_project_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProjectListing:
    """Every page of a project listing merged, in the order Neon returned them."""

    projects: tuple[ProjectListItem, ...]
    integrations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unavailable_project_ids: tuple[str, ...] = ()
    #: How many pages (requests) the listing took.
    pages: int = 0


@dataclass(frozen=True, slots=True)
class BranchPage:
    """One page of ``GET /projects/{project_id}/branches`` (``pagination.next`` dialect)."""

    branches: tuple[Branch, ...]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class OperationPage:
    """One page of ``GET /projects/{project_id}/operations`` (``pagination.cursor`` dialect)."""

    operations: tuple[Operation, ...]
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedProject:
    """The parts of a create-project answer neon-fleet keeps (no URIs, no role passwords)."""

    project: Project
    branch: Branch | None
    endpoints: tuple[Endpoint, ...]
    operations: tuple[Operation, ...]


@dataclass(frozen=True, slots=True)
class CreatedBranch:
    """The parts of a create-branch answer neon-fleet keeps."""

    branch: Branch
    endpoints: tuple[Endpoint, ...]
    operations: tuple[Operation, ...]


def _operations(body: f.JsonObject) -> tuple[Operation, ...]:
    return tuple(Operation.from_wire(item) for item in f.object_list(body, "operations", "body"))


def _endpoints(body: f.JsonObject) -> tuple[Endpoint, ...]:
    return tuple(Endpoint.from_wire(item) for item in f.object_list(body, "endpoints", "body"))


def _wrapped(body: object, key: str) -> f.JsonObject:
    inner = f.optional_object(f.as_object(body, "response"), key, "response")
    if inner is None:
        raise f.malformed("response", key, None)
    return inner


def _cursor(body: f.JsonObject, key: str) -> str | None:
    pagination = f.optional_object(body, "pagination", "response")
    if pagination is None:
        return None
    return f.optional_str(pagination, key, "pagination") or None


def parse_project_page(body: object) -> ProjectPage:
    """Parse ``GET /projects`` (also ``GET /projects/shared``, which has no integrations)."""
    data = f.as_object(body, "project list")
    items = f.object_list(data, "projects", "project list")
    unavailable = data.get("unavailable_project_ids") or []
    return ProjectPage(
        projects=tuple(ProjectListItem.from_wire(item) for item in items),
        integrations=f.string_list_map(data, "integrations", "project list"),
        cursor=_cursor(data, "cursor"),
        unavailable_project_ids=tuple(str(pid) for pid in unavailable),
    )


def parse_project(body: object) -> Project:
    """Parse ``{project}`` (GET and DELETE of a project)."""
    return Project.from_wire(_wrapped(body, "project"))


def parse_project_update(body: object) -> tuple[Project, list[Operation]]:
    """Parse ``PATCH /projects/{project_id}``: ``{project, operations}``."""
    return parse_project(body), list(_operations(f.as_object(body, "response")))


def parse_created_project(body: object) -> CreatedProject:
    """Parse ``POST /projects``; connection URIs, roles and databases are dropped on purpose."""
    data = f.as_object(body, "created project")
    branch = f.optional_object(data, "branch", "created project")
    return CreatedProject(
        project=Project.from_wire(_wrapped(data, "project")),
        branch=Branch.from_wire(branch) if branch is not None else None,
        endpoints=_endpoints(data),
        operations=_operations(data),
    )


def parse_branch_page(body: object) -> BranchPage:
    """Parse ``GET /projects/{project_id}/branches``."""
    data = f.as_object(body, "branch list")
    items = f.object_list(data, "branches", "branch list")
    return BranchPage(
        branches=tuple(Branch.from_wire(item) for item in items),
        next_cursor=_cursor(data, "next"),
    )


def parse_created_branch(body: object) -> CreatedBranch:
    """Parse ``POST /projects/{project_id}/branches``."""
    data = f.as_object(body, "created branch")
    return CreatedBranch(
        branch=Branch.from_wire(_wrapped(data, "branch")),
        endpoints=_endpoints(data),
        operations=_operations(data),
    )


def parse_branch_change(body: object) -> tuple[Branch, list[Operation]]:
    """Parse PATCH/DELETE of a branch: ``{branch, operations}``."""
    return Branch.from_wire(_wrapped(body, "branch")), list(_operations(f.as_object(body, "r")))


def parse_endpoint_list(body: object) -> list[Endpoint]:
    """Parse ``GET /projects/{project_id}/endpoints``."""
    return list(_endpoints(f.as_object(body, "endpoint list")))


def parse_endpoint(body: object) -> Endpoint:
    """Parse ``GET /projects/{project_id}/endpoints/{endpoint_id}``."""
    return Endpoint.from_wire(_wrapped(body, "endpoint"))


def parse_endpoint_update(body: object) -> tuple[Endpoint, list[Operation]]:
    """Parse ``PATCH …/endpoints/{endpoint_id}`` and ``POST …/endpoints`` (same shape)."""
    return parse_endpoint(body), list(_operations(f.as_object(body, "response")))


def parse_operation(body: object) -> Operation:
    """Parse ``GET /projects/{project_id}/operations/{operation_id}``."""
    return Operation.from_wire(_wrapped(body, "operation"))


def parse_operation_page(body: object) -> OperationPage:
    """Parse ``GET /projects/{project_id}/operations``."""
    data = f.as_object(body, "operation list")
    return OperationPage(operations=_operations(data), cursor=_cursor(data, "cursor"))


def parse_api_key_list(body: object) -> list[OrgApiKey]:
    """Parse the bare JSON array of ``GET /organizations/{org_id}/api_keys`` (or ``/api_keys``)."""
    if not isinstance(body, list):
        raise f.malformed("api key list", "<root>", body)
    return [OrgApiKey.from_wire(item) for item in body]


def parse_organization_list(body: object) -> list[Organization]:
    """Parse ``GET /users/me/organizations``."""
    items = f.object_list(f.as_object(body, "organizations"), "organizations", "organizations")
    return [Organization.from_wire(item) for item in items]


def parse_empty(body: object) -> None:
    """Parse an ``EmptyResponse`` (``{}``), e.g. a successful transfer."""
    f.as_object(body, "empty response")


def parse_database_list(body: object) -> list[Database]:
    """Parse ``GET .../branches/{branch_id}/databases``."""
    items = f.object_list(f.as_object(body, "databases"), "databases", "databases")
    return [Database.from_wire(item) for item in items]


def parse_role_list(body: object) -> list[Role]:
    """Parse ``GET .../branches/{branch_id}/roles``."""
    items = f.object_list(f.as_object(body, "roles"), "roles", "roles")
    return [Role.from_wire(item) for item in items]


def parse_role(body: object) -> Role:
    """Parse ``GET .../branches/{branch_id}/roles/{role_name}``."""
    return Role.from_wire(_wrapped(body, "role"))


_P = "/projects/{project_id}"
_B = _P + "/branches/{branch_id}"
_K = "/organizations/{org_id}/api_keys"

#: The success-body parser of every route the client calls, by ``(METHOD, template)``.
RESPONSE_PARSERS: Mapping[tuple[str, str], Callable[[Any], object]] = {
    ("GET", "/projects"): parse_project_page,
    ("POST", "/projects"): parse_created_project,
    ("GET", "/projects/shared"): parse_project_page,
    ("GET", _P): parse_project,
    ("PATCH", _P): parse_project_update,
    ("DELETE", _P): parse_project,
    ("GET", _P + "/branches"): parse_branch_page,
    ("POST", _P + "/branches"): parse_created_branch,
    ("PATCH", _B): parse_branch_change,
    ("DELETE", _B): parse_branch_change,
    ("GET", _B + "/databases"): parse_database_list,
    ("GET", _B + "/roles"): parse_role_list,
    ("GET", _B + "/roles/{role_name}"): parse_role,
    ("POST", _B + "/databases"): parse_database_change,
    ("PATCH", _B + "/databases/{database_name}"): parse_database_change,
    ("DELETE", _B + "/databases/{database_name}"): parse_database_change,
    ("POST", _B + "/roles"): parse_role_change,
    ("DELETE", _B + "/roles/{role_name}"): parse_role_change,
    ("GET", _B + "/roles/{role_name}/reveal_password"): RolePassword.from_wire,
    ("POST", _B + "/roles/{role_name}/reset_password"): parse_role_reset,
    ("GET", _B + "/auth"): NeonAuth.from_wire,
    ("POST", _B + "/auth"): EnabledNeonAuth.from_wire,
    ("DELETE", _B + "/auth"): lambda body: None,
    ("POST", _P + "/endpoints"): parse_endpoint_created,
    ("GET", _P + "/connection_uri"): ConnectionUri.from_wire,
    ("GET", _P + "/endpoints"): parse_endpoint_list,
    ("GET", _P + "/endpoints/{endpoint_id}"): parse_endpoint,
    ("PATCH", _P + "/endpoints/{endpoint_id}"): parse_endpoint_update,
    ("GET", _P + "/operations"): parse_operation_page,
    ("GET", _P + "/operations/{operation_id}"): parse_operation,
    ("GET", _K): parse_api_key_list,
    ("POST", _K): CreatedApiKey.from_wire,
    ("DELETE", _K + "/{key_id}"): RevokedApiKey.from_wire,
    ("GET", "/api_keys"): parse_api_key_list,
    ("POST", "/api_keys"): CreatedApiKey.from_wire,
    ("DELETE", "/api_keys/{key_id}"): RevokedApiKey.from_wire,
    ("GET", "/organizations/{org_id}"): Organization.from_wire,
    ("GET", "/users/me/organizations"): parse_organization_list,
    ("GET", "/users/me"): CurrentUser.from_wire,
    ("GET", "/auth"): AuthInfo.from_wire,
    ("POST", "/organizations/{source_org_id}/projects/transfer"): parse_empty,
}
