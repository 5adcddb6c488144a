"""Carry out a plan: check it is fresh, run its steps in dependency order, record everything.

The only module with remote side effects. Order of events in one apply:

1. the caller holds the ledger's apply lock and has re-observed the planned tenants;
2. ``check_fresh`` compares each planned tenant's live fingerprint with the plan's, and refuses
   the whole plan (``StalePlanError``, exit 3) naming the tenants that moved;
3. the steps run on the executor: one lane per tenant (Neon locks a project while operations
   run), batched transfers split into per-tenant gates, ``parallelism`` at a time per account;
4. each outcome is written to the ledger as it happens, so a crash loses nothing that was done.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from reconciler.apply import transfer_steps
from reconciler.apply.context import ApplyContext
from reconciler.apply.executor import ExecutionReport, ItemResult, Status, WorkItem, execute
from reconciler.apply.handlers import HANDLERS
from reconciler.core.fingerprint import fingerprint, index_keys, project_keys
from reconciler.core.model import LiveFleet, LiveProject, OwnedTenant
from reconciler.core.plan import Action, Plan, Step
from reconciler.credentials import PERSONAL_ACCOUNT, org_account
from reconciler.errors import StalePlanError
from reconciler.ledger import Ledger, RunInfo, StepOutcomeRecord, StepStatus


@dataclass(frozen=True)
class StepEvent:
    """One step's outcome, for progress output (no secrets in here)."""

    step_id: str
    tenant: str | None
    action: str
    status: str
    message: str
    detail: Mapping[str, Any]


#: Live projects of the managed orgs by name; see :func:`projects_by_name`.
NameIndex = dict[str, list[LiveProject]]


def projects_by_name(live: LiveFleet, managed_orgs: frozenset[str]) -> NameIndex:
    """The live projects of ``managed_orgs`` grouped by name, in live order (one pass)."""
    index: NameIndex = {}
    for project in live.projects.values():
        if project.org_id in managed_orgs:
            index.setdefault(project.name, []).append(project)
    return index


def live_project_for(
    live: LiveFleet,
    binding_project_id: str | None,
    name: str,
    by_name: NameIndex,
) -> LiveProject | None:
    """The live project a planned tenant refers to: by recorded id, else by unique name.

    ``by_name`` is :func:`projects_by_name` of the managed orgs, built once per check so a
    lookup never scans every live project.
    """
    if binding_project_id:
        return live.projects.get(binding_project_id)
    named = by_name.get(name, ())
    return named[0] if len(named) == 1 else None


def check_fresh(
    plan: Plan, ctx: ApplyContext, live: LiveFleet, managed_orgs: frozenset[str]
) -> None:
    """Refuse the plan when any planned tenant's live state moved since planning.

    A planned tenant without a fingerprint in the plan cannot be shown fresh, so it counts as
    stale too (the planner writes one for every tenant it plans). Projects by name and keys by
    project are indexed once, so the check is linear in tenants, projects and keys.
    """
    stale = []
    # Tenants moved by a batched transfer have no step of their own but must be fresh too.
    tenants = {tenant for step in plan.steps for tenant in step.tenants}
    by_name = projects_by_name(live, managed_orgs)
    keys = index_keys(live)
    for tenant in sorted(tenants):
        planned = plan.fingerprints.get(tenant)
        if planned is None:
            stale.append(tenant)
            continue
        binding = ctx.binding(tenant)
        project = live_project_for(live, binding.project_id, binding.project_name, by_name)
        if fingerprint(project, project_keys(live, project, keys)) != planned:
            stale.append(tenant)
    if stale:
        raise StalePlanError(stale)


def work_items(plan: Plan) -> list[WorkItem]:
    """Executor items: plan steps, plus one gate per tenant of every transfer batch.

    Each item names the account whose budget its calls spend, so the executor runs
    ``parallelism`` items per account: the org of the step's tenant (as planned), the personal
    key's user for transfers.
    """
    orgs = {name: binding.org_id for name, binding in (plan.contract.tenants or {}).items()}
    gate_of: dict[tuple[str, str], str] = {}
    items: list[WorkItem] = []
    for step in plan.steps:
        if step.action is Action.TRANSFER_PROJECTS:
            tenants = step.tenants
            items.append(WorkItem(step.id, step.depends_on, frozenset(tenants), PERSONAL_ACCOUNT))
            for tenant in tenants:
                gate = transfer_steps.gate_id(step.id, tenant)
                gate_of[(step.id, tenant)] = gate
                items.append(WorkItem(gate, (step.id,)))
            continue
        deps = tuple(gate_of.get((d, str(step.tenant)), d) for d in step.depends_on)
        lanes = frozenset({step.tenant}) if step.tenant else frozenset()
        org = orgs.get(step.tenant or "")
        items.append(WorkItem(step.id, deps, lanes, org_account(org) if org else ""))
    return items


