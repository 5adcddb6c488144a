"""Checkpoint jobs: ``gc`` (retention) and ``schedule`` (periodic checkpoints in a budget).

``gc`` deletes expired checkpoints and those a tier's ``checkpoints: {keep_last, max_age}`` no
longer keeps, snapshot first, then the record, and sums the storage freed where Neon reports
snapshot sizes. ``schedule`` is what a cron job runs: Neon's Agent Plan has no snapshot
schedules, so it checkpoints every tenant whose tier sets ``checkpoints.every`` and whose last
checkpoint is older than that, paced to a request budget; re-running it creates nothing new.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler import errors
from reconciler.app.checkpoints import Checkpoints, CreateOptions
from reconciler.app.source_revision import MISSING_SOURCE_REV
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.apply.snapshot_steps import (
    OperationWait,
    delete_snapshot,
    settle_record,
    take_snapshot,
)
from reconciler.apply.step_runs import DirectStep, StepRun
from reconciler.core.catalog import DEFAULT_BRANCH
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
    are settled by reading their snapshot back by its unique name. Deletes run as one ledger
    run under the apply lock; a dry run only reads.
    """
    service.require_known(tenant)
    if dry_run:
        return _collect(service, tenant, dry_run=True, settled={})
    with service.locked("gc"):
        settled = settle_creating(service, service.store.list(tenant), service.now())
        return _collect(service, tenant, dry_run=False, settled=settled)


def _collect(
    service: Checkpoints, tenant: str | None, *, dry_run: bool, settled: Mapping[int, str]
) -> GcReport:
    now = service.now()
    by_tenant: dict[str, list[Checkpoint]] = {}
    for record in service.store.list(tenant):
        by_tenant.setdefault(record.tenant, []).append(record)
    collected: list[Collected] = []
    steps: list[DirectStep] = []
    ctx = service.context()
    sizes: dict[str, dict[str, neon_snapshots.Snapshot]] = {}
    for name, records in sorted(by_tenant.items()):
        desired = service.desired.tenants.get(name)
        for record, reason in retention_candidates(
            records, desired.checkpoints if desired else None, now
        ):
            key = _key_now(service, record)
            if record.project_id not in sizes:
                listed = neon_snapshots.list_snapshots(service.client, key, record.project_id)
                sizes[record.project_id] = {s.id: s for s in listed}
            snapshot = sizes[record.project_id].get(record.snapshot_id or "")
            steps.append(_delete_step(ctx, record, key, snapshot))
            collected.append(
                Collected(record, reason, snapshot.full_size if snapshot else None,
                          snapshot is not None)
            )  # fmt: skip
    if steps and not dry_run:
        service.run(steps).raise_first_error()
    return GcReport(tuple(collected), dry_run, dict(settled))


def _delete_step(
    ctx: ApplyContext, record: Checkpoint, key: str, snapshot: neon_snapshots.Snapshot | None
) -> DirectStep:
    snapshot_id = snapshot.id if snapshot is not None else None
    return DirectStep(
        f"checkpoint/{record.tenant}/delete/{record.id}", record.tenant, "delete_snapshot",
        lambda: delete_snapshot(ctx, record, key, snapshot_id),
    )  # fmt: skip


def _key_now(service: Checkpoints, record: Checkpoint) -> str:
    """The key of the org the record's project is in now (it may have moved orgs since)."""
    return service.env.credentials().org_key(service.binding_of(record).org_id)


def settle_creating(
    service: Checkpoints, records: Sequence[Checkpoint], now: datetime
) -> dict[int, str]:
    """Settle records a crashed or interrupted create left ``creating`` for too long.

    Each is read back by its unique snapshot name (``snapshot_steps.settle_record``) with the
    keys of the orgs its project may be in now, as one ledger run: ``ready``, ``discarded``, or
    ``unsettled: …`` when no managed key can read the project (left for a later run).
    """
    stale = [
        r for r in records
        if r.status is CheckpointStatus.CREATING and r.updated_at <= now - STALE_CREATING
    ]  # fmt: skip
    if not stale:
        return {}
    ctx = service.context()
    steps = [
        DirectStep(
            f"checkpoint/{record.tenant}/settle/{record.id}",
            record.tenant,
            "settle_snapshot",
            functools.partial(settle_record, ctx, record, _candidate_keys(service, record)),
        )
        for record in stale
    ]
    run = service.run(steps)
    run.raise_first_error()
    done = {result.id: result.detail for result in run.report.results}
    return {
        record.id: str(done[step.id]["settled"]) for record, step in zip(stale, steps, strict=True)
    }


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
    bindings, failed = _schedule_targets(service, [t.name for t in due], pace)
    taking = _Taking(service, CreateOptions(source_rev=source_rev, origin="schedule"), every)
    taking.pace_with(pace, sleep, clock)
    if bindings:
        run = service.run(taking.steps(bindings), parallelism=max(1, parallelism))
        failed.update(taking.failures(run))
    return ScheduleReport(
        created=tuple(sorted(taking.created, key=lambda c: c.tenant)),
        not_due=not_due,
        deferred=deferred,
        failed=dict(sorted(failed.items())),
        requests=service.client.stats.snapshot().total_requests - before,
        seconds=clock() - started,
        taken_elsewhere=tuple(sorted(taking.elsewhere)),
        settled=settled,
    )


