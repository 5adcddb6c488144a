"""Use case ``keys rotate``: mint a new project-scoped key, deliver it, then revoke the old one.

The rotation is a tiny plan (create, then revoke depending on it) run by the ordinary applier,
so it takes the apply lock, records intents and outcomes in the ledger's history, and revokes the
new key again if the secret sink cannot take it — in which case the old key is left working.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.app import applying
from reconciler.app.environment import Environment
from reconciler.app.rotations import apply_rotation, recorded_tenant, rotation_plan_of
from reconciler.apply.applier import StepEvent
from reconciler.core.model import DesiredFleet
from reconciler.core.naming import api_key_name
from reconciler.core.plan import Action, Plan, Step
from reconciler.core.plan_payloads import CreateApiKey, RevokeApiKey
from reconciler.core.planners.tenant_outcome import step_id
from reconciler.errors import UsageError


def rotation_plan(
    desired: DesiredFleet, env: Environment, tenant: str, keys: Sequence[str]
) -> Plan:
    """The create-then-revoke steps for ``keys`` of ``tenant`` (all declared keys if empty)."""
    spec = desired.tenants.get(tenant)
    if spec is None:
        raise UsageError(f"tenant {tenant!r} is not declared in the manifests")
    declared = [k.name for k in spec.api_keys]
    if not declared:
        raise UsageError(f"tenant {tenant} declares no API keys (spec.api_keys): nothing to rotate")
    unknown = sorted(set(keys) - set(declared))
    if unknown:
        raise UsageError(
            f"tenant {tenant} declares no API key named {', '.join(unknown)} "
            f"(declared: {', '.join(declared) or 'none'})"
        )
    record = recorded_tenant(env, tenant)
    steps: list[Step] = []
    for name in keys or declared:
        full = api_key_name(spec.project_name, name)
        create = Step(
            id=step_id(tenant, Action.CREATE_API_KEY, name),
            tenant=tenant,
            payload=CreateApiKey(name, full, record.org_id, record.project_id),
            reason="rotation: mint and deliver the new key first",
        )
        steps.append(create)
        # Older ledgers keyed a key by its bare declared name.
        old = record.keys.get(full) or record.keys.get(name)
        if old is not None:
            steps.append(
                Step(
                    id=step_id(tenant, Action.REVOKE_API_KEY, str(old.key_id)),
                    tenant=tenant,
                    payload=RevokeApiKey(old.key_id, full, old.org_id, old.project_id),
                    depends_on=(create.id,),
                    reason="rotation: revoke the old key once the new one is delivered",
                )
            )
    return rotation_plan_of(desired, spec, record, steps)


def rotate(
    env: Environment,
    desired: DesiredFleet,
    tenant: str,
    keys: Sequence[str],
    *,
    lock_timeout: float = 0.0,
    on_event: Callable[[StepEvent], None] | None = None,
) -> applying.ApplyOutcome:
    """Rotate the keys under the apply lock; raises before any change on bad input."""
    return apply_rotation(
        env,
        lambda: rotation_plan(desired, env, tenant, keys),
        lock_timeout=lock_timeout,
        on_event=on_event,
    )
