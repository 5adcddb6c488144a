"""Use case ``secrets rotate``: reset a role's password, then deliver its connection secrets.

Like ``keys rotate``, the rotation is a tiny plan run by the ordinary applier, so it takes the
apply lock and records intents and outcomes in the ledger's history: one
``reset_role_password`` per role, then a ``deliver_connection_secret`` for every declared
secret of the tenant that uses the role, after its reset. The reset's intent names those
secrets, so a run that dies between the reset and the deliveries leaves the ledger knowing
they must be delivered again (``apply/recovery.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.app import applying
from reconciler.app.environment import Environment
from reconciler.app.rotations import apply_rotation, recorded_tenant, rotation_plan_of
from reconciler.apply.applier import StepEvent
from reconciler.core.model import DesiredFleet
from reconciler.core.plan import Action, Plan, Step
from reconciler.core.plan_payloads import DeliverConnectionSecret, ResetRolePassword
from reconciler.core.planners.tenant_outcome import step_id
from reconciler.errors import UsageError


def rotation_plan(
    desired: DesiredFleet, env: Environment, tenant: str, roles: Sequence[str]
) -> Plan:
    """Reset ``roles`` of ``tenant`` (every role its secrets use if empty), then re-deliver."""
    spec = desired.tenants.get(tenant)
    if spec is None:
        raise UsageError(f"tenant {tenant!r} is not declared in the manifests")
    secrets = spec.connection_secrets.value if spec.connection_secrets else ()
    if not secrets:
        raise UsageError(
            f"tenant {tenant} declares no connection secrets (spec.connection_secrets): "
            "nothing to rotate"
        )
    used = sorted({s.role for s in secrets})
    unknown = sorted(set(roles) - set(used))
    if unknown:
        raise UsageError(
            f"no connection secret of tenant {tenant} uses role {', '.join(unknown)} "
            f"(roles in use: {', '.join(used)})"
        )
    record = recorded_tenant(env, tenant)
    steps: list[Step] = []
    for role in roles or used:
        names = tuple(sorted(s.name for s in secrets if s.role == role))
        reset = Step(
            id=step_id(tenant, Action.RESET_ROLE_PASSWORD, role),
            tenant=tenant,
            payload=ResetRolePassword(role, names),
            reason="rotation: a new password for the role",
        )
        steps.append(reset)
        for secret in sorted((s for s in secrets if s.role == role), key=lambda s: s.name):
            payload = DeliverConnectionSecret(
                secret.name, secret.role, secret.database, secret.branch, secret.pooled
            )
            steps.append(
                Step(
                    id=step_id(tenant, Action.DELIVER_CONNECTION_SECRET, secret.name),
                    tenant=tenant,
                    payload=payload,
                    depends_on=(reset.id,),
                    reason="rotation: deliver the new password",
                )
            )
    return rotation_plan_of(desired, spec, record, steps)


def rotate(
    env: Environment,
    desired: DesiredFleet,
    tenant: str,
    roles: Sequence[str],
    *,
    lock_timeout: float = 0.0,
    on_event: Callable[[StepEvent], None] | None = None,
) -> applying.ApplyOutcome:
    """Rotate under the apply lock; raises before any change on bad input."""
    return apply_rotation(
        env,
        lambda: rotation_plan(desired, env, tenant, roles),
        lock_timeout=lock_timeout,
        on_event=on_event,
    )
