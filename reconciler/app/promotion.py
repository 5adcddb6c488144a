"""Use cases of ``fleet promote``: a tenant's dev branch promoted to production by snapshots.

``bootstrap`` makes the dev branch (a root branch) from production's latest checkpoint (or a
new one) with a compute sized by the tier's preview settings; ``run`` promotes dev to
production; ``refresh`` re-creates dev from production's state; ``rollback`` restores
production from the checkpoint the last ``run`` took. docs/promotion.md gives the workflow
and what each command guarantees.

Every command checks its input against the manifests and the ledger before any API call, holds
the apply lock, and changes Neon only through the step handlers of ``reconciler.apply``
(``promotion_steps`` composing ``snapshot_steps`` and ``restore_steps``) run on the executor as
one recorded ledger run (``fleet history`` lists it, plan ``promotion``). A promotion record is
written before Neon is changed and stays ``running`` until the command finished, so the same
command after a kill or a failure resumes it: its checkpoints are found again by their
``promotion_id`` metadata and the restore by its intent, never taken or sent twice.

``run`` in order: ``hook`` (optional; its failure stops everything before the ledger or Neon is
touched) → ``checkpoint`` (production, the rollback point) → ``snapshot`` (dev) → ``restore``
(dev's snapshot onto production, finalized, operations polled) → ``ledger`` (production's new
branch id) → ``cleanup`` (the ``(old)`` branch) → ``done``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from reconciler import __version__, errors
from reconciler.app.checkpoint_hook import key_variables, run_json_hook
from reconciler.app.checkpoints import Checkpoints, CreateOptions, RestoreStep
from reconciler.app.environment import Environment
from reconciler.apply.context import TenantBinding
from reconciler.apply.executor import ItemResult, Status
from reconciler.apply.promotion_steps import (
    checkpoint_detail,
    ensure_checkpoint,
    make_branch_once,
    note_restored,
    restore_once,
    size_compute,
)
from reconciler.apply.restore_steps import (
    RestoreProgress,
    RestoreRequest,
    clean_old_branch,
    close_restore,
)
from reconciler.apply.step_runs import DirectStep, run_steps
from reconciler.core.branch_policies import PreviewPolicy
from reconciler.core.model import COMPUTE_KEYS, DesiredFleet
from reconciler.ledger import RunInfo, current_actor
from reconciler.ledger.checkpoints import SETTLED, Checkpoint, CheckpointStatus
from reconciler.ledger.promotions import (
    NewPromotion,
    Promotion,
    PromotionKind,
    PromotionStatus,
)

#: ``RunInfo.mode`` (and plan) of the runs ``fleet promote`` records.
PROMOTION_MODE = "promotion"
#: Checkpoint metadata that ties a checkpoint to its promotion and its part in it.
PROMOTION_ID, PROMOTION_ROLE = "promotion_id", "promotion_role"


@dataclass(frozen=True)
class PromoteOptions:
    """The branches and what a promotion records with its checkpoints."""

    branch: str = "dev"
    to: str = "main"
    source_rev: str = ""
    run_id: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)
    hook: str | None = None
    keep_old: bool = False


OnStep = Callable[[RestoreStep], None]


class Promotions:
    """The promotion use cases over one ``Environment`` and the loaded manifests."""

    def __init__(self, env: Environment, desired: DesiredFleet) -> None:
        self.checkpoints = Checkpoints(env, desired)
        self.desired = desired
        self.ledger = env.ledger()
        self.store = self.ledger.promotions

    # ------------------------------------------------------------------ input

    def check(self, tenant: str, options: PromoteOptions, kind: PromotionKind | None) -> None:
        """Refuse bad input from the manifests and the ledger alone (no API call)."""
        desired = self.desired.tenants.get(tenant)
        if desired is None:
            raise errors.UsageError(f"unknown tenant {tenant!r}: not in the manifests")
        if self.ledger.tenant(tenant) is None:
            raise errors.UsageError(
                f"tenant {tenant} has no project in the ledger yet: run `fleet apply` first"
            )
        if options.branch == options.to:
            raise errors.UsageError(f"--branch and --to both name {options.branch!r}")
        if any(spec.name == options.branch for spec in desired.branches):
            raise errors.UsageError(
                f"tenant {tenant}: branch {options.branch} is declared in the manifests; the dev "
                "branch must be undeclared (fleet promote bootstrap makes it as a root branch)"
            )
        if kind in (PromotionKind.RUN, PromotionKind.REFRESH) and not self._bootstrapped(
            tenant, options
        ):
            raise errors.UsageError(
                f"tenant {tenant} has no dev branch {options.branch!r} made by `fleet promote "
                f"bootstrap`: run `fleet promote bootstrap {tenant} --branch "
                f"{options.branch}` first"
            )

    def _bootstrapped(self, tenant: str, options: PromoteOptions) -> bool:
        return any(
            p.kind is PromotionKind.BOOTSTRAP
            and p.status is PromotionStatus.DONE
            and (p.source_branch, p.target_branch) == (options.to, options.branch)
            for p in self.store.list(tenant)
        )

    # ------------------------------------------------------------------ commands

    def bootstrap(self, tenant: str, options: PromoteOptions, on_step: OnStep) -> Promotion:
        """Make the dev branch from production's latest checkpoint (or a new one), sized."""
        self.check(tenant, options, None)
        return self._promote(PromotionKind.BOOTSTRAP, tenant, options, on_step)

    def run(self, tenant: str, options: PromoteOptions, on_step: OnStep) -> Promotion:
        """Promote dev to production, after a checkpoint of production to roll back to."""
        self.check(tenant, options, PromotionKind.RUN)
        return self._promote(PromotionKind.RUN, tenant, options, on_step)

    def refresh(self, tenant: str, options: PromoteOptions, on_step: OnStep) -> Promotion:
        """Re-create dev from production's state (dev keeps its name and compute)."""
        self.check(tenant, options, PromotionKind.REFRESH)
        return self._promote(PromotionKind.REFRESH, tenant, options, on_step)

    def rollback(self, tenant: str, options: PromoteOptions, on_step: OnStep) -> Promotion:
        """Restore production from the checkpoint the tenant's last ``run`` took."""
        self.check(tenant, options, None)
        unfinished = self.store.open_for(tenant, PromotionKind.RUN)
        if unfinished is not None:
            raise errors.UsageError(
                f"tenant {tenant}: promotion #{unfinished.id} is unfinished; run `fleet promote "
                "run` again to finish it, then roll back"
            )
        last = self.store.last_run(tenant)
        if last is None or last.rollback_checkpoint_id is None:
            raise errors.UsageError(f"tenant {tenant} has no finished promotion to roll back")
        if last.status is PromotionStatus.ROLLED_BACK:
            on_step(RestoreStep("done", {"status": last.status.value, "already": True}))
            return last
        with self._locked(f"rollback {tenant}"):
            record = self.checkpoints.store.get(last.rollback_checkpoint_id)
            if not _restored_since(record, self.store.get(last.id)):
                unchanged = "nothing was rolled back and nothing was changed"
                self._hook(options, {**last.to_json(), "command": "rollback"}, on_step, unchanged)
                if last.status is PromotionStatus.DONE:
                    self.store.begin_rollback(last.id)
                self.checkpoints.restore_locked(
                    record.id, keep_old=options.keep_old, on_step=on_step, mode=PROMOTION_MODE
                )
            self.store.finish(last.id, PromotionStatus.ROLLED_BACK)
        return self.store.get(last.id)

    # ------------------------------------------------------------------ running

    def _promote(
        self, kind: PromotionKind, tenant: str, options: PromoteOptions, on_step: OnStep
    ) -> Promotion:
        source, target = (
            (options.branch, options.to)
            if kind is PromotionKind.RUN
            else (options.to, options.branch)
        )
        with self._locked(f"{kind.value} {tenant}"):
            binding = self.checkpoints.binding(tenant)
            promotion = self.store.open_for(tenant, kind)
            if promotion is not None and (promotion.source_branch, promotion.target_branch) != (
                source,
                target,
            ):
                raise errors.UsageError(
                    f"tenant {tenant}: promotion #{promotion.id} ({kind.value} "
                    f"{promotion.source_branch} → {promotion.target_branch}) is unfinished; run "
                    "that command again to finish it first"
                )
            # Read-only: both branches exist as root branches before anything is written (the
            # dev branch of a bootstrap is made by it).
            for name in (source, target) if kind is not PromotionKind.BOOTSTRAP else (source,):
                self.checkpoints.root_branch(binding, name)
            payload = promotion.to_json() if promotion else {"tenant": tenant, "kind": kind.value}
            payload = {**payload, "source_branch": source, "target_branch": target}
            unchanged = "nothing was promoted and nothing was changed"
            self._hook(options, payload, on_step, unchanged)
            if promotion is None:
                promotion = self.store.begin(
                    NewPromotion(
                        tenant, kind, str(binding.project_id), source, target,
                        options.source_rev, options.run_id, dict(options.meta),
                    )
                )  # fmt: skip
            on_step(RestoreStep("promotion", {"id": promotion.id, "kind": kind.value}))
            _Flow(self, promotion, binding, options, on_step).run()
            self.store.finish(promotion.id, PromotionStatus.DONE)
        return self.store.get(promotion.id)

    @contextmanager
    def _locked(self, doing: str) -> Iterator[None]:
        """Hold the ledger's apply lock: no apply or checkpoint change runs meanwhile."""
        with self.ledger.apply_lock(f"{current_actor()} (fleet promote {doing})"):
            yield

    def _hook(
        self, options: PromoteOptions, payload: Mapping[str, Any], on_step: OnStep, unchanged: str
    ) -> None:
        """Run the hook first; its failure (``UsageError``) says ``unchanged``."""
        if not options.hook:
            return
        ran = run_json_hook(
            options.hook, payload, what="the promotion hook", unchanged=unchanged,
            key_variables=key_variables(self.desired.fleet),
        )  # fmt: skip
        on_step(RestoreStep("hook", {"command": options.hook, **ran}))

    def dev_compute(self, tenant: str) -> dict[str, float | int]:
        """The dev branch's compute, sized by the tier's ``previews`` settings (suspend timeout
        and min/max CU; the tenant's own min/max CU where the tier sets none). The planner leaves
        dev's compute alone (it is one of the ledger's runtime branches), so a re-plan stays
        empty however it is sized."""
        desired = self.desired.tenants[tenant]
        tier = self.desired.tiers.get(desired.tier)
        previews = tier.previews if tier is not None else PreviewPolicy()
        settings: dict[str, float | int] = {
            k: v.value for k, v in desired.compute.items() if k in COMPUTE_KEYS
        }
        settings.update(previews.compute)
        settings["suspend_timeout_seconds"] = previews.suspend_timeout_seconds
        return settings