class _Taking:
    """The steps of one ``schedule`` run: claim each due tenant, snapshot it, paced."""

    def __init__(
        self, service: Checkpoints, options: CreateOptions, every: Mapping[str, timedelta]
    ) -> None:
        self.service, self.options, self.every = service, options, every
        self.ctx = service.context()
        self.created: list[Checkpoint] = []
        self.elsewhere: list[str] = []
        self._guard = threading.Lock()
        self.pace: Callable[[], None] = lambda: None
        self.wait: OperationWait | None = None

    def pace_with(
        self, pace: Callable[[], None], sleep: Callable[[float], None], clock: Callable[[], float]
    ) -> None:
        """Pace every request, operation polls included, to the run's budget."""
        client = self.service.client

        def wait(key: str, project_id: str, operations: Sequence[Operation]) -> None:
            def fetch(operation_id: str) -> Operation:
                pace()
                return client.get_operation(key, project_id, operation_id)

            wait_for_operations(fetch, operations, timeout=300.0, sleep=sleep, clock=clock)

        self.pace, self.wait = pace, wait

    def steps(self, bindings: Sequence[TenantBinding]) -> list[DirectStep]:
        for binding in bindings:
            self.ctx.bindings[binding.tenant] = binding
        return [
            DirectStep(f"checkpoint/{b.tenant}/schedule", b.tenant, "create_snapshot",
                       functools.partial(self.take, b))
            for b in bindings
        ]  # fmt: skip

    def take(self, binding: TenantBinding) -> dict[str, Any]:
        """Claim and snapshot one tenant; the ledger's branch id first, looked up if stale."""
        branch_id = binding.branch_ids.get(DEFAULT_BRANCH)
        if branch_id is None:
            return self._claim_and_take(binding, self._default_branch(binding))
        try:
            return self._claim_and_take(binding, (DEFAULT_BRANCH, branch_id))
        except errors.NotFound:
            # The ledger's branch id is stale: look the default branch up once.
            return self._claim_and_take(binding, self._default_branch(binding))

    def _default_branch(self, binding: TenantBinding) -> tuple[str, str]:
        self.pace()
        found = self.service.root_branch(binding, None)
        return found.name, found.id

    def _claim_and_take(self, binding: TenantBinding, branch: tuple[str, str]) -> dict[str, Any]:
        self.pace()
        new = self.service.new_record(binding, self.options, *branch)
        record = self.service.store.claim(new, self.every[binding.tenant])
        if record is None:
            with self._guard:
                self.elsewhere.append(binding.tenant)
            return {"taken_elsewhere": True}
        detail = take_snapshot(self.ctx, record, self.wait)
        with self._guard:
            self.created.append(self.service.store.get(record.id))
        return detail

    @staticmethod
    def failures(run: StepRun) -> dict[str, str]:
        """Tenant → why, for the steps that failed; an error that is not Fleet's is a bug."""
        failed: dict[str, str] = {}
        for step_id, exc in run.errors.items():
            if not isinstance(exc, errors.ReconcilerError):
                raise exc
            failed[step_id.split("/")[1]] = str(exc)
        return failed


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
) -> tuple[list[TenantBinding], dict[str, str]]:
    """Resolve due tenants: the ledger's records, then one project listing per org for the rest."""
    view = service.env.ledger().view()
    credentials = service.env.credentials()
    bindings: list[TenantBinding] = []
    failed: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    for name in names:
        owned = view.tenants.get(name)
        desired = service.desired.tenants[name]
        if owned is not None:
            bindings.append(
                TenantBinding(name, desired.project_name, owned.org_id, owned.project_id,
                              branch_ids=dict(owned.branch_ids))
            )  # fmt: skip
        else:
            missing.setdefault(desired.org_id, []).append(name)
    for org_id, tenant_names in sorted(missing.items()):
        key = credentials.org_key(org_id)
        pace()
        by_name = {p.name: p for p in service.client.list_projects(key, org_id=org_id).projects}
        for name in tenant_names:
            project_name = service.desired.tenants[name].project_name
            project = by_name.get(project_name)
            if project is None:
                failed[name] = "no project yet (run `fleet apply` first)"
            else:
                bindings.append(TenantBinding(name, project_name, org_id, project.id))
    return bindings, failed
