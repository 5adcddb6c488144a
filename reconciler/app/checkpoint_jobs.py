"""Checkpoint jobs: ``gc`` (retention) and ``schedule`` (periodic checkpoints in a budget).

``gc`` deletes expired checkpoints and those a tier's ``checkpoints: {keep_last, max_age}`` no
longer keeps, snapshot first, then the record, and sums the storage freed where Neon reports
snapshot sizes. ``schedule`` is what a cron job runs: Neon's Agent Plan has no snapshot
schedules, so it checkpoints every tenant whose tier sets ``checkpoints.every`` and whose last
checkpoint is older than that, paced to a request budget; re-running it creates nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reconciler import errors
from reconciler.app.checkpoints import Checkpoints, CreateOptions, TenantTarget
from reconciler.app.source_revision import MISSING_SOURCE_REV
from reconciler.core.model import DEFAULT_BRANCH
from reconciler.ledger.checkpoints import (
    STALE_CREATING,
    Checkpoint,
    CheckpointStatus,
    is_due,
    retention_candidates,
)
from reconciler.neon import Operation, RateLimiter
from reconciler.neon import snapshots as neon_snapshots
from reconciler.neon.operations import wait_for_operations

# --------------------------------------------------------------------------- gc


@dataclass(frozen=True)
class Collected:
    """One checkpoint retention let go; ``freed_bytes`` None: Neon reported no size."""

    checkpoint: Checkpoint
    reason: str
    freed_bytes: int | None
    #: False when Neon had already deleted the snapshot (its ``expires_at`` passed).
    snapshot_existed: bool


@dataclass(frozen=True)
class GcReport:
    """What ``gc`` deleted (or would delete, with ``dry_run``) and the records it settled."""

    collected: tuple[Collected, ...]
    dry_run: bool
    #: Checkpoint ids left ``creating`` by a crash: ``ready``, ``discarded`` or ``unsettled: …``.
    settled: Mapping[int, str] = field(default_factory=dict)

    @property
    def freed_bytes(self) -> int:
        """Storage freed, summed over the snapshots whose size Neon reported."""
        return sum(c.freed_bytes or 0 for c in self.collected)

    @property
    def unsized(self) -> int:
        """Collected snapshots without a reported size."""
        return sum(1 for c in self.collected if c.freed_bytes is None)


def collect_garbage(
    service: Checkpoints, tenant: str | None = None, *, dry_run: bool = False
) -> GcReport:
    """Delete expired checkpoints and those the tier's retention no longer keeps.

    First, records a crashed ``create`` left ``creating`` for longer than ``STALE_CREATING``
    are settled by reading their snapshot back by its unique name.
    """
    service.require_known(tenant)
    now = service.now()
    settled = {} if dry_run else settle_creating(service, service.store.list(tenant), now)
    by_tenant: dict[str, list[Checkpoint]] = {}
    for record in service.store.list(tenant):
        by_tenant.setdefault(record.tenant, []).append(record)
    collected: list[Collected] = []
    for name, records in sorted(by_tenant.items()):
        desired = service.desired.tenants.get(name)
        chosen = retention_candidates(records, desired.checkpoints if desired else None, now)
        if not chosen:
            continue
        sizes: dict[str, dict[str, neon_snapshots.Snapshot]] = {}
        for record, reason in chosen:
            target = service.target_of(record)
            if record.project_id not in sizes:
                listed = neon_snapshots.list_snapshots(
                    service.client, target.key, target.project_id
                )
                sizes[record.project_id] = {s.id: s for s in listed}
            snapshot = sizes[record.project_id].get(record.snapshot_id or "")
            if not dry_run:
                if snapshot is not None:
                    _delete_snapshot(service, target, snapshot.id)
                service.store.delete(record.id)
            collected.append(
                Collected(record, reason, snapshot.full_size if snapshot else None,
                          snapshot is not None)
            )  # fmt: skip
    return GcReport(tuple(collected), dry_run, settled)


def _delete_snapshot(service: Checkpoints, target: TenantTarget, snapshot_id: str) -> None:
    try:
        operations = neon_snapshots.delete_snapshot(
            service.client, target.key, target.project_id, snapshot_id
        )
    except errors.NotFound:
        return  # an overlapping gc run deleted it after this one listed it: the goal is met
    service.client.wait_for_operations(target.key, target.project_id, operations)


def settle_creating(
    service: Checkpoints, records: Sequence[Checkpoint], now: datetime
) -> dict[int, str]:
    """Settle records a crashed or interrupted create left ``creating`` for too long.

    Each is read back by its unique snapshot name: ``ready`` when the snapshot exists,
    ``discarded`` when the project was read and it does not. The project may have moved org
    since (a transfer during the checkpoint), so the orgs it may be in now are tried in turn;
    a record none of them can read is left for a later run and reported, never guessed.
    """
    settled: dict[int, str] = {}
    for record in records:
        if record.status is not CheckpointStatus.CREATING:
            continue
        if record.updated_at > now - STALE_CREATING:
            continue  # a create may still be running in another process
        found, read, tried = None, False, []
        for org_id, key in _candidate_keys(service, record):
            tried.append(org_id)
            try:
                found = neon_snapshots.find_snapshot_by_name(
                    service.client, key, record.project_id, record.snapshot_name
                )
            except (errors.NotFound, errors.Forbidden):
                continue  # not (or no longer) in this org
            read = True
            break
        if not read:
            settled[record.id] = (
                f"unsettled: project {record.project_id} not found with the keys of "
                f"{', '.join(tried) or 'no managed org'}"
            )
        elif found is None:
            service.store.discard(record.id)
            settled[record.id] = "discarded"
        else:
            service.store.mark_ready(record.id, found.id, found.full_size)
            settled[record.id] = "ready"
    return settled


def _candidate_keys(service: Checkpoints, record: Checkpoint) -> list[tuple[str, str]]:
    """(org, key) pairs the record's project may be read with: where the ledger says it is
    now, where the manifests put its tenant, then where it was when the record was made."""
    owned = service.env.ledger().tenant(record.tenant)
    now_in = owned.org_id if owned is not None and owned.project_id == record.project_id else None
    desired = service.desired.tenants.get(record.tenant)
    orgs = [now_in, desired.org_id if desired else None, record.org_id]
    credentials = service.env.credentials()
    keys: list[tuple[str, str]] = []
    for org_id in dict.fromkeys(org for org in orgs if org):
        try:
            keys.append((org_id, credentials.org_key(org_id)))
        except errors.UsageError:
            continue  # an org no longer managed: no key to read with
    return keys


# --------------------------------------------------------------------------- schedule


@dataclass(frozen=True)
class ScheduleReport:
    """What one ``schedule`` run did."""

    created: tuple[Checkpoint, ...]
    #: Tenants whose tier asks for periodic checkpoints but whose last one is recent enough.
    not_due: tuple[str, ...]
    #: Due tenants left for the next run by ``--limit``.
    deferred: tuple[str, ...]
    failed: Mapping[str, str]
    requests: int
    seconds: float
    #: Due tenants another (overlapping) run checkpointed or is checkpointing.
    taken_elsewhere: tuple[str, ...] = ()
    #: Records an interrupted create left ``creating``, settled first (as ``gc`` does).
    settled: Mapping[int, str] = field(default_factory=dict)


def schedule_checkpoints(
    service: Checkpoints,
    *,
    source_rev: str,
    max_per_minute: float | None = None,
    limit: int | None = None,
    parallelism: int = 8,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ScheduleReport:
    """Checkpoint every tenant whose tier's ``checkpoints.every`` has passed since its last one.

    Re-running is idempotent: a tenant checkpointed less than ``every`` ago is skipped. Requests
    are paced to ``max_per_minute`` on top of the client's account-wide limiter, so a cron job
    leaves the rest of the account's budget to other work. ``sleep``/``clock`` pace requests
    and polls (injectable in tests).
    """
    if not source_rev.strip():
        raise errors.UsageError(MISSING_SOURCE_REV)
    started = clock()
    before = service.client.stats.snapshot().total_requests
    now = service.now()
    settled = settle_creating(service, service.store.list(), now)
    last = service.store.latest_settled()
    every = {
        t.name: timedelta(seconds=t.checkpoints.every_seconds)
        for t in service.desired.tenants.values()
        if t.checkpoints is not None and t.checkpoints.every_seconds is not None
    }
    periodic = [service.desired.tenants[name] for name in every]
    due = [t for t in periodic if is_due(last.get(t.name), t.checkpoints, now)]
    not_due = tuple(sorted(t.name for t in periodic if t not in due))
    due.sort(key=lambda t: (last.get(t.name) or datetime.min.replace(tzinfo=now.tzinfo), t.name))
    deferred = tuple(t.name for t in due[limit:]) if limit is not None else ()
    due = due[:limit] if limit is not None else due
    pace = _pacer(max_per_minute, sleep, clock)
    targets, failed = _schedule_targets(service, [t.name for t in due], pace)
    options = CreateOptions(source_rev=source_rev, origin="schedule")

    def take(target: TenantTarget) -> Checkpoint | None:
        def wait(key: str, project_id: str, operations: Sequence[Operation]) -> None:
            def fetch(operation_id: str) -> Operation:
                pace()
                return service.client.get_operation(key, project_id, operation_id)

            wait_for_operations(fetch, operations, timeout=300.0, sleep=sleep, clock=clock)

        def create(branch: tuple[str, str]) -> Checkpoint | None:
            pace()
            return service.create_if_due(
                target.tenant, options, every[target.tenant], target=target, branch=branch,
                wait=wait,
            )  # fmt: skip

        branch_id = target.branch_ids.get(DEFAULT_BRANCH)
        if branch_id is None:
            pace()
            found = service.root_branch(target, None)
            return create((found.name, found.id))
        try:
            return create((DEFAULT_BRANCH, branch_id))
        except errors.NotFound:
            pace()  # the ledger's branch id is stale: look the default branch up once
            found = service.root_branch(target, None)
            return create((found.name, found.id))

    created: list[Checkpoint] = []
    elsewhere: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        futures = {pool.submit(take, target): target.tenant for target in targets}
        for future in as_completed(futures):
            try:
                record = future.result()
            except errors.ReconcilerError as exc:
                failed[futures[future]] = str(exc)
                continue
            if record is None:
                elsewhere.append(futures[future])
            else:
                created.append(record)
    created.sort(key=lambda c: c.tenant)
    return ScheduleReport(
        created=tuple(created),
        not_due=not_due,
        deferred=deferred,
        failed=dict(sorted(failed.items())),
        requests=service.client.stats.snapshot().total_requests - before,
        seconds=clock() - started,
        taken_elsewhere=tuple(sorted(elsewhere)),
        settled=settled,
    )


def _pacer(
    max_per_minute: float | None, sleep: Callable[[float], None], clock: Callable[[], float]
) -> Callable[[], None]:
    """A function that blocks until the next request fits the budget (no-op without one)."""
    if max_per_minute is None:
        return lambda: None
    per_second = max_per_minute / 60.0
    burst = max(1.0, min(5.0, per_second))
    limiter = RateLimiter(
        account_per_minute=max_per_minute, account_burst=burst,
        route_per_second=per_second, route_burst=burst, sleep=sleep, clock=clock,
    )  # fmt: skip
    return lambda: limiter.acquire("fleet checkpoint schedule")


def _schedule_targets(
    service: Checkpoints, names: Sequence[str], pace: Callable[[], None]
) -> tuple[list[TenantTarget], dict[str, str]]:
    """Resolve due tenants: the ledger's records, then one project listing per org for the rest."""
    view = service.env.ledger().view()
    credentials = service.env.credentials()
    targets: list[TenantTarget] = []
    failed: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    for name in names:
        owned = view.tenants.get(name)
        if owned is not None:
            key = credentials.org_key(owned.org_id)
            targets.append(
                TenantTarget(
                    name, owned.project_id, owned.org_id, key, dict(owned.branch_ids), True
                )
            )
        else:
            missing.setdefault(service.desired.tenants[name].org_id, []).append(name)
    for org_id, tenant_names in sorted(missing.items()):
        key = credentials.org_key(org_id)
        pace()
        by_name = {p.name: p for p in service.client.list_projects(key, org_id=org_id).projects}
        for name in tenant_names:
            project = by_name.get(service.desired.tenants[name].project_name)
            if project is None:
                failed[name] = "no project yet (run `fleet apply` first)"
            else:
                targets.append(TenantTarget(name, project.id, org_id, key))
    return targets, failed