def _restored_since(record: Checkpoint, promotion: Promotion) -> bool:
    """True when a killed rollback restored the checkpoint already (only its record is left)."""
    started = promotion.rollback_started_at
    return (
        promotion.status is PromotionStatus.ROLLING_BACK
        and started is not None
        and record.restored_at is not None
        and record.restored_at >= started
        and record.status is CheckpointStatus.RESTORED
    )


class _Flow:
    """One promotion's steps on the executor (see the module docstring for the order)."""

    def __init__(
        self,
        service: Promotions,
        promotion: Promotion,
        binding: TenantBinding,
        options: PromoteOptions,
        on_step: OnStep,
    ) -> None:
        self.service, self.promotion, self.binding = service, promotion, binding
        self.options, self.on_step = options, on_step
        self.ctx = service.checkpoints.context([binding])
        self.progress = RestoreProgress()
        self.request: RestoreRequest | None = None
        self.base = f"promote/{promotion.tenant}/{promotion.kind.value}/{promotion.id}"

    # ------------------------------------------------------------------ checkpoints

    def _found(self, role: str) -> Checkpoint | None:
        return next(
            (
                c
                for c in self.service.checkpoints.store.list(self.promotion.tenant)
                if c.meta.get(PROMOTION_ID) == str(self.promotion.id)
                and c.meta.get(PROMOTION_ROLE) == role
            ),
            None,
        )

    def _begin(self, role: str, branch: str) -> Checkpoint:
        service, options = self.service.checkpoints, self.options
        found = service.root_branch(self.binding, branch)
        meta = {**options.meta, PROMOTION_ID: str(self.promotion.id), PROMOTION_ROLE: role}
        new = service.new_record(
            self.binding,
            CreateOptions(options.source_rev, run_id=options.run_id, meta=meta,
                          branch=branch, origin=PROMOTION_MODE),
            found.name, found.id,
        )  # fmt: skip
        return service.store.begin(new, name_prefix="promo")

    def checkpoint(self, role: str, branch: str, column: str) -> dict[str, Any]:
        """Take (or resume) the checkpoint playing ``role`` and keep its id on the promotion."""
        record = ensure_checkpoint(self.ctx, self._found(role), lambda: self._begin(role, branch))
        self.service.store.attach(self.promotion.id, **{column: record.id})
        if role == "source":
            self.request = self._request(record)
        return checkpoint_detail(record)

    def latest_or_new(self) -> dict[str, Any]:
        """Bootstrap's source: the checkpoint a killed run of it chose, else production's
        latest with a snapshot, else a new one (``checkpoint``)."""
        store, now = self.service.checkpoints.store, self.service.checkpoints.now()
        usable = [
            c
            for c in store.list(self.promotion.tenant)
            if c.branch_name == self.promotion.source_branch
            and c.status in SETTLED
            and c.snapshot_id is not None
            and (c.expires_at is None or c.expires_at > now)
        ]
        # A resumed bootstrap keeps the snapshot it chose: its open restore intent names it.
        chosen = self.promotion.source_checkpoint_id
        reused = next((c for c in usable if c.id == chosen), None) if chosen else None
        if self._found("source") is None and (reused or usable):
            record = reused or usable[0]
            self.service.store.attach(self.promotion.id, source_checkpoint_id=record.id)
            self.request = self._request(record)
            return {**checkpoint_detail(record), "reused": True}
        return self.checkpoint("source", self.promotion.source_branch, "source_checkpoint_id")

    def _request(self, record: Checkpoint) -> RestoreRequest:
        assert record.snapshot_id is not None  # ensure_checkpoint returns settled records
        promotion = self.promotion
        if promotion.kind is PromotionKind.BOOTSTRAP:
            # A restore that is not finalized, "onto" production: a new root branch named dev.
            return RestoreRequest(
                promotion.tenant, record.snapshot_id, promotion.source_branch, finalize=False,
                reference={PROMOTION_ID: promotion.id}, new_branch_name=promotion.target_branch,
            )  # fmt: skip
        return RestoreRequest(
            promotion.tenant, record.snapshot_id, promotion.target_branch, finalize=True,
            reference={PROMOTION_ID: promotion.id},
        )  # fmt: skip

    # ------------------------------------------------------------------ steps

    def steps(self) -> list[DirectStep]:
        p, tenant = self.promotion, self.promotion.tenant
        chain: list[tuple[str, str, Callable[[], Mapping[str, Any] | None]]] = []
        if p.kind is PromotionKind.RUN:
            chain.append(("checkpoint", "create_snapshot",
                          lambda: self.checkpoint("rollback", p.target_branch,
                                                  "rollback_checkpoint_id")))  # fmt: skip
        if p.kind is PromotionKind.BOOTSTRAP:
            chain += [
                ("snapshot", "create_snapshot", self.latest_or_new),
                ("branch", "restore_snapshot", lambda: make_branch_once(self.ctx, self._req(),
                                                                        self.progress)),
                ("compute", "update_endpoint", lambda: size_compute(
                    self.ctx, tenant, p.target_branch, self.service.dev_compute(tenant))),
            ]  # fmt: skip
        else:
            landed = (p.from_branch_id or "", p.new_branch_id) if p.new_branch_id else None
            chain += [
                ("snapshot", "create_snapshot",
                 lambda: self.checkpoint("source", p.source_branch, "source_checkpoint_id")),
                ("restore", "restore_snapshot",
                 lambda: restore_once(self.ctx, self._req(), self.progress, landed)),
                ("ledger", "record_branch", lambda: note_restored(
                    self.ctx, self._req(), self.progress, p.id,
                    managed=p.kind is PromotionKind.RUN)),
                ("cleanup", "delete_old_branch", lambda: clean_old_branch(
                    self.ctx, self._req(), self.progress, self.options.keep_old)),
            ]  # fmt: skip
        steps: list[DirectStep] = []
        previous: tuple[str, ...] = ()
        for name, action, work in chain:
            steps.append(DirectStep(f"{self.base}/{name}", tenant, action, work, previous))
            previous = (f"{self.base}/{name}",)
        return steps

    def _req(self) -> RestoreRequest:
        assert self.request is not None  # the snapshot step ran first
        return self.request

    def report(self, result: ItemResult) -> None:
        if result.status is Status.SUCCEEDED:
            self.on_step(RestoreStep(result.id.rsplit("/", 1)[1], dict(result.detail)))

    def run(self) -> None:
        checkpoints = self.service.checkpoints
        info = RunInfo(
            who=current_actor(), started_at=datetime.now(UTC), plan_digest=PROMOTION_MODE,
            manifest_digest=self.service.desired.digest, tool_version=__version__,
            mode=PROMOTION_MODE,
        )  # fmt: skip
        try:
            run_steps(
                checkpoints.env.ledger(), self.steps(), info=info, on_result=self.report
            ).raise_first_error()
        except BaseException:
            if self.request is not None:
                close_restore(self.ctx, self.request, self.progress, failed=True)
            raise
        if self.request is not None:
            close_restore(self.ctx, self.request, self.progress)
