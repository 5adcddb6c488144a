"""Use cases of ``fleet checkpoint``: create, list, show and restore (gc and schedule: jobs).

A checkpoint is a compound record (``reconciler.ledger.checkpoints``): a Neon snapshot of a
tenant's root branch bound to the source revision, secrets version, deploy URL and agent run it
belongs with. Tenants resolve to projects through the ledger (falling back to the deterministic
project name in the tenant's org) and every call uses the org's key, never the personal key.

This module only resolves tenants, builds the steps and reports: Neon is changed by the step
handlers of ``reconciler.apply`` (``snapshot_steps``, ``restore_steps``), run on the applier's
executor inside a recorded ledger run (``fleet history`` shows it) and under the apply lock.

Restore runs in a fixed order, each step reported to ``on_step`` before the next begins:
``rollback`` (what the platform must roll back to) → ``hook`` (optional command; its failure
stops everything before Neon is touched) → ``restore`` (the snapshot onto the branch, finalized
unless previewing, operations polled) → ``ledger`` (the tenant's new branch id) → ``cleanup``
(the ``<name> (old)`` branch deleted unless kept) → ``done`` (status and timestamps recorded).
Retention (``gc``) and periodic checkpoints (``schedule``) are in ``checkpoint_jobs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler import __version__, errors
from reconciler.app.checkpoint_hook import key_variables, run_hook
from reconciler.app.environment import Environment
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.apply.executor import ItemResult, Status
from reconciler.apply.restore_steps import (
    RestoreProgress,
    RestoreRequest,
    clean_old_branch,
    close_restore,
    record_restored_branch,
    restore_onto_branch,
)
from reconciler.apply.snapshot_steps import OperationWait, take_snapshot
from reconciler.apply.step_runs import (
    CHECKPOINT_MODE,
    DirectStep,
    StepRun,
    run_info,
    run_steps,
)
from reconciler.core.model import DesiredFleet
from reconciler.ledger import current_actor
from reconciler.ledger.checkpoints import SETTLED, Checkpoint, CheckpointStatus, NewCheckpoint
from reconciler.neon import Branch, NeonClient

#: Records a restore may start from: settled ones, and one a killed restore left ``restoring``
#: (under the apply lock no other restore can be running).
RESTORABLE = SETTLED | {CheckpointStatus.RESTORING}


@dataclass(frozen=True)
class CreateOptions:
    """What ``fleet checkpoint create`` records besides the snapshot."""

    source_rev: str
    secrets_version: str | None = None
    deploy_url: str | None = None
    run_id: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    branch: str | None = None
    expires_in_seconds: int | None = None
    origin: str = "manual"


@dataclass(frozen=True)
class RestoreStep:
    """One step of a restore, reported before the next one starts."""

    name: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class RestoreOutcome:
    """The record after a restore and what happened to the replaced branch."""

    checkpoint: Checkpoint
    #: Why the ``(old)`` branch was kept ("" when it was deleted or there is none).
    kept_old_reason: str = ""
    #: The name of the branch the snapshot was restored to (a preview's own branch).
    restored_branch_name: str = ""


class Checkpoints:
    """The checkpoint use cases over one ``Environment`` and the loaded manifests."""

    def __init__(self, env: Environment, desired: DesiredFleet) -> None:
        self.env, self.desired = env, desired
        self.store = env.ledger().checkpoints

    @property
    def client(self) -> NeonClient:
        return self.env.client()

    def now(self) -> datetime:
        """The ledger's clock (injectable in tests)."""
        return self.store.now()

    # ------------------------------------------------------------------ resolving tenants

    def binding(self, tenant: str) -> TenantBinding:
        """Resolve a tenant to its project: the ledger first, else its project name."""
        owned = self.env.ledger().tenant(tenant)
        desired = self.desired.tenants.get(tenant)
        name = desired.project_name if desired is not None else ""
        if owned is not None:
            return TenantBinding(
                tenant, name, owned.org_id, owned.project_id, branch_ids=dict(owned.branch_ids)
            )
        if desired is None:
            raise errors.UsageError(f"unknown tenant {tenant!r}: not in the manifests or ledger")
        key = self.env.credentials().org_key(desired.org_id)
        found = self.client.find_projects_by_name(key, name, org_id=desired.org_id)
        if len(found) != 1:
            state = "no project" if not found else f"{len(found)} projects"
            raise errors.UsageError(
                f"tenant {tenant}: {state} named {name!r} in org "
                f"{desired.org_id} (run `fleet apply` first, or import the project)"
            )
        return TenantBinding(tenant, name, desired.org_id, found[0].id)

    def binding_of(self, record: Checkpoint) -> TenantBinding:
        """Where a record's tenant lives now (it may have moved orgs since)."""
        owned = self.env.ledger().tenant(record.tenant)
        if owned is not None and owned.project_id == record.project_id:
            return TenantBinding(
                record.tenant,
                "",
                owned.org_id,
                record.project_id,
                branch_ids=dict(owned.branch_ids),
            )
        return TenantBinding(record.tenant, "", record.org_id, record.project_id)

    def root_branch(self, binding: TenantBinding, name: str | None) -> Branch:
        """The named branch (default: the project's default branch); it must be a root branch."""
        key = self.env.credentials().org_key(binding.org_id)
        branches = self.client.list_branches(key, str(binding.project_id))
        if name is None:
            chosen = next((b for b in branches if b.default), None)
        else:
            chosen = next((b for b in branches if b.name == name), None)
        if chosen is None:
            raise errors.UsageError(
                f"tenant {binding.tenant}: no branch {name or '(default)'} in project "
                f"{binding.project_id}"
            )
        if chosen.parent_id is not None:
            raise errors.UsageError(
                f"tenant {binding.tenant}: branch {chosen.name} is not a root branch; Neon "
                "takes snapshots of root branches only (e.g. the default branch)"
            )
        return chosen

    # ------------------------------------------------------------------ applying

    def context(self, bindings: Sequence[TenantBinding] = ()) -> ApplyContext:
        """The applier's context for these tenants (the writer is built by apply/)."""
        return ApplyContext(
            client=self.client,
            credentials=self.env.credentials(),
            ledger=self.env.ledger(),
            sink=None,
            bindings={b.tenant: b for b in bindings},
            now=lambda: datetime.now(UTC),
        )

    @contextmanager
    def locked(self, doing: str) -> Iterator[None]:
        """Hold the ledger's apply lock: no apply or other checkpoint change runs meanwhile."""
        with self.env.ledger().apply_lock(f"{current_actor()} (fleet checkpoint {doing})"):
            yield

    def run(
        self,
        steps: Sequence[DirectStep],
        *,
        parallelism: int = 1,
        on_result: Callable[[ItemResult], None] | None = None,
        mode: str = CHECKPOINT_MODE,
    ) -> StepRun:
        """Run steps on the executor as one ledger run (``fleet history`` lists it)."""
        info = run_info(self.desired.digest, current_actor(), __version__, mode)
        return run_steps(
            self.env.ledger(), steps, info=info, parallelism=parallelism, on_result=on_result
        )

    # ------------------------------------------------------------------ create

    def create(
        self, tenant: str, options: CreateOptions, *, wait: OperationWait | None = None
    ) -> Checkpoint:
        """Snapshot the tenant's branch, wait for Neon, and record one compound checkpoint.

        ``wait`` replaces the operation polling (tests pace or interleave it).
        """
        with self.locked("create"):
            binding = self.binding(tenant)
            found = self.root_branch(binding, options.branch)
            record = self.store.begin(self.new_record(binding, options, found.name, found.id))
            ctx = self.context([binding])
            step = DirectStep(
                f"checkpoint/{tenant}/create/{record.id}", tenant, "create_snapshot",
                lambda: take_snapshot(ctx, record, wait),
            )  # fmt: skip
            self.run([step]).raise_first_error()
        return self.store.get(record.id)

    def new_record(
        self, binding: TenantBinding, options: CreateOptions, branch_name: str, branch_id: str
    ) -> NewCheckpoint:
        """The record ``begin``/``claim`` write before the snapshot is requested."""
        seconds = options.expires_in_seconds
        expires = None if seconds is None else self.now() + timedelta(seconds=seconds)
        return NewCheckpoint(
            tenant=binding.tenant, project_id=str(binding.project_id), org_id=binding.org_id,
            branch_name=branch_name, branch_id=branch_id, source_rev=options.source_rev,
            secrets_version=options.secrets_version, deploy_url=options.deploy_url,
            agent_run_id=options.run_id, meta=dict(options.meta), origin=options.origin,
            expires_at=expires,
        )  # fmt: skip

    # ------------------------------------------------------------------ list / show

    def require_known(self, tenant: str | None) -> None:
        """A tenant filter must name a declared or recorded tenant (a typo is an error)."""
        if (
            tenant is not None
            and tenant not in self.desired.tenants
            and self.env.ledger().tenant(tenant) is None
            and not self.store.list(tenant)
        ):
            raise errors.UsageError(f"unknown tenant {tenant!r}: not in the manifests or ledger")

    def list(self, tenant: str | None = None) -> list[Checkpoint]:
        """Records, newest first."""
        self.require_known(tenant)
        return self.store.list(tenant)

    def show(self, checkpoint_id: int) -> Checkpoint:
        """One record."""
        return self.store.get(checkpoint_id)

    # ------------------------------------------------------------------ restore

    def restore(
        self,
        checkpoint_id: int,
        *,
        preview: bool = False,
        keep_old: bool = False,
        hook: str | None = None,
        on_step: Callable[[RestoreStep], None] = lambda _step: None,
    ) -> RestoreOutcome:
        """Restore a checkpoint in the order the module docstring gives."""
        with self.locked("restore"):
            return self.restore_locked(
                checkpoint_id, preview=preview, keep_old=keep_old, hook=hook, on_step=on_step
            )

    def restore_locked(
        self,
        checkpoint_id: int,
        *,
        preview: bool = False,
        keep_old: bool = False,
        hook: str | None = None,
        on_step: Callable[[RestoreStep], None] = lambda _step: None,
        mode: str = CHECKPOINT_MODE,
    ) -> RestoreOutcome:
        """``restore`` for a caller that holds the apply lock (``fleet promote rollback``, whose
        run ``fleet history`` lists under its own ``mode``)."""
        record = self.store.get(checkpoint_id)
        if record.status not in RESTORABLE or record.snapshot_id is None:
            raise errors.UsageError(
                f"checkpoint #{record.id} is {record.status.value}; only a checkpoint whose "
                "snapshot exists can be restored"
            )
        binding = self.binding_of(record)
        on_step(
            RestoreStep(
                "rollback",
                {
                    "source_rev": record.source_rev,
                    "secrets_version": record.secrets_version,
                    "deploy_url": record.deploy_url,
                },
            )
        )
        if hook:
            ran = run_hook(hook, record, key_variables=key_variables(self.desired.fleet))
            on_step(RestoreStep("hook", {"command": hook, **ran}))
        self.store.begin_restore(record.id)
        return _Restore(self, record, binding, preview, keep_old, on_step).run(mode)


