"""Use cases of ``fleet checkpoint``: create, list, show, restore, gc and schedule.

A checkpoint is a compound record (``reconciler.ledger.checkpoints``): a Neon snapshot of a
tenant's root branch bound to the source revision, secrets version, deploy URL and agent run it
belongs with. Tenants resolve to projects through the ledger (falling back to the deterministic
project name in the tenant's org) and every call uses the org's key, never the personal key.

Restore runs in a fixed order, each step reported to ``on_step`` before the next begins:
``rollback`` (what the platform must roll back to) → ``hook`` (optional command; its failure
stops everything before Neon is touched) → ``restore`` (the snapshot onto the branch, finalized
unless previewing, operations polled) → ``ledger`` (the tenant's new branch id) → ``cleanup``
(the ``<name> (old)`` branch deleted unless kept) → ``done`` (status and timestamps recorded).
Retention (``gc``) and periodic checkpoints (``schedule``) are in ``checkpoint_jobs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from reconciler import errors
from reconciler.app.checkpoint_hook import key_variables, run_hook
from reconciler.app.environment import Environment
from reconciler.core.model import DesiredFleet
from reconciler.ledger.checkpoints import (
    SETTLED,
    Checkpoint,
    CheckpointStatus,
    CheckpointStore,
    NewCheckpoint,
)
from reconciler.neon import Branch, NeonClient, Operation
from reconciler.neon import snapshots as neon_snapshots

#: Neon's code for a project at its snapshot cap (UNCONFIRMED; the emulator uses it).
SNAPSHOT_LIMIT_CODES = frozenset({"SNAPSHOTS_LIMIT_EXCEEDED"})


@dataclass(frozen=True)
class TenantTarget:
    """Where a tenant lives: its project, org, the org's key and the ledger's branch ids."""

    tenant: str
    project_id: str
    org_id: str
    key: str = field(repr=False)
    branch_ids: Mapping[str, str] = field(default_factory=dict)
    owned: bool = False


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

    def target(self, tenant: str) -> TenantTarget:
        """Resolve a tenant to its project: the ledger first, else its project name."""
        owned = self.env.ledger().tenant(tenant)
        credentials = self.env.credentials()
        if owned is not None:
            return TenantTarget(
                tenant, owned.project_id, owned.org_id, credentials.org_key(owned.org_id),
                dict(owned.branch_ids), owned=True,
            )  # fmt: skip
        desired = self.desired.tenants.get(tenant)
        if desired is None:
            raise errors.UsageError(f"unknown tenant {tenant!r}: not in the manifests or ledger")
        key = credentials.org_key(desired.org_id)
        found = self.client.find_projects_by_name(key, desired.project_name, org_id=desired.org_id)
        if len(found) != 1:
            state = "no project" if not found else f"{len(found)} projects"
            raise errors.UsageError(
                f"tenant {tenant}: {state} named {desired.project_name!r} in org "
                f"{desired.org_id} (run `fleet apply` first, or import the project)"
            )
        return TenantTarget(tenant, found[0].id, desired.org_id, key)

    def root_branch(self, target: TenantTarget, name: str | None) -> Branch:
        """The named branch (default: the project's default branch); it must be a root branch."""
        branches = self.client.list_branches(target.key, target.project_id)
        if name is None:
            chosen = next((b for b in branches if b.default), None)
        else:
            chosen = next((b for b in branches if b.name == name), None)
        if chosen is None:
            raise errors.UsageError(
                f"tenant {target.tenant}: no branch {name or '(default)'} in project "
                f"{target.project_id}"
            )
        if chosen.parent_id is not None:
            raise errors.UsageError(
                f"tenant {target.tenant}: branch {chosen.name} is not a root branch; Neon "
                "takes snapshots of root branches only (e.g. the default branch)"
            )
        return chosen

    # ------------------------------------------------------------------ create

    def create(
        self,
        tenant: str,
        options: CreateOptions,
        *,
        target: TenantTarget | None = None,
        branch: tuple[str, str] | None = None,
        wait: Callable[[str, str, Sequence[Operation]], object] | None = None,
    ) -> Checkpoint:
        """Snapshot the tenant's branch, wait for Neon, and record one compound checkpoint.

        ``branch`` (name, id) skips the branch lookup (``schedule`` passes the ledger's id);
        ``wait`` replaces the operation polling (``schedule`` paces its polls).
        """
        target, branch, new = self._prepare(tenant, options, target, branch)
        return self._take(self.store.begin(new), target, branch, wait)

    def create_if_due(
        self,
        tenant: str,
        options: CreateOptions,
        every: timedelta,
        *,
        target: TenantTarget,
        branch: tuple[str, str],
        wait: Callable[[str, str, Sequence[Operation]], object] | None = None,
    ) -> Checkpoint | None:
        """``create``, unless another run took (or is taking) a checkpoint within ``every``.

        The record is claimed atomically in the ledger, so overlapping ``schedule`` runs
        snapshot each tenant once; None when the claim went to another run.
        """
        target, branch, new = self._prepare(tenant, options, target, branch)
        record = self.store.claim(new, every)
        return None if record is None else self._take(record, target, branch, wait)

    def _prepare(
        self,
        tenant: str,
        options: CreateOptions,
        target: TenantTarget | None,
        branch: tuple[str, str] | None,
    ) -> tuple[TenantTarget, tuple[str, str], NewCheckpoint]:
        target = target or self.target(tenant)
        if branch is None:
            found = self.root_branch(target, options.branch)
            branch = (found.name, found.id)
        seconds = options.expires_in_seconds
        expires = None if seconds is None else self.now() + timedelta(seconds=seconds)
        new = NewCheckpoint(
            tenant=tenant, project_id=target.project_id, org_id=target.org_id,
            branch_name=branch[0], branch_id=branch[1], source_rev=options.source_rev,
            secrets_version=options.secrets_version, deploy_url=options.deploy_url,
            agent_run_id=options.run_id, meta=dict(options.meta), origin=options.origin,
            expires_at=expires,
        )  # fmt: skip
        return target, branch, new

    def _take(
        self,
        record: Checkpoint,
        target: TenantTarget,
        branch: tuple[str, str],
        wait: Callable[[str, str, Sequence[Operation]], object] | None,
    ) -> Checkpoint:
        """Request the snapshot of a ``creating`` record, wait for Neon, mark it ready."""
        try:
            created = neon_snapshots.create_snapshot(
                self.client, target.key, target.project_id, branch[1],
                name=record.snapshot_name, expires_at=_stamp(record.expires_at),
            )  # fmt: skip
            snapshot, operations = created.snapshot, created.operations
        except errors.OutcomeUnknown:
            # Never re-send: read back by the record's unique snapshot name.
            read_back = neon_snapshots.find_snapshot_by_name(
                self.client, target.key, target.project_id, record.snapshot_name
            )
            if read_back is None:
                self.store.discard(record.id)
                raise
            snapshot, operations = read_back, ()
        except errors.ApiError as exc:
            self.store.discard(record.id)
            raise _explained(exc, record.tenant, target) from exc
        # Keep the id before waiting: if the wait fails the record stays ``creating`` with
        # it, and ``gc`` or the next ``schedule`` settles it by reading the snapshot back.
        self.store.attach_snapshot(record.id, snapshot.id)
        (wait or self._wait)(target.key, target.project_id, operations)
        self.store.mark_ready(record.id, snapshot.id, snapshot.full_size)
        return self.store.get(record.id)

    def _wait(self, key: str, project_id: str, operations: Sequence[Operation]) -> None:
        self.client.wait_for_operations(key, project_id, operations)

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
        record = self.store.get(checkpoint_id)
        if record.status not in SETTLED or record.snapshot_id is None:
            raise errors.UsageError(
                f"checkpoint #{record.id} is {record.status.value}; only a checkpoint whose "
                "snapshot exists can be restored"
            )
        target = self.target_of(record)
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
        try:
            return self._restore(record, target, preview, keep_old, on_step)
        except BaseException as exc:
            self.store.finish_restore(record.id, CheckpointStatus.FAILED, error=str(exc))
            on_step(RestoreStep("failed", {"error": str(exc)}))
            raise

    def target_of(self, record: Checkpoint) -> TenantTarget:
        """Where a record's tenant lives now (it may have moved orgs since)."""
        owned = self.env.ledger().tenant(record.tenant)
        org_id = record.org_id
        if owned is not None and owned.project_id == record.project_id:
            org_id = owned.org_id  # the tenant may have moved orgs since
        key = self.env.credentials().org_key(org_id)
        branch_ids = dict(owned.branch_ids) if owned is not None else {}
        return TenantTarget(
            record.tenant, record.project_id, org_id, key, branch_ids, owned=owned is not None
        )

    def _restore(
        self,
        record: Checkpoint,
        target: TenantTarget,
        preview: bool,
        keep_old: bool,
        on_step: Callable[[RestoreStep], None],
    ) -> RestoreOutcome:
        client, key, project_id = self.client, target.key, target.project_id
        assert record.snapshot_id is not None
        branches = client.list_branches(key, project_id)
        current = next((b for b in branches if b.name == record.branch_name), None)
        if current is None:
            raise errors.UsageError(
                f"tenant {record.tenant}: branch {record.branch_name} no longer exists"
            )
        restored = neon_snapshots.restore_snapshot(
            client, key, project_id, record.snapshot_id,
            target_branch_id=current.id, finalize=not preview,
        )  # fmt: skip
        client.wait_for_operations(key, project_id, restored.operations)
        new_id = restored.branch.id
        on_step(
            RestoreStep(
                "restore",
                {"branch": record.branch_name, "from_branch_id": current.id,
                 "new_branch_id": new_id, "finalized": not preview,
                 "operations": len(restored.operations)},
            )
        )  # fmt: skip
        if preview:
            self.store.finish_restore(
                record.id, CheckpointStatus.PREVIEWED, restored_branch_id=new_id
            )
            on_step(RestoreStep("done", {"status": CheckpointStatus.PREVIEWED.value}))
            return RestoreOutcome(self.store.get(record.id), "", restored.branch.name)
        self._record_branch(target, record.branch_name, new_id)
        on_step(RestoreStep("ledger", {"branch": record.branch_name, "branch_id": new_id}))
        deleted, reason = self._cleanup(target, current, branches, keep_old)
        on_step(
            RestoreStep("cleanup", {"old_branch_id": current.id, "deleted": deleted,
                                    "kept_because": reason})
        )  # fmt: skip
        self.store.finish_restore(
            record.id, CheckpointStatus.RESTORED, restored_branch_id=new_id,
            old_branch_id=current.id, old_branch_deleted=deleted,
        )  # fmt: skip
        on_step(RestoreStep("done", {"status": CheckpointStatus.RESTORED.value}))
        return RestoreOutcome(self.store.get(record.id), reason, record.branch_name)

    def _record_branch(self, target: TenantTarget, name: str, branch_id: str) -> None:
        ledger = self.env.ledger()
        owned = ledger.tenant(target.tenant)
        if owned is None or owned.project_id != target.project_id:
            return  # the ledger does not own this tenant: nothing of it to keep current
        ledger.upsert_tenant(replace(owned, branch_ids={**owned.branch_ids, name: branch_id}))

    def _cleanup(
        self, target: TenantTarget, old: Branch, branches: Sequence[Branch], keep_old: bool
    ) -> tuple[bool, str]:
        if keep_old:
            return False, "--keep-old"
        children = sorted(b.name for b in branches if b.parent_id == old.id)
        if children:
            # Neon keeps children on the replaced branch; deleting it would fail.
            return False, f"it has child branches: {', '.join(children)}"
        gone = self.client.delete_branch(target.key, target.project_id, old.id)
        if gone is not None:
            self.client.wait_for_operations(target.key, target.project_id, gone[1])
        return True, ""


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _explained(exc: errors.ApiError, tenant: str, target: TenantTarget) -> errors.ApiError:
    """A limit refusal names the tenant and the limit; other errors pass unchanged."""
    if exc.code not in SNAPSHOT_LIMIT_CODES:
        return exc
    return type(exc)(
        f"cannot checkpoint tenant {tenant}: project {target.project_id} is at Neon's "
        f"snapshot limit ({exc.detail}); run `fleet checkpoint gc` to delete checkpoints "
        "the tier's retention no longer keeps",
        status=exc.status, code=exc.code, request_id=exc.request_id,
        method=exc.method, route=exc.route, body=exc.body,
    )  # fmt: skip
