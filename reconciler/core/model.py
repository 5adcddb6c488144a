"""Domain values shared by the manifests loader, the observer, the planner and the applier.

Pure (standard library only) and frozen. Three families:

* desired state: ``DesiredFleet`` built from manifests, with the origin of every value;
* live state: ``LiveFleet`` built from the Neon API by ``reconciler.observe``;
* ledger view: ``LedgerView``, what neon-fleet recorded about the tenants it owns.

Two parts have modules of their own: the default branch's catalog (databases, roles, connection
secrets, Neon Auth, declared and live) in ``core.catalog``, and a tier's checkpoint and preview
policies in ``core.branch_policies``.

Quota values are tri-state, and that is deliberate: a key *absent* from a desired quota is not
managed (its live value is left alone), ``0`` means unlimited (Neon's convention), and a positive
number is a cap. Live quotas are normalised so a key Neon does not report reads as ``0``. (A live
value that another tier of the fleet sets is an earlier tier's leftover: ``core.released``
plans it back to Neon's default.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from reconciler.core.branch_policies import CheckpointPolicy, PreviewPolicy
from reconciler.core.catalog import (
    DEFAULT_BRANCH,
    AuthSpec,
    BranchCompute,
    ConnectionSecretSpec,
    DatabaseSpec,
    LiveCatalog,
    RoleSpec,
)

QUOTA_KEYS: tuple[str, ...] = (
    "active_time_seconds",
    "compute_time_seconds",
    "written_data_bytes",
    "data_transfer_bytes",
    "logical_size_bytes",
)
COMPUTE_KEYS: tuple[str, ...] = (
    "autoscaling_limit_min_cu",
    "autoscaling_limit_max_cu",
    "suspend_timeout_seconds",
)
#: The dotted paths ``lifecycle.ignore_changes`` accepts: the planner never changes these.
IGNORABLE_PATHS: tuple[str, ...] = (
    "org",
    "project_name",
    "region",
    "pg_version",
    "history_retention_seconds",
    "hipaa",
    "quota",
    *(f"quota.{key}" for key in QUOTA_KEYS),
    "compute",
    *(f"compute.{key}" for key in COMPUTE_KEYS),
    "branches",
    "api_keys",
)

T = TypeVar("T")


@dataclass(frozen=True)
class Sourced(Generic[T]):
    """A desired value and where it came from, e.g. ``tier free`` or ``tenant cust-1``."""

    value: T
    origin: str


# --------------------------------------------------------------------------- desired state


@dataclass(frozen=True)
class OrgRef:
    """An organisation the fleet manages, by the alias manifests use for it."""

    alias: str
    id: str
    api_key_env: str


#: ``policy.history_retention`` when the Fleet does not set it: 90 days.
DEFAULT_HISTORY_RETENTION_SECONDS = 90 * 86400


@dataclass(frozen=True)
class Policy:
    """Fleet-wide safety and speed settings (``spec.policy`` of the Fleet manifest)."""

    prune: bool = False
    max_deletes: int = 0
    parallelism: int = 8
    prune_branches: bool = False
    #: Age after which ``<name> (old)`` branches left by restores are deleted; None keeps them.
    old_branch_max_age_seconds: int | None = None
    #: Drift that ``fleet drift`` does not report (``.fleetignore`` entries are added at load).
    drift_ignore: tuple[DriftIgnore, ...] = ()
    #: How long the ledger keeps run step rows and drift history (``history_retention``);
    #: None (``never``) keeps them forever.
    history_retention_seconds: int | None = DEFAULT_HISTORY_RETENTION_SECONDS
    #: Delete default-branch databases and roles that declared ``databases``/``roles`` leave out.
    prune_databases: bool = False
    #: Allow turning Neon Auth off when a tenant stops declaring ``auth`` (a blocker otherwise).
    allow_auth_removal: bool = False


@dataclass(frozen=True)
class DriftIgnore:
    """Accepted drift: ``fnmatch`` patterns over tenant names and dotted field paths."""

    path: str
    tenant: str = "*"


@dataclass(frozen=True)
class Rate:
    """A price for ``per`` units of one consumption metric (user-configured, never invented)."""

    price: float
    per: float = 1.0


@dataclass(frozen=True)
class Pricing:
    """The Fleet's optional ``pricing`` block: currency and rates per v2 consumption metric."""

    currency: str
    rates: Mapping[str, Rate]