class _Restore:
    """One restore's steps on the executor, and its record's bookkeeping."""

    def __init__(
        self,
        service: Checkpoints,
        record: Checkpoint,
        binding: TenantBinding,
        preview: bool,
        keep_old: bool,
        on_step: Callable[[RestoreStep], None],
    ) -> None:
        assert record.snapshot_id is not None  # checked by ``restore``
        self.service, self.record, self.on_step = service, record, on_step
        self.ctx = service.context([binding])
        self.request = RestoreRequest(
            record.tenant, record.snapshot_id, record.branch_name, finalize=not preview,
            reference={"checkpoint_id": record.id},
        )  # fmt: skip
        self.progress = RestoreProgress()
        self.keep_old = keep_old
        #: What the cleanup step reported (``deleted``, ``kept_because``).
        self.cleanup: Mapping[str, Any] = {}

    def steps(self) -> list[DirectStep]:
        ctx, request, progress = self.ctx, self.request, self.progress
        base = f"checkpoint/{request.tenant}/restore/{self.record.id}"
        steps = [
            DirectStep(f"{base}/restore", request.tenant, "restore_snapshot",
                       lambda: restore_onto_branch(ctx, request, progress)),
        ]  # fmt: skip
        if request.finalize:
            steps += [
                DirectStep(f"{base}/ledger", request.tenant, "record_branch",
                           lambda: record_restored_branch(ctx, request, progress),
                           (f"{base}/restore",)),
                DirectStep(f"{base}/cleanup", request.tenant, "delete_old_branch",
                           lambda: clean_old_branch(ctx, request, progress, self.keep_old),
                           (f"{base}/ledger",)),
            ]  # fmt: skip
        return steps

    def report(self, result: ItemResult) -> None:
        if result.status is not Status.SUCCEEDED:
            return
        name = result.id.rsplit("/", 1)[1]
        if name == "cleanup":
            self.cleanup = result.detail
        self.on_step(RestoreStep(name, dict(result.detail)))

    def run(self, mode: str) -> RestoreOutcome:
        store = self.service.store
        try:
            self.service.run(self.steps(), on_result=self.report, mode=mode).raise_first_error()
        except BaseException as exc:
            close_restore(self.ctx, self.request, self.progress, failed=True)
            store.finish_restore(self.record.id, CheckpointStatus.FAILED, error=str(exc))
            self.on_step(RestoreStep("failed", {"error": str(exc)}))
            raise
        close_restore(self.ctx, self.request, self.progress)
        restored = self.progress.restored
        assert restored is not None  # the restore step succeeded
        if not self.request.finalize:
            store.finish_restore(
                self.record.id, CheckpointStatus.PREVIEWED, restored_branch_id=restored.id
            )
            self.on_step(RestoreStep("done", {"status": CheckpointStatus.PREVIEWED.value}))
            return RestoreOutcome(store.get(self.record.id), "", restored.name)
        cleanup = self.cleanup
        store.finish_restore(
            self.record.id, CheckpointStatus.RESTORED, restored_branch_id=restored.id,
            old_branch_id=self.progress.replaced_id, old_branch_deleted=bool(cleanup["deleted"]),
        )  # fmt: skip
        self.on_step(RestoreStep("done", {"status": CheckpointStatus.RESTORED.value}))
        reason = str(cleanup["kept_because"])
        return RestoreOutcome(store.get(self.record.id), reason, self.record.branch_name)
