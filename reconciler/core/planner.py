"""``build_plan``: the pure planner of neon-fleet.

``build_plan(desired, live, ledger, options) -> Plan`` reads only its arguments: no clock
(``options.now``), no network, no database. The per-tenant rules live in ``planners.project``,
``planners.branch``, ``planners.key`` and ``planners.delete`` (each documents its part); this module
restricts to ``options.targets``, batches transfers, and orders the steps.

Transfers are grouped per (source org, destination org) into ``transfer_projects`` steps of at
most 400 projects (Neon's limit per request), in tenant order, with ids
``transfer/<source>-><destination>/<n>`` and ``tenant`` None. Each moved tenant's update and key
steps depend on its batch.

Order: topological by ``depends_on``; among steps ready together, by (tenant, action order, id)
with batch steps (no tenant) first. The same inputs always give the same plan, byte for byte.

Blockers hold back every step of their tenant; other tenants are planned normally. Warnings are
in tenant order, fleet-level ones last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from reconciler.core.context import make_context
from reconciler.core.graph import topological_order
from reconciler.core.model import DesiredFleet, LedgerView, LiveFleet
from reconciler.core.options import PlanOptions
from reconciler.core.plan import ApplyContract, Blocker, FieldChange, Plan, Step
from reconciler.core.plan_payloads import ACTION_ORDER, TransferProjects
from reconciler.core.planners.delete import plan_removed_tenants
from reconciler.core.planners.project import plan_declared_tenant
from reconciler.core.planners.tenant_outcome import (
    TRANSFER_PLACEHOLDER,
    TenantOutcome,
    TransferRequest,
    transfer_step_id,
)
from reconciler.errors import PlanError

#: Neon accepts at most this many project ids per transfer request.
TRANSFER_BATCH_MAX = 400


def build_plan(
    desired: DesiredFleet, live: LiveFleet, ledger: LedgerView, options: PlanOptions
) -> Plan:
    """Diff ``desired`` against ``live`` (and what ``ledger`` owns) into an ordered ``Plan``."""
    ctx = make_context(desired, live, ledger, options)
    targets = frozenset(options.targets)
    warnings: list[str] = []
    unknown = sorted(targets - desired.tenants.keys() - ledger.tenants.keys())
    if unknown:
        warnings.append(f"unknown target tenant(s), not planned: {', '.join(unknown)}")
    outcomes = [
        plan_declared_tenant(ctx, desired.tenants[name])
        for name in sorted(desired.tenants)
        if not targets or name in targets
    ]
    removed = sorted(
        name
        for name in ledger.tenants
        if name not in desired.tenants and (not targets or name in targets)
    )
    removed_outcomes, fleet_warnings = plan_removed_tenants(ctx, removed)
    outcomes.extend(removed_outcomes)
    transfer_steps, batch_of = _batch_transfers(o.transfer for o in outcomes if o.transfer)
    steps: list[Step] = list(transfer_steps)
    for outcome in outcomes:
        steps.extend(_resolve_transfer(step, batch_of) for step in outcome.steps)
    warnings = [w for o in outcomes for w in o.warnings] + warnings + fleet_warnings
    return Plan(
        tool_version=options.tool_version,
        manifest_digest=desired.digest,
        fingerprints={o.tenant: o.fingerprint for o in sorted(outcomes, key=lambda o: o.tenant)},
        steps=_ordered(steps),
        warnings=tuple(warnings),
        blockers=tuple(Blocker(o.tenant, m) for o in _by_tenant(outcomes) for m in o.blockers),
        created_at=options.now,
        targets=tuple(sorted(targets)),
        contract=ApplyContract(refresh=options.refresh),
    )


def _by_tenant(outcomes: list[TenantOutcome]) -> list[TenantOutcome]:
    return sorted(outcomes, key=lambda o: o.tenant)


def _batch_transfers(
    requests: Iterable[TransferRequest],
) -> tuple[list[Step], dict[str, str]]:
    """Transfer steps per (source, destination), chunked; and tenant → its batch's step id."""
    groups: dict[tuple[str, str], list[TransferRequest]] = {}
    for request in requests:
        key = (request.source_org_id, request.destination_org_id)
        groups.setdefault(key, []).append(request)
    steps: list[Step] = []
    batch_of: dict[str, str] = {}
    for (source, destination), members in sorted(groups.items()):
        members.sort(key=lambda r: r.tenant)
        for start in range(0, len(members), TRANSFER_BATCH_MAX):
            chunk = members[start : start + TRANSFER_BATCH_MAX]
            sid = transfer_step_id(source, destination, start // TRANSFER_BATCH_MAX + 1)
            tenants = [r.tenant for r in chunk]
            batch_of.update((t, sid) for t in tenants)
            steps.append(
                Step(
                    id=sid,
                    tenant=None,
                    payload=TransferProjects(
                        source_org_id=source,
                        destination_org_id=destination,
                        project_ids=tuple(r.project_id for r in chunk),
                        tenants=tuple(tenants),
                    ),
                    depends_on=tuple(sorted({d for r in chunk for d in r.depends_on})),
                    reason=(
                        f"tier change: move {len(chunk)} project(s) from {source} to "
                        f"{destination} (needs the personal API key)"
                    ),
                    changes=tuple(
                        FieldChange(f"{r.tenant}.org_id", source, destination, r.origin)
                        for r in chunk
                    ),
                )
            )
    return steps, batch_of


def _resolve_transfer(step: Step, batch_of: Mapping[str, str]) -> Step:
    if TRANSFER_PLACEHOLDER not in step.depends_on:
        return step
    if step.tenant is None or step.tenant not in batch_of:
        raise PlanError(f"step {step.id} waits for a transfer that was not planned")
    batch = batch_of[step.tenant]
    deps = tuple(batch if d == TRANSFER_PLACEHOLDER else d for d in step.depends_on)
    return replace(step, depends_on=deps)


def _ordered(steps: list[Step]) -> tuple[Step, ...]:
    by_id: dict[str, Step] = {}
    for step in steps:
        if step.id in by_id:
            raise PlanError(f"two steps share the id {step.id!r}")
        by_id[step.id] = step
    # Sort keys made once per step, not once per comparison the ordering makes.
    keys = {sid: (step.tenant or "", ACTION_ORDER[step.action], sid) for sid, step in by_id.items()}
    order = topological_order(
        {sid: step.depends_on for sid, step in by_id.items()}, key=keys.__getitem__
    )
    return tuple(by_id[sid] for sid in order)
