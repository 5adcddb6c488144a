"""The default branch's contents, declared and live: databases, roles, secrets, Neon Auth.

The handoff features (``databases``, ``roles``, ``connection_secrets``, ``auth`` and a declared
branch's ``compute``) in their own module: ``reconciler.core.model`` uses these values in
``TierSpec``, ``DesiredTenant`` and ``LiveProject``; the access planner, its rules and the
observer of the catalog use them directly. Pure and frozen, like the model.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The default branch Neon creates with every project (``branch.name`` default).
DEFAULT_BRANCH = "main"
#: The database and role Neon creates on every project's default branch (``branch.database_name``
#: and ``branch.role_name`` defaults): keep them by declaring them, or rename away from them.
NEON_DEFAULT_DATABASE = "neondb"
NEON_DEFAULT_ROLE = "neondb_owner"
#: The secret sink's name for a tenant's Neon Auth keys (``<tenant>/neon-auth.json``), and its
#: row among the ledger's delivered secrets.
AUTH_SECRET = "neon-auth"


@dataclass(frozen=True)
class BranchCompute:
    """A declared branch's read-write compute (``compute: {min_cu, max_cu, suspend_timeout}``).

    A key left out is Neon's default for new computes, and is not compared with the live value.
    """

    min_cu: float | None = None
    max_cu: float | None = None
    suspend_timeout: int | None = None


@dataclass(frozen=True)
class DatabaseSpec:
    """A declared database of the default branch and the role that owns it."""

    name: str
    owner: str


@dataclass(frozen=True)
class RoleSpec:
    """A declared role of the default branch (Neon keeps its password; the model never does)."""

    name: str


@dataclass(frozen=True)
class ConnectionSecretSpec:
    """A connection secret delivered to the sink: which role, database, branch and host kind."""

    name: str
    role: str
    database: str
    branch: str = DEFAULT_BRANCH
    pooled: bool = False


@dataclass(frozen=True)
class AuthSpec:
    """Neon Auth on the default branch: the provider and the database it keeps its data in."""

    provider: str
    database: str


@dataclass(frozen=True)
class LiveDatabase:
    """A database of a branch as Neon reports it."""

    name: str
    owner: str


@dataclass(frozen=True)
class LiveRole:
    """A role of a branch as Neon reports it (never its password)."""

    name: str
    protected: bool = False


@dataclass(frozen=True)
class LiveCatalog:
    """The default branch's databases and roles, and its Neon Auth (None: not enabled)."""

    branch_id: str
    databases: tuple[LiveDatabase, ...]
    roles: tuple[LiveRole, ...]
    auth_database: str | None = None
    #: False when Neon Auth was not read (``auth_database`` then says nothing).
    auth_observed: bool = False