@dataclass(frozen=True)
class SecretSink:
    """Where newly minted API key tokens go: ``file`` (a directory) or ``exec`` (a command)."""

    kind: str  # "file" | "exec"
    target: str  # directory path for "file", command line for "exec"
    #: Environment variables an ``exec`` command receives beyond the minimal base set.
    env: tuple[str, ...] = ()


@dataclass(frozen=True)
class FleetConfig:
    """The single ``kind: Fleet`` manifest."""

    name: str
    orgs: Mapping[str, OrgRef]
    personal_api_key_env: str | None
    region: str
    pg_version: int
    project_name_template: str = "{tenant}"
    policy: Policy = field(default_factory=Policy)
    ledger_url: str | None = None
    secrets: SecretSink | None = None
    pricing: Pricing | None = None
    #: Quota utilisation fractions that ``fleet usage quota`` flags.
    quota_thresholds: tuple[float, ...] = (0.8, 0.95)


@dataclass(frozen=True)
class TierSpec:
    """A ``kind: Tier`` manifest: where its tenants live and what they may use."""

    name: str
    org_alias: str
    quota: Mapping[str, int]
    compute: Mapping[str, float | int]
    max_branches: int | None = None
    checkpoints: CheckpointPolicy | None = None
    previews: PreviewPolicy = field(default_factory=PreviewPolicy)
    databases: tuple[DatabaseSpec, ...] | None = None
    roles: tuple[RoleSpec, ...] | None = None
    connection_secrets: tuple[ConnectionSecretSpec, ...] | None = None
    auth: AuthSpec | None = None


@dataclass(frozen=True)
class BranchSpec:
    """A declared branch. Expiry is either relative (seconds, resolved at apply) or absolute."""

    name: str
    parent: str = DEFAULT_BRANCH
    protected: bool = False
    expires_in_seconds: int | None = None
    expires_at: str | None = None  # RFC 3339, UTC, second precision
    compute: BranchCompute | None = None


@dataclass(frozen=True)
class ApiKeySpec:
    """A declared project-scoped API key (the token itself never enters the model)."""

    name: str


@dataclass(frozen=True)
class Lifecycle:
    """Per-tenant safety switches, after Terraform's ``lifecycle`` block."""

    prevent_destroy: bool = False
    #: Dotted field paths such as ``quota.data_transfer_bytes`` that the planner never changes.
    ignore_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Location:
    """Where in the manifests a tenant was declared, for messages."""

    path: str
    line: int


@dataclass(frozen=True)
class DesiredTenant:
    """A tenant's effective desired state: Fleet defaults ← Tier ← Tenant overrides."""

    name: str
    tier: str
    org_alias: str
    org_id: str
    project_name: str
    region: Sourced[str]
    pg_version: Sourced[int]
    #: Only the keys that are managed; see the module docstring for the three states.
    quota: Mapping[str, Sourced[int]]
    compute: Mapping[str, Sourced[float | int]]
    branches: tuple[BranchSpec, ...] = ()
    api_keys: tuple[ApiKeySpec, ...] = ()
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    labels: Mapping[str, str] = field(default_factory=dict)
    hipaa: bool | None = None
    history_retention_seconds: Sourced[int] | None = None
    max_branches: int | None = None
    #: An explicit binding to an existing project (``fleet import`` of a non-template name).
    project_id: str | None = None
    #: Digest of this tenant's own manifest inputs (tenant + tier + fleet parts it uses).
    digest: str = ""
    location: Location | None = None
    #: The tier's checkpoint policy (``fleet checkpoint gc``/``schedule``).
    checkpoints: CheckpointPolicy | None = None
    #: Default-branch databases, roles, connection secrets and Neon Auth; None = not managed.
    #: Each is a whole list (or block) from one layer: the Tenant's replaces the Tier's.
    databases: Sourced[tuple[DatabaseSpec, ...]] | None = None
    roles: Sourced[tuple[RoleSpec, ...]] | None = None
    connection_secrets: Sourced[tuple[ConnectionSecretSpec, ...]] | None = None
    auth: Sourced[AuthSpec] | None = None

    @property
    def manages_catalog(self) -> bool:
        """True when the default branch's databases and roles must be observed."""
        return any(
            v is not None for v in (self.databases, self.roles, self.connection_secrets, self.auth)
        )


