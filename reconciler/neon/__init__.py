"""The Neon Management API client: wire types, errors, retries, rate limiting, operations.

Import what you need from here; the submodules are implementation detail.
"""

from reconciler.neon.bodies import MAX_TRANSFER_PROJECTS, UNSET, Unset
from reconciler.neon.client import DEFAULT_BASE_URL, NeonClient
from reconciler.neon.ratelimit import RateLimiter, shared_limiter
from reconciler.neon.responses import (
    BranchPage,
    CreatedBranch,
    CreatedProject,
    OperationPage,
    ProjectListing,
    ProjectPage,
)
from reconciler.neon.retry import RetryPolicy
from reconciler.neon.stats import CallStats, StatsSnapshot
from reconciler.neon.wire import (
    Branch,
    Endpoint,
    EndpointDefaults,
    Operation,
    Project,
    ProjectListItem,
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
    TransferResult,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_TRANSFER_PROJECTS",
    "UNSET",
    "AuthInfo",
    "Branch",
    "BranchPage",
    "CallStats",
    "ConnectionUri",
    "CreatedApiKey",
    "CreatedBranch",
    "CreatedProject",
    "CurrentUser",
    "Database",
    "Endpoint",
    "EndpointDefaults",
    "NeonClient",
    "Operation",
    "OperationPage",
    "OrgApiKey",
    "Organization",
    "Project",
    "ProjectListItem",
    "ProjectListing",
    "ProjectPage",
    "RateLimiter",
    "RetryPolicy",
    "RevokedApiKey",
    "Role",
    "StatsSnapshot",
    "TransferResult",
    "Unset",
    "shared_limiter",
]
