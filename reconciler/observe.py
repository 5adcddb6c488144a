"""Build the live fleet snapshot from the Neon API with the fewest calls.

Two phases:

1. **Lists.** ``GET /projects?org_id=…&limit=400`` for every managed org, with that org's key.
   List items carry ``settings.quota`` and ``default_endpoint_settings`` (see the recorded real
   responses), so quotas and project compute defaults cost ⌈N/400⌉ calls for the whole org.
2. **Details**, only where a tenant's desired state manages them (``needs_for``): endpoints of
   projects whose tenant manages compute limits (defaults are not retroactive in Neon, so each
   compute is checked), branches of projects whose tenant declares branches (or when branch
   pruning/GC is on), and the org key list once per org whose tenants declare keys.
   Tenants that declare ``databases``, ``roles``, ``connection_secrets`` or ``auth`` (or had
   secrets delivered) also get their default branch's databases and roles read (``catalogs``),
   and Neon Auth where it is declared or was delivered (``auth``): two or three more calls per
   such tenant, after the branch list that names the default branch (a second round).

Neon budgets requests per account, and each org key is its own account, so both phases read
the orgs concurrently: phase 1 one thread per org (pages of one org follow each other's cursors),
phase 2 ``parallelism`` reads in flight per org (each org its own drains, so a throttled org
never takes another's threads), started interleaved so that every org's budget is spent at once.
The fleet-wide thread count is bounded by the CPUs (``read_workers``), not by one rate bucket.
Results are merged in sorted order, so they do not depend on which thread finished first.

Incremental refresh (``fleet plan``'s default): ``needs_for(..., only=…)`` restricts the
per-project details to the tenants ``tenants_to_refresh`` names — tenants whose manifests changed
since their last successful apply, or whose project the list pages show missing or moved. The
other tenants are compared on what the list pages carry (quotas, compute defaults, name, org,
region); their endpoints and branches stay ``None`` ("not observed"). Org key lists cost one call
per org, so they are read for every org that has keyed tenants, refreshed or not.

The same ``DetailNeeds`` are stored in the plan so that ``apply`` re-observes exactly what the
plan was built from, which is what makes the per-tenant fingerprints comparable.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from itertools import chain, zip_longest
from typing import Any, TypeVar

from reconciler.core.catalog import AUTH_SECRET
from reconciler.core.model import (
    COMPUTE_KEYS,
    QUOTA_KEYS,
    DesiredFleet,
    LedgerView,
    LiveApiKey,
    LiveBranch,
    LiveEndpoint,
    LiveFleet,
    LiveProject,
)
from reconciler.credentials import Credentials
from reconciler.neon import Branch, Endpoint, NeonClient, OrgApiKey, ProjectListItem
from reconciler.observe_catalog import read_catalogs

T = TypeVar("T")
K = TypeVar("K")

#: Fleet-wide cap on reads in flight per CPU. A read costs a few ms of client CPU and mostly
#: waits (on the network or its account's budget), so a few dozen threads per CPU keep every
#: org's budget busy while the CPUs, not one bucket, bound the total.
READS_PER_CPU = 16


def read_workers(orgs: int, per_org: int) -> int:
    """Threads for reading ``orgs`` orgs with ``per_org`` reads in flight each, CPU-capped."""
    cap = READS_PER_CPU * (os.cpu_count() or 1)
    return max(1, min(max(1, orgs) * max(1, per_org), cap))


@dataclass(frozen=True)
class DetailNeeds:
    """Which per-project details to read: project ids for endpoints/branches, org ids for keys."""

    endpoints: frozenset[str] = frozenset()
    branches: frozenset[str] = frozenset()
    key_orgs: frozenset[str] = frozenset()
    #: Projects whose default branch's databases and roles are read (needs ``branches``).
    catalogs: frozenset[str] = frozenset()
    #: Projects whose default branch's Neon Auth is read (a subset of ``catalogs``).
    auth: frozenset[str] = frozenset()

    def restricted_to(self, project_ids: Collection[str]) -> DetailNeeds:
        """Only the per-project details of ``project_ids`` (org key lists are kept)."""
        keep = frozenset(project_ids)
        return DetailNeeds(
            self.endpoints & keep,
            self.branches & keep,
            self.key_orgs,
            self.catalogs & keep,
            self.auth & keep,
        )

    def to_dict(self) -> dict[str, list[str]]:
        found = {
            "endpoints": sorted(self.endpoints),
            "branches": sorted(self.branches),
            "key_orgs": sorted(self.key_orgs),
        }
        # Written only when there are any, so plans of fleets without them keep their bytes.
        if self.catalogs:
            found["catalogs"] = sorted(self.catalogs)
        if self.auth:
            found["auth"] = sorted(self.auth)
        return found

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DetailNeeds:
        return cls(
            endpoints=frozenset(data.get("endpoints", ())),
            branches=frozenset(data.get("branches", ())),
            key_orgs=frozenset(data.get("key_orgs", ())),
            catalogs=frozenset(data.get("catalogs", ())),
            auth=frozenset(data.get("auth", ())),
        )


def list_orgs(client: NeonClient, credentials: Credentials, org_ids: Iterable[str]) -> LiveFleet:
    """Phase 1: every project of every org, from list pages only (orgs read concurrently)."""
    orgs = sorted(set(org_ids))
    listings = _concurrently(
        orgs,
        lambda org: client.list_projects(credentials.org_key(org), org_id=org, limit=400),
        read_workers(len(orgs), 1),
    )
    projects: dict[str, LiveProject] = {}
    observed: set[str] = set()
    for org_id in orgs:  # in sorted order, whichever org's pages came first
        listing = listings[org_id]
        for item in listing.projects:
            integrations = tuple(sorted(listing.integrations.get(item.id, ())))
            projects[item.id] = project_from_wire(item, org_id, integrations)
        if not listing.unavailable_project_ids:
            observed.add(org_id)
    return LiveFleet(projects=projects, api_keys={}, observed_orgs=frozenset(observed))


def tenants_to_refresh(
    desired: DesiredFleet, ledger: LedgerView, live: LiveFleet
) -> frozenset[str]:
    """Declared tenants an incremental plan must read in full (details, not just list pages).

    A tenant is skipped only when the ledger shows it converged on exactly these manifest inputs
    (``manifest_digest`` equals the tenant's digest) and the list pages show its recorded
    project still there, in the recorded org. Anything else — new, edited, a create left
    pending by a crash, a project deleted or moved behind neon-fleet's back, a manifest binding
    to another project — is refreshed.
    """
    refresh: set[str] = set()
    for name, tenant in desired.tenants.items():
        record = ledger.tenants.get(name)
        project = live.projects.get(record.project_id) if record else None
        if (
            record is None
            or not record.manifest_digest
            or record.manifest_digest != tenant.digest
            or name in ledger.pending_creates
            or project is None
            or project.org_id != record.org_id
            or (tenant.project_id is not None and tenant.project_id != record.project_id)
        ):
            refresh.add(name)
    return frozenset(refresh)


def needs_for(
    desired: DesiredFleet,
    ledger: LedgerView,
    live: LiveFleet,
    *,
    only: Collection[str] | None = None,
) -> DetailNeeds:
    """Which details the planner needs, given the manifests and the cheap list snapshot.

    ``only`` limits the per-project details (endpoints, branches) to those tenants; ``None``
    means every tenant (a full refresh). Org key lists are per org and stay as they are.
    """
    by_name = live.by_name()
    policy = desired.fleet.policy
    branch_policy = policy.prune_branches or policy.old_branch_max_age_seconds is not None
    scope = None if only is None else frozenset(only)
    endpoints: set[str] = set()
    branches: set[str] = set()
    key_orgs: set[str] = set()
    catalogs: set[str] = set()
    auth: set[str] = set()
    for name, tenant in desired.tenants.items():
        record = ledger.tenants.get(name)
        candidates = [
            pid
            for pid in (record.project_id if record else None, tenant.project_id)
            if pid and pid in live.projects
        ] or [p.id for p in by_name.get(tenant.project_name, ())]
        if tenant.api_keys or (record and record.keys):
            key_orgs.add(tenant.org_id)
            key_orgs.update(live.projects[pid].org_id for pid in candidates)
            if record:
                key_orgs.update(k.org_id for k in record.keys.values())
        if scope is not None and name not in scope:
            continue
        delivered = ledger.deliveries.get(name, {})
        for pid in candidates:
            if tenant.compute or tenant.connection_secrets or _branch_computes(tenant):
                endpoints.add(pid)
            if tenant.branches or branch_policy or (record and record.branch_ids):
                branches.add(pid)
            if tenant.manages_catalog or delivered:
                branches.add(pid)
                catalogs.add(pid)
            if tenant.auth is not None or AUTH_SECRET in delivered:
                auth.add(pid)
    for name, record in ledger.tenants.items():
        if name not in desired.tenants and record.keys:
            key_orgs.update(k.org_id for k in record.keys.values())
    managed = {org.id for org in desired.fleet.orgs.values()}
    return DetailNeeds(
        frozenset(endpoints),
        frozenset(branches),
        frozenset(key_orgs & managed),
        frozenset(catalogs),
        frozenset(auth & catalogs),
    )


def _branch_computes(tenant: Any) -> bool:
    return any(branch.compute is not None for branch in tenant.branches)


def fetch_details(
    client: NeonClient,
    credentials: Credentials,
    live: LiveFleet,
    needs: DetailNeeds,
    *,
    parallelism: int = 8,
) -> LiveFleet:
    """Phase 2: read the needed details concurrently, ``parallelism`` in flight per org.

    The reads of each org spend that org's rate budget (its key's account), so they are
    interleaved across orgs: every org keeps its share of the workers busy and N orgs are read
    at N times one org's rate. The per-account limiters set the pace.
    """
    present = live.projects
    # One job per read: (kind, id); its lane is the org whose key (account) it uses.
    lanes: dict[str, list[tuple[str, str]]] = {}
    for kind, ids in (("endpoints", needs.endpoints), ("branches", needs.branches)):
        for pid in sorted(pid for pid in ids if pid in present):
            lanes.setdefault(present[pid].org_id, []).append((kind, pid))
    for org_id in sorted(needs.key_orgs):
        lanes.setdefault(org_id, []).append(("keys", org_id))

    def read(job: tuple[str, str]) -> Any:
        kind, target = job
        if kind == "keys":
            return client.list_org_api_keys(credentials.org_key(target), target)
        key = credentials.org_key(present[target].org_id)
        if kind == "endpoints":
            return client.list_endpoints(key, target)
        return client.list_branches(key, target)

    results = _per_lane(lanes, read, parallelism, read_workers(len(lanes), parallelism))
    endpoints = {pid: found for (kind, pid), found in results.items() if kind == "endpoints"}
    branches = {pid: found for (kind, pid), found in results.items() if kind == "branches"}
    keys = {org: found for (kind, org), found in results.items() if kind == "keys"}
    projects = dict(present)
    for pid, found in endpoints.items():
        projects[pid] = replace(projects[pid], endpoints=tuple(map(endpoint_from_wire, found)))
    for pid, listed in branches.items():
        projects[pid] = replace(projects[pid], branches=tuple(map(branch_from_wire, listed)))
    catalogs = read_catalogs(
        client,
        credentials,
        projects,
        needs.catalogs,
        needs.auth,
        lambda lanes, read: _concurrently(
            _interleaved(lanes), read, read_workers(len(lanes), parallelism)
        ),
    )
    for pid, catalog in catalogs.items():
        projects[pid] = replace(projects[pid], catalog=catalog)
    api_keys = dict(live.api_keys)
    for org_id, org_keys in sorted(keys.items()):
        api_keys[org_id] = tuple(key_from_wire(k, org_id) for k in org_keys)
    return LiveFleet(projects=projects, api_keys=api_keys, observed_orgs=live.observed_orgs)


def observe(
    client: NeonClient,
    credentials: Credentials,
    org_ids: Iterable[str],
    needs: DetailNeeds | Callable[[LiveFleet], DetailNeeds],
    *,
    parallelism: int = 8,
) -> tuple[LiveFleet, DetailNeeds]:
    """Both phases; ``needs`` may be computed from the list snapshot (plan) or given (apply)."""
    listed = list_orgs(client, credentials, org_ids)
    wanted = needs(listed) if callable(needs) else needs
    return fetch_details(client, credentials, listed, wanted, parallelism=parallelism), wanted


def _interleaved(lanes: Mapping[str, list[K]]) -> list[K]:
    """Round-robin over the lanes in sorted order: a1, b1, c1, a2, b2, …"""
    rounds = zip_longest(*(lanes[lane] for lane in sorted(lanes)))
    return [job for job in chain.from_iterable(rounds) if job is not None]


def _per_lane(
    lanes: Mapping[str, list[K]], fetch: Callable[[K], T], per_lane: int, workers: int
) -> dict[K, T]:
    """``fetch`` of every job, at most ``per_lane`` of one lane at a time, ``workers`` in all.

    A lane is an org (its reads spend its key's budget). Each lane gets ``per_lane`` drains that
    take its jobs in order, so a lane whose reads are slow (a throttled account) holds at most
    ``per_lane`` threads and never the others' share. The drains are started interleaved
    (a, b, c, a, b, c, …), so when the CPU cap leaves fewer workers than the lanes ask for,
    every lane still has one. The first failed read stops every drain at its next job and is
    raised. Results come back in the round-robin order of the jobs, whoever finished first.
    """
    order = _interleaved(lanes)
    drains = _interleaved({lane: [lane] * min(per_lane, len(jobs)) for lane, jobs in lanes.items()})
    if workers <= 1 or len(order) <= 1:
        return {job: fetch(job) for job in order}
    queues = {lane: deque(jobs) for lane, jobs in lanes.items()}
    results: dict[K, T] = {}
    stop = threading.Event()

    def drain(lane: str) -> None:
        queue = queues[lane]
        while queue and not stop.is_set():
            job = queue.popleft()  # one drain per job: deque pops are atomic
            try:
                results[job] = fetch(job)
            except BaseException:
                stop.set()
                raise

    pool = ThreadPoolExecutor(
        max_workers=min(workers, len(drains)), thread_name_prefix="fleet-observe"
    )
    with pool:
        futures = [pool.submit(drain, lane) for lane in drains]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future in done and future.exception() is not None:
                stop.set()
                raise future.exception()  # type: ignore[misc]
    return {job: results[job] for job in order}


def _concurrently(keys: list[K], fetch: Callable[[K], T], workers: int) -> dict[K, T]:
    """``fetch`` of each key on ``workers`` threads (taken in ``keys``' order)."""
    if not keys:
        return {}
    if workers <= 1 or len(keys) == 1:
        return {key: fetch(key) for key in keys}
    workers = min(workers, len(keys))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleet-observe") as pool:
        return dict(zip(keys, pool.map(fetch, keys), strict=True))


# ----------------------------------------------------------------------------- wire → model


def project_from_wire(
    item: ProjectListItem, listed_org: str, integrations: tuple[str, ...] = ()
) -> LiveProject:
    """A list item as the planner sees it; a quota key Neon does not report is 0 (unlimited)."""
    if item.quota is not None or item.has_settings:
        reported = item.quota or {}
        quota: dict[str, int] | None = {key: reported.get(key, 0) for key in QUOTA_KEYS}
    else:
        quota = None
    defaults = item.default_endpoint_settings
    compute: dict[str, float | int] | None = None
    if defaults is not None:
        values = {key: getattr(defaults, key) for key in COMPUTE_KEYS}
        compute = {key: value for key, value in values.items() if value is not None}
    return LiveProject(
        id=item.id,
        name=item.name,
        org_id=item.org_id or listed_org,
        region_id=item.region_id,
        pg_version=item.pg_version,
        created_at=item.created_at,
        quota=quota,
        default_endpoint_settings=compute,
        history_retention_seconds=item.history_retention_seconds,
        hipaa=item.hipaa,
        integrations=integrations,
    )


def endpoint_from_wire(endpoint: Endpoint) -> LiveEndpoint:
    return LiveEndpoint(
        id=endpoint.id,
        branch_id=endpoint.branch_id,
        type=endpoint.type,
        autoscaling_limit_min_cu=endpoint.autoscaling_limit_min_cu,
        autoscaling_limit_max_cu=endpoint.autoscaling_limit_max_cu,
        suspend_timeout_seconds=endpoint.suspend_timeout_seconds,
    )


def branch_from_wire(branch: Branch) -> LiveBranch:
    return LiveBranch(
        id=branch.id,
        name=branch.name,
        parent_id=branch.parent_id,
        protected=branch.protected,
        default=branch.default,
        created_at=branch.created_at,
        expires_at=branch.expires_at,
    )


def key_from_wire(key: OrgApiKey, org_id: str) -> LiveApiKey:
    return LiveApiKey(
        id=key.id,
        name=key.name,
        org_id=org_id,
        project_id=key.project_id,
        created_at=key.created_at or "",
    )