@dataclass(frozen=True)
class DesiredFleet:
    """Everything the manifests ask for. ``tenants`` is keyed and sorted by tenant name."""

    fleet: FleetConfig
    tiers: Mapping[str, TierSpec]
    tenants: Mapping[str, DesiredTenant]
    #: Digest over all manifest inputs, recorded in plan files.
    digest: str


# --------------------------------------------------------------------------- live state


@dataclass(frozen=True)
class LiveEndpoint:
    """A compute endpoint as Neon reports it."""

    id: str
    branch_id: str
    type: str
    autoscaling_limit_min_cu: float
    autoscaling_limit_max_cu: float
    suspend_timeout_seconds: int


@dataclass(frozen=True)
class LiveBranch:
    """A branch as Neon reports it."""

    id: str
    name: str
    parent_id: str | None
    protected: bool
    default: bool
    created_at: str
    expires_at: str | None = None


@dataclass(frozen=True)
class LiveApiKey:
    """An organisation API key; ``project_id`` is set for project-scoped keys."""

    id: int
    name: str
    org_id: str
    project_id: str | None
    created_at: str = ""


@dataclass(frozen=True)
class LiveProject:
    """A Neon project. ``None`` in a detail field means "not observed", never "empty"."""

    id: str
    name: str
    org_id: str
    region_id: str
    pg_version: int
    created_at: str
    #: All five keys, missing ones normalised to 0 (unlimited); None when settings were absent.
    quota: Mapping[str, int] | None
    #: ``default_endpoint_settings`` limited to COMPUTE_KEYS; None when absent.
    default_endpoint_settings: Mapping[str, float | int] | None
    history_retention_seconds: int | None = None
    hipaa: bool = False
    #: Integration names (``github``, ``vercel``) from the list response's ``integrations``.
    integrations: tuple[str, ...] = ()
    branches: tuple[LiveBranch, ...] | None = None
    endpoints: tuple[LiveEndpoint, ...] | None = None
    #: The default branch's databases, roles and auth; None when not observed.
    catalog: LiveCatalog | None = None


@dataclass(frozen=True)
class LiveFleet:
    """The observed fleet: projects of every managed org, and the org keys found."""

    projects: Mapping[str, LiveProject]
    #: Org API keys per org id; an org absent from the mapping was not observed.
    api_keys: Mapping[str, tuple[LiveApiKey, ...]] = field(default_factory=dict)
    #: Org ids whose project lists were read completely.
    observed_orgs: frozenset[str] = frozenset()

    def by_name(self) -> dict[str, list[LiveProject]]:
        """Projects grouped by name (a name can repeat; the planner reports that)."""
        grouped: dict[str, list[LiveProject]] = {}
        for project in self.projects.values():
            grouped.setdefault(project.name, []).append(project)
        return grouped


# --------------------------------------------------------------------------- ledger view


@dataclass(frozen=True)
class OwnedKey:
    """A project-scoped key neon-fleet minted: id and name only, never the token."""

    name: str
    key_id: int
    org_id: str
    project_id: str


@dataclass(frozen=True)
class OwnedTenant:
    """What the ledger recorded for one tenant after its last successful apply."""

    tenant: str
    project_id: str
    org_id: str
    branch_ids: Mapping[str, str] = field(default_factory=dict)
    keys: Mapping[str, OwnedKey] = field(default_factory=dict)
    fingerprint: str = ""
    manifest_digest: str = ""
    #: The tenant's last declared ``lifecycle.prevent_destroy``: once a tenant is removed from
    #: the manifests only the ledger remembers it, and deletion must still be refused.
    prevent_destroy: bool = False


@dataclass(frozen=True)
class LedgerView:
    """The read-only slice of the ledger the planner needs."""

    tenants: Mapping[str, OwnedTenant] = field(default_factory=dict)
    #: Tenants with a create intent that has no recorded outcome (a crashed apply).
    pending_creates: frozenset[str] = frozenset()
    #: Shape fingerprints of the secrets delivered to the sink: tenant → secret name → digest.
    deliveries: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Branches made at run time, not from the manifests (``fleet preview`` branches and
    #: ``fleet promote`` dev branches): tenant → branch names. The planner leaves them and their
    #: computes alone, so ``policy.prune_branches`` and the tenant's compute settings never undo
    #: what those commands made.
    runtime_branches: Mapping[str, frozenset[str]] = field(default_factory=dict)
