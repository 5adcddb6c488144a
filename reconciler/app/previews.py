"""Use cases of ``fleet preview``: runtime previews per agent run (create, list, delete, gc).

An agent platform calls ``create`` when a run starts (not from git): it gets a branch of the
tenant's project with its own compute, Neon's native ``expires_at`` and a connection secret in
the Fleet's sink; the run id makes the call idempotent. Input is checked before any API call or
ledger record (unknown tenant, bad ``--ttl``, bad run id, unusable checkpoint, no sink); the
changes run through ``reconciler.apply.preview_steps`` under the apply lock. ``gc`` removes
previews whose ``expires_at`` passed and, when an idle limit is set (the tier's
``previews.idle_after`` or ``--idle-after``), those whose compute has been idle that long.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler import __version__
from reconciler.app import applying
from reconciler.app.environment import Environment
from reconciler.app.preview_gc import find_removals
from reconciler.apply import preview_steps
from reconciler.apply.applier import StepEvent
from reconciler.apply.executor import ExecutionReport, ItemResult, Status
from reconciler.apply.preview_steps import (
    PreviewContext,
    PreviewRemoval,
    PreviewRequest,
    SnapshotSource,
)
from reconciler.apply.secrets import SecretSink
from reconciler.apply.step_runs import DirectStep, run_steps
from reconciler.core.branch_policies import PreviewPolicy
from reconciler.core.catalog import DEFAULT_BRANCH
from reconciler.core.model import DesiredFleet
from reconciler.errors import ApplyError, UsageError
from reconciler.ledger import RunInfo, current_actor, utc_now
from reconciler.ledger.checkpoints import SETTLED
from reconciler.ledger.previews import PreviewRecord, PreviewStatus
from reconciler.manifests.timing import MAX_EXPIRY_SECONDS, parse_duration

#: Run ids become branch names (``preview-<id>``) and sink file names: keep them plain.
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,54}$")

Events = Callable[[StepEvent], None] | None


@dataclass(frozen=True)
class CreateOptions:
    """What ``fleet preview create`` was asked for."""

    run_id: str
    ttl: str | None = None
    parent: str = DEFAULT_BRANCH
    from_checkpoint: int | None = None
    database: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class CreateOutcome:
    """The preview as recorded, and whether this call created it."""

    record: PreviewRecord
    created: bool


@dataclass(frozen=True)
class GcOutcome:
    """What ``gc`` removed (with why and the bytes each freed) and what it kept."""

    removed: tuple[PreviewRemoval, ...]
    failed: tuple[PreviewRemoval, ...]
    kept: int

    @property
    def freed_bytes(self) -> int:
        return sum(removal.logical_size for removal in self.removed)


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id or ""):
        raise UsageError(
            f"--run-id {run_id!r}: a run id is 1-55 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it names the preview's branch and secret)"
        )
    return run_id


def check_duration(flag: str, text: str, *, most: int | None = None) -> int:
    seconds = parse_duration(text)
    if seconds is None:
        raise UsageError(f"{flag} {text!r}: a duration is a whole number and s, m, h, d or w")
    if most is not None and seconds > most:
        raise UsageError(f"{flag} {text!r}: Neon keeps a branch's expiry within 30 days")
    return seconds


class Previews:
    """The ``fleet preview`` use cases for one command."""

    def __init__(self, env: Environment, desired: DesiredFleet) -> None:
        self.env, self.desired = env, desired

    def policy(self, tenant: str) -> PreviewPolicy:
        spec = self.desired.tenants.get(tenant)
        tier = None if spec is None else self.desired.tiers.get(spec.tier)
        return PreviewPolicy() if tier is None else tier.previews

    # ------------------------------------------------------------------ create

    def create(
        self, tenant: str, options: CreateOptions, *, lock_timeout: float, on_event: Events = None
    ) -> CreateOutcome:
        """Create the run's preview, or return it when this run id already has one."""
        check_run_id(options.run_id)
        if tenant not in self.desired.tenants:
            raise UsageError(f"unknown tenant {tenant!r}: it is not declared in the manifests")
        policy = self.policy(tenant)
        ttl = policy.ttl_seconds
        if options.ttl is not None:
            ttl = check_duration("--ttl", options.ttl, most=MAX_EXPIRY_SECONDS)
        sink = self.env.secret_sink()
        if sink is None:
            raise UsageError(
                "no secret sink is configured (spec.secrets in the Fleet manifest): a preview's "
                "connection secret would have nowhere to go"
            )
        with applying.apply_session(self.env, lock_timeout=lock_timeout):
            existing = self.env.ledger().preview(tenant, options.run_id)
            if existing is not None and existing.status is PreviewStatus.READY:
                return CreateOutcome(existing, created=False)
            request = self._request(tenant, options, policy, ttl)
            ctx = self._context(sink)
            step = DirectStep(
                f"{tenant}/create_preview/{options.run_id}", tenant, "create_preview",
                lambda: preview_steps.create_preview(ctx, request),
            )  # fmt: skip
            report = _run(ctx, [step], self._run_info([request.run_id, tenant]), 1, on_event)
        _raise_for_failures(report)
        record = self.env.ledger().preview(tenant, options.run_id)
        assert record is not None  # the job succeeded, so it saved the record
        return CreateOutcome(record, created=bool(report.results[0].detail.get("created")))

    def _request(
        self, tenant: str, options: CreateOptions, policy: PreviewPolicy, ttl: int
    ) -> PreviewRequest:
        owned = self.env.ledger().tenant(tenant)
        if owned is None or not owned.project_id:
            raise UsageError(f"tenant {tenant} has no project recorded yet: run fleet apply first")
        snapshot = None
        if options.from_checkpoint is not None:
            snapshot = self._snapshot(tenant, owned.project_id, options.from_checkpoint)
        now = utc_now().replace(microsecond=0)
        return PreviewRequest(
            tenant=tenant,
            run_id=options.run_id,
            project_id=owned.project_id,
            org_id=owned.org_id,
            parent_branch=options.parent,
            expires_at=now + timedelta(seconds=ttl),
            suspend_timeout_seconds=policy.suspend_timeout_seconds,
            compute=dict(policy.compute),
            snapshot=snapshot,
            database=options.database,
            role=options.role,
        )

    def _snapshot(self, tenant: str, project_id: str, checkpoint_id: int) -> SnapshotSource:
        """The checkpoint's snapshot, if it is this tenant's and usable (read-only here)."""
        record = self.env.ledger().checkpoints.get(checkpoint_id)
        if record.tenant != tenant or record.project_id != project_id:
            raise UsageError(
                f"--from-checkpoint {checkpoint_id}: that checkpoint is tenant "
                f"{record.tenant}'s, not {tenant}'s"
            )
        if record.status not in SETTLED or record.snapshot_id is None:
            raise UsageError(
                f"--from-checkpoint {checkpoint_id}: the checkpoint is {record.status.value}, "
                "so it has no snapshot to branch from"
            )
        return SnapshotSource(checkpoint_id, record.snapshot_id)

    # ------------------------------------------------------------------ list, delete

    def records(self, tenant: str | None = None) -> list[PreviewRecord]:
        if tenant is not None and tenant not in self.desired.tenants:
            raise UsageError(f"unknown tenant {tenant!r}: it is not declared in the manifests")
        return self.env.ledger().previews(tenant)

    def delete(
        self, tenant: str, run_id: str, *, lock_timeout: float, on_event: Events = None
    ) -> PreviewRemoval:
        check_run_id(run_id)
        with applying.apply_session(self.env, lock_timeout=lock_timeout):
            record = self.env.ledger().preview(tenant, run_id)
            if record is None:
                raise UsageError(f"tenant {tenant} has no preview for run {run_id!r}")
            removal = PreviewRemoval(record, "requested")
            report = self._remove([removal], on_event)
        _raise_for_failures(report)
        return removal

    # ------------------------------------------------------------------ gc

    def gc(
        self, *, idle_after: str | None, lock_timeout: float, on_event: Events = None
    ) -> GcOutcome:
        """Delete expired previews and idle ones (see the module docstring)."""
        override = None if idle_after is None else check_duration("--idle-after", idle_after)
        with applying.apply_session(self.env, lock_timeout=lock_timeout):
            records = self.env.ledger().previews()
            removals = find_removals(
                self.env.client(),
                self.env.credentials(),
                records,
                now=datetime.now(UTC),
                idle_after=lambda t: override or self.policy(t).idle_after_seconds,
            )
            report = self._remove(removals, on_event) if removals else ExecutionReport(())
        failed_ids = {r.id for r in report.results if r.status is not Status.SUCCEEDED}
        done = tuple(r for r in removals if _job_id(r) not in failed_ids)
        failed = tuple(r for r in removals if _job_id(r) in failed_ids)
        return GcOutcome(done, failed, kept=len(records) - len(removals))

    # ------------------------------------------------------------------ plumbing

    def _remove(self, removals: list[PreviewRemoval], on_event: Events) -> ExecutionReport:
        sink = self.env.secret_sink()
        ctx = self._context(sink)
        steps = [
            DirectStep(_job_id(r), r.record.tenant, "delete_preview", _deleter(ctx, r))
            for r in removals
        ]
        info = self._run_info([_job_id(r) for r in removals])
        return _run(ctx, steps, info, self.env.fleet.policy.parallelism, on_event)

    def _context(self, sink: SecretSink | None) -> PreviewContext:
        return PreviewContext(
            reader=self.env.client(),
            credentials=self.env.credentials(),
            ledger=self.env.ledger(),
            sink=sink,
        )

    def _run_info(self, what: list[str]) -> RunInfo:
        digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
        return RunInfo(
            who=current_actor(),
            started_at=utc_now(),
            plan_digest=digest,
            manifest_digest=self.desired.digest,
            tool_version=__version__,
            mode="preview",
        )


def _job_id(removal: PreviewRemoval) -> str:
    return f"{removal.record.tenant}/delete_preview/{removal.record.run_id}"


def _deleter(ctx: PreviewContext, removal: PreviewRemoval) -> Callable[[], Mapping[str, Any]]:
    return lambda: preview_steps.delete_preview(ctx, removal)


def _run(
    ctx: PreviewContext, steps: list[DirectStep], info: RunInfo, parallelism: int, on_event: Events
) -> ExecutionReport:
    """Run the steps as one recorded ledger run (as checkpoint commands do), reporting each
    outcome to ``on_event`` as it happens."""
    by_id = {step.id: step for step in steps}

    def report(result: ItemResult) -> None:
        if on_event is not None:
            step = by_id[result.id]
            status, message = result.status.value, result.message
            on_event(StepEvent(result.id, step.tenant, step.action, status, message, result.detail))

    return run_steps(ctx.ledger, steps, info=info, parallelism=parallelism, on_result=report).report


def _raise_for_failures(report: ExecutionReport) -> None:
    if not report.ok:
        raise ApplyError(
            report.count(Status.FAILED),
            report.count(Status.SKIPPED),
            report.count(Status.SUCCEEDED),
        )