class Applier:
    """Runs one plan against Neon; thread-safe state lives in ``ApplyContext``."""

    def __init__(self, ctx: ApplyContext, plan: Plan) -> None:
        self.ctx, self.plan = ctx, plan
        self.steps = {step.id: step for step in plan.steps}

    def run(
        self,
        *,
        parallelism: int,
        run_info: RunInfo,
        on_event: Callable[[StepEvent], None] | None = None,
    ) -> ExecutionReport:
        ledger = self.ctx.ledger
        run_id = ledger.begin_run(run_info)

        report = execute(
            work_items(self.plan),
            self._work,
            parallelism=parallelism,
            on_result=functools.partial(self._announce, on_event),
            # In the step's worker thread: concurrent outcomes share the ledger's commits.
            on_finish=functools.partial(self._record, run_id),
        )
        self._record_digests(report)
        record_converged(self.ctx.ledger, self.plan)
        summary = {status: report.count(status) for status in Status}
        ledger.finish_run(
            run_id, "succeeded" if report.ok else "failed", {s.value: n for s, n in summary.items()}
        )
        return report

    def _record(self, run_id: int, result: ItemResult) -> None:
        step = self.steps.get(result.id)
        tenant, action = self._describe(result.id, step)
        self.ctx.ledger.record_step(
            run_id,
            StepOutcomeRecord(
                step_id=result.id,
                tenant=tenant,
                action=action,
                status=StepStatus(result.status.value),
                started_at=_utc(result.started_at or result.finished_at),
                finished_at=_utc(result.finished_at or result.started_at),
                message=result.message,
                resource_ids={k: v for k, v in result.detail.items() if k != "moved"},
            ),
        )

    def _announce(self, on_event: Callable[[StepEvent], None] | None, result: ItemResult) -> None:
        if on_event is None:
            return
        tenant, action = self._describe(result.id, self.steps.get(result.id))
        detail = result.detail
        on_event(StepEvent(result.id, tenant, action, result.status.value, result.message, detail))

    def _describe(self, item_id: str, step: Step | None) -> tuple[str | None, str]:
        if step is not None:
            return step.tenant, step.action.value
        _, _, tenant = item_id.partition(transfer_steps.GATE_SEPARATOR)
        return tenant, f"{Action.TRANSFER_PROJECTS.value}:gate"

    def _work(self, item_id: str) -> Mapping[str, Any] | None:
        step = self.steps.get(item_id)
        if step is None:
            batch, _, tenant = item_id.partition(transfer_steps.GATE_SEPARATOR)
            transfer_steps.transfer_gate(self.ctx.transfer_failures.get(batch, {}), tenant)
            return {"tenant": tenant}
        return HANDLERS[step.action](self.ctx, step)

    def _record_digests(self, report: ExecutionReport) -> None:
        """Tenants whose every step succeeded now match their manifests: remember the digest.

        One ledger transaction for all of them: a cold apply ends with thousands.
        """
        failed: set[str] = set()
        touched: set[str] = set()
        for result in report.results:
            step = self.steps.get(result.id)
            tenant = (
                step.tenant
                if step is not None
                else result.id.partition(transfer_steps.GATE_SEPARATOR)[2]
            )
            if not tenant:
                continue
            touched.add(tenant)
            if result.status is not Status.SUCCEEDED:
                failed.add(tenant)
        changes: dict[str, Callable[[OwnedTenant], OwnedTenant]] = {}
        for tenant in touched - failed:
            binding = self.ctx.bindings.get(tenant)
            if binding is not None and binding.digest:
                changes[tenant] = functools.partial(replace, manifest_digest=binding.digest)
        if changes:  # tenants without a record (none was made) are skipped by the ledger
            self.ctx.ledger.update_tenants(changes)


def record_converged(ledger: Ledger, plan: Plan) -> int:
    """Write what the plan found out without needing a step.

    ``contract.converged``: manifest digests of tenants that match live state (so incremental
    plans stop re-reading them); ``contract.prevent_destroy``: the manifests' current
    ``lifecycle.prevent_destroy``, which only the ledger remembers once a tenant is removed.
    """
    digests = dict(plan.contract.converged or {})
    protects = dict(plan.contract.prevent_destroy or {})

    def change(tenant: str) -> Callable[[OwnedTenant], OwnedTenant]:
        def apply(owned: OwnedTenant) -> OwnedTenant:
            if tenant in digests:
                owned = replace(owned, manifest_digest=str(digests[tenant]))
            if tenant in protects:
                owned = replace(owned, prevent_destroy=bool(protects[tenant]))
            return owned

        return apply

    tenants = digests.keys() | protects.keys()
    # One transaction for all of them (the ledger writes only records that change).
    return ledger.update_tenants({tenant: change(tenant) for tenant in tenants}) if tenants else 0


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)
