"""The emulator's seed file: orgs, API keys, pre-existing projects, limits and faults.

The format is a public contract, documented in ``SEED.md`` next to this module. Parsing is
strict: an unknown key, a wrong type or a dangling reference is a ``UsageError`` naming the
offending entry, so a typo never silently produces a different emulator.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.errors import UsageError

#: Plans in ascending order; a transfer may not go to a plan that ranks lower than the source.
#: The Agent plan is ranked with Scale (UNCONFIRMED: Neon documents no ordering for it).
PLAN_RANK: Mapping[str, int] = {
    "free": 0,
    "launch": 1,
    "agent": 2,
    "scale": 2,
    "business": 3,
    "enterprise": 4,
}
KEY_KINDS = ("personal", "org", "project")
MEMBER_ROLES = ("admin", "member")
INTEGRATIONS = ("github", "vercel")
REGIONS = (
    "aws-us-east-1", "aws-us-east-2", "aws-us-west-2", "aws-eu-central-1", "aws-eu-west-2",
    "aws-ap-southeast-1", "aws-ap-southeast-2", "aws-sa-east-1", "azure-eastus2",
    "azure-westus3", "azure-gwc",
)  # fmt: skip
_ID = re.compile(r"^[a-z0-9-]{1,60}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@dataclass(frozen=True)
class Limits:
    """Rate limits (token buckets) and how long each operation takes."""

    requests_per_minute: int = 700
    route_requests_per_second: int = 40
    consumption_per_minute: int = 50
    operation_duration_ms: int = 500
    #: Synthetic consumption (``usage.py``; seed key ``usage``). They travel with the limits
    #: because the limits are what every request carries and what the state file keeps.
    usage_seed: int = 0
    usage_history_from: str | None = None
    usage_weights: Mapping[str, int] = field(default_factory=dict)
    #: Per-org plan caps from ``orgs[].snapshot_limit`` / ``orgs[].root_branch_limit`` (org id →
    #: most snapshots / root branches one project may hold); an org absent here has no cap.
    snapshot_limits: Mapping[str, int] = field(default_factory=dict)
    root_branch_limits: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Faults:
    """Injected faults; rates are probabilities in [0, 1] drawn from ``random_seed``."""

    latency_ms: int = 0
    server_error_rate: float = 0.0
    drop_rate: float = 0.0
    lost_response_rate: float = 0.0
    storm_429_requests: int = 0
    random_seed: int = 0


@dataclass(frozen=True)
class SeedOrg:
    """One organization; a limit of None means no cap (the emulator invents none)."""

    id: str
    name: str
    plan: str
    project_limit: int | None = None
    snapshot_limit: int | None = None
    root_branch_limit: int | None = None


@dataclass(frozen=True)
class SeedKey:
    """One API key. ``orgs`` maps org id to role for personal keys (all keys of a user share)."""

    token: str = field(repr=False)
    kind: str
    name: str
    org: str | None = None
    project: str | None = None
    orgs: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None


@dataclass(frozen=True)
class SeedProject:
    """A project that exists before the fleet tool ever ran (drift and import scenarios)."""

    name: str
    org: str
    id: str | None = None
    region_id: str = "aws-us-east-2"
    pg_version: int = 17
    integration: str | None = None
    quota: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Seed:
    """A parsed, validated seed file."""

    orgs: tuple[SeedOrg, ...] = ()
    keys: tuple[SeedKey, ...] = ()
    projects: tuple[SeedProject, ...] = ()
    limits: Limits = Limits()
    faults: Faults = Faults()


def load_seed(path: str | pathlib.Path) -> Seed:
    """Read and validate a YAML seed file; raise ``UsageError`` naming the problem."""
    source = pathlib.Path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read emulator seed {source}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"emulator seed {source} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise UsageError(f"emulator seed {source}: the top level must be a mapping")
    try:
        return seed_from_mapping(data)
    except UsageError as exc:
        raise UsageError(f"emulator seed {source}: {exc}") from exc


def seed_from_mapping(data: Mapping[str, Any]) -> Seed:
    """Validate an already-parsed seed document; raise ``UsageError`` naming the problem."""
    _only(
        data,
        "seed",
        {
            "orgs", "keys", "projects", "limits", "operation_duration_ms", "latency_ms", "faults",
            "usage",
        },
    )  # fmt: skip
    orgs = tuple(_org(item, i) for i, item in enumerate(_list(data, "orgs")))
    org_ids = [org.id for org in orgs]
    if len(set(org_ids)) != len(org_ids):
        raise UsageError("orgs: duplicate org id")
    known = set(org_ids)
    keys = tuple(_key(item, i, known) for i, item in enumerate(_list(data, "keys")))
    tokens = [key.token for key in keys]
    if len(set(tokens)) != len(tokens):
        raise UsageError("keys: two keys share one token")
    projects = tuple(
        project_from_mapping(item, known, f"projects[{i}]")
        for i, item in enumerate(_list(data, "projects"))
    )
    limits_data = _mapping(data.get("limits"), "limits")
    _only(
        limits_data,
        "limits",
        {"requests_per_minute", "route_requests_per_second", "consumption_per_minute"},
    )
    limits = Limits(
        requests_per_minute=_int(limits_data, "requests_per_minute", 700, "limits", low=1),
        route_requests_per_second=_int(
            limits_data, "route_requests_per_second", 40, "limits", low=1
        ),
        consumption_per_minute=_int(limits_data, "consumption_per_minute", 50, "limits", low=1),
        operation_duration_ms=_int(data, "operation_duration_ms", 500, "seed", low=0),
        **_usage(_mapping(data.get("usage"), "usage")),
        snapshot_limits={o.id: o.snapshot_limit for o in orgs if o.snapshot_limit is not None},
        root_branch_limits={
            o.id: o.root_branch_limit for o in orgs if o.root_branch_limit is not None
        },
    )
    return Seed(orgs, keys, projects, limits, faults_from_mapping(data))


def faults_from_mapping(data: Mapping[str, Any], base: Faults = Faults()) -> Faults:
    """Build ``Faults`` from a seed (``faults`` plus top-level ``latency_ms``) or admin body."""
    faults_data = dict(_mapping(data.get("faults"), "faults"))
    if "latency_ms" in data:
        faults_data.setdefault("latency_ms", data["latency_ms"])
    _only(faults_data, "faults", set(Faults.__dataclass_fields__))
    return Faults(
        latency_ms=_int(faults_data, "latency_ms", base.latency_ms, "faults", low=0),
        server_error_rate=_rate(faults_data, "server_error_rate", base.server_error_rate),
        drop_rate=_rate(faults_data, "drop_rate", base.drop_rate),
        lost_response_rate=_rate(faults_data, "lost_response_rate", base.lost_response_rate),
        storm_429_requests=_int(
            faults_data, "storm_429_requests", base.storm_429_requests, "faults", low=0
        ),
        random_seed=_int(faults_data, "random_seed", base.random_seed, "faults"),
    )


def _usage(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``usage`` block: ``seed`` (int), ``history_from`` (RFC 3339), ``weights`` by name."""
    _only(data, "usage", {"seed", "history_from", "weights"})
    history_from = data.get("history_from")
    if history_from is not None and (
        not isinstance(history_from, str) or _TIMESTAMP.match(history_from) is None
    ):
        raise UsageError("usage: history_from must be an RFC 3339 UTC time (…T00:00:00Z)")
    weights = _mapping(data.get("weights"), "usage.weights")
    for name, weight in weights.items():
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
            raise UsageError(f"usage.weights.{name}: must be a non-negative integer")
    return {
        "usage_seed": _int(data, "seed", 0, "usage"),
        "usage_history_from": history_from,
        "usage_weights": {str(name): weight for name, weight in weights.items()},
    }


