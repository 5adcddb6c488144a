"""What ``keys rotate`` and ``secrets rotate`` share: a one-tenant plan run by the applier.

A rotation is a tiny plan built from the manifests and the ledger (no live read up front: the
ledger holds the project id it needs), applied under the apply lock like any other plan, so its
intents and outcomes land in the ledger's history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler import __version__
from reconciler.app import applying
from reconciler.app.environment import Environment
from reconciler.apply.applier import StepEvent
from reconciler.core.model import DesiredFleet, DesiredTenant, LiveFleet, OwnedTenant
from reconciler.core.plan import ApplyContract, Plan, PlannedBinding, Step
from reconciler.errors import UsageError


def recorded_tenant(env: Environment, tenant: str) -> OwnedTenant:
    """The tenant's ledger record; a rotation needs its project to exist."""
    record = env.ledger().tenant(tenant)
    if record is None or not record.project_id:
        raise UsageError(f"tenant {tenant} has no project recorded yet: run fleet apply first")
    return record


def rotation_plan_of(
    desired: DesiredFleet, spec: DesiredTenant, record: OwnedTenant, steps: Sequence[Step]
) -> Plan:
    """The plan of ``steps`` on one recorded tenant (``mode`` ``rotate`` in its contract)."""
    binding = PlannedBinding(
        project_name=spec.project_name,
        org_id=record.org_id,
        project_id=record.project_id,
        prevent_destroy=spec.lifecycle.prevent_destroy,
    )
    return Plan(
        tool_version=__version__,
        manifest_digest=desired.digest,
        fingerprints={},
        steps=tuple(steps),
        contract=ApplyContract(observed={}, tenants={spec.name: binding}, mode="rotate"),
    )


def apply_rotation(
    env: Environment,
    make_plan: Callable[[], Plan],
    *,
    lock_timeout: float,
    on_event: Callable[[StepEvent], None] | None,
) -> applying.ApplyOutcome:
    """Build the plan under the apply lock (it reads the ledger) and apply it, one at a time."""
    with applying.apply_session(env, lock_timeout=lock_timeout):
        plan = make_plan()
        nothing = LiveFleet(projects={})
        return applying.apply_plan(
            env, plan, parallelism=1, on_event=on_event, planned_from=nothing
        )