def _org(item: Any, index: int) -> SeedOrg:
    where = f"orgs[{index}]"
    data = _mapping(item, where)
    _only(
        data, where, {"id", "name", "plan", "project_limit", "snapshot_limit", "root_branch_limit"}
    )
    org_id = _id(data, "id", where)
    plan = _str(data, "plan", where, default="free")
    if plan not in PLAN_RANK:
        raise UsageError(f"{where}: plan {plan!r} is not one of {', '.join(PLAN_RANK)}")
    return SeedOrg(
        org_id,
        _str(data, "name", where, default=org_id),
        plan,
        _optional_count(data, "project_limit", where),
        snapshot_limit=_optional_count(data, "snapshot_limit", where),
        root_branch_limit=_optional_count(data, "root_branch_limit", where, low=1),
    )


def _optional_count(data: Mapping[str, Any], key: str, where: str, low: int = 0) -> int | None:
    """An optional integer cap of at least ``low`` (None when absent)."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        wanted = "a non-negative integer" if low == 0 else f"an integer of at least {low}"
        raise UsageError(f"{where}: {key} must be {wanted}")
    return value


def _key(item: Any, index: int, orgs: set[str]) -> SeedKey:
    where = f"keys[{index}]"
    data = _mapping(item, where)
    _only(data, where, {"token", "kind", "name", "org", "project", "orgs", "user"})
    token = _str(data, "token", where)
    kind = _str(data, "kind", where)
    if kind not in KEY_KINDS:
        raise UsageError(f"{where}: kind {kind!r} is not one of {', '.join(KEY_KINDS)}")
    name = _str(data, "name", where, default=f"seed-{kind}-key-{index}")
    if kind == "personal":
        memberships = _mapping(data.get("orgs"), f"{where}.orgs")
        for org_id, role in memberships.items():
            if org_id not in orgs:
                raise UsageError(f"{where}.orgs: unknown org {org_id!r}")
            if role not in MEMBER_ROLES:
                raise UsageError(f"{where}.orgs.{org_id}: role must be admin or member")
        if "org" in data or "project" in data:
            raise UsageError(f"{where}: a personal key takes orgs, not org/project")
        user = data.get("user")
        if user is not None and not isinstance(user, str):
            raise UsageError(f"{where}: user must be a string")
        return SeedKey(token, kind, name, orgs=dict(memberships), user=user)
    org = _str(data, "org", where)
    if org not in orgs:
        raise UsageError(f"{where}: unknown org {org!r}")
    if "orgs" in data or "user" in data:
        raise UsageError(f"{where}: only personal keys take orgs/user")
    if kind == "project":
        # The project may be created later (by the seed's projects or by the fleet tool).
        return SeedKey(token, kind, name, org=org, project=_id(data, "project", where))
    if "project" in data:
        raise UsageError(f"{where}: an org key takes no project (use kind: project)")
    return SeedKey(token, kind, name, org=org)


def project_from_mapping(item: Any, orgs: set[str], where: str = "project") -> SeedProject:
    """Validate one pre-existing project entry (seed ``projects[]`` or the admin API)."""
    data = _mapping(item, where)
    _only(data, where, {"id", "name", "org", "region_id", "pg_version", "integration", "quota"})
    org = _str(data, "org", where)
    if org not in orgs:
        raise UsageError(f"{where}: unknown org {org!r}")
    project_id = _id(data, "id", where) if "id" in data else None
    name = _str(data, "name", where, default=project_id)
    integration = data.get("integration")
    if integration is not None and integration not in INTEGRATIONS:
        raise UsageError(f"{where}: integration must be github or vercel")
    pg_version = _int(data, "pg_version", 17, where, low=14)
    quota = data.get("quota")
    if quota is not None:
        quota = _mapping(quota, f"{where}.quota")
        for key, value in quota.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise UsageError(f"{where}.quota.{key}: must be a non-negative integer")
    region = _str(data, "region_id", where, default="aws-us-east-2")
    if region not in REGIONS:
        raise UsageError(f"{where}: region_id {region!r} is not one of {', '.join(REGIONS)}")
    return SeedProject(name, org, project_id, region, pg_version, integration, quota)


def _only(data: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise UsageError(f"{key}: must be a list")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: must be a mapping")
    return value


def _str(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None:
        raise UsageError(f"{where}: {key} is required")
    if not isinstance(value, str) or not value:
        raise UsageError(f"{where}: {key} must be a non-empty string")
    return value


def _id(data: Mapping[str, Any], key: str, where: str) -> str:
    value = _str(data, key, where)
    if not _ID.match(value):
        raise UsageError(f"{where}: {key} {value!r} must match ^[a-z0-9-]{{1,60}}$")
    return value


def _int(
    data: Mapping[str, Any], key: str, default: int, where: str, low: int | None = None
) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"{where}: {key} must be an integer")
    if low is not None and value < low:
        raise UsageError(f"{where}: {key} must be at least {low}")
    return value


def _rate(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise UsageError(f"faults: {key} must be a number between 0 and 1")
    return float(value)
