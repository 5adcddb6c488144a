"""Does a saved plan ask only for what a fresh plan from the manifests asks for?

``fleet apply PLANFILE`` re-plans from the manifests and the re-observed live state (with the
saved plan's ``created_at``, targets and refresh mode) and compares. Every saved step must equal
the re-plan's step with the same id in ``action``, ``tenant``, ``before``, ``after`` and
``depends_on`` (compared as canonical JSON, so a tuple and a list of the same values agree);
the re-plan may hold more steps (live state that moved for tenants the plan does not touch).
Fingerprints of the tenants the saved plan touches must equal the re-plan's: a move there is
staleness (exit 3), everything else a plan the manifests cannot vouch for (exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.core.plan import Plan, Step
from reconciler.core.plan_codec import canonical_json

#: The fields of a step that say what it does (``reason`` and ``changes`` only explain it).
COMPARED_FIELDS = ("action", "tenant", "before", "after", "depends_on")


@dataclass(frozen=True)
class Mismatch:
    """A saved step the re-plan does not vouch for, and why."""

    step_id: str
    why: str


def touched_tenants(plan: Plan) -> set[str]:
    """Tenants with a step of their own or moved by a batched transfer."""
    return {tenant for step in plan.steps for tenant in step.tenants}


def stale_tenants(saved: Plan, replan: Plan) -> list[str]:
    """Touched tenants whose live fingerprint moved between the two plans.

    A tenant the re-plan does not know at all is not stale but unvouched (``unvouched_steps``).
    """
    return sorted(
        tenant
        for tenant in touched_tenants(saved)
        if tenant in saved.fingerprints
        and tenant in replan.fingerprints
        and saved.fingerprints[tenant] != replan.fingerprints[tenant]
    )


def unvouched_steps(saved: Plan, replan: Plan) -> list[Mismatch]:
    """Saved steps (in plan order) that the re-plan does not contain exactly."""
    fresh = {step.id: step for step in replan.steps}
    blocked = {b.tenant: b.message for b in replan.blockers}
    mismatches: list[Mismatch] = []
    for tenant in sorted(touched_tenants(saved) - saved.fingerprints.keys()):
        mismatches.append(Mismatch(f"(tenant {tenant})", "the plan has no fingerprint for it"))
    for step in saved.steps:
        twin = fresh.get(step.id)
        if twin is None:
            mismatches.append(Mismatch(step.id, _why_missing(step, blocked)))
            continue
        if _signature(step) == _signature(twin):
            continue  # one encode per step on the common path; per field only to explain
        differing = [f for f in COMPARED_FIELDS if _field(step, f) != _field(twin, f)]
        if differing:
            mismatches.append(
                Mismatch(step.id, f"{', '.join(differing)} differ from what the manifests plan")
            )
    return mismatches


def _why_missing(step: Step, blocked: dict[str, str]) -> str:
    """Why the re-plan has no such step: a tenant it moves is blocked now, or it is not planned."""
    for tenant in step.tenants:
        if tenant in blocked:
            return f"{tenant} is blocked now: {blocked[tenant]}"
    return "the manifests do not plan this step"


def _signature(step: Step) -> str:
    """The compared fields as one canonical JSON array: equal exactly when every field is.

    Each field is a complete JSON value in the array, so the texts match only if the texts of
    all fields (``_field``) match.
    """
    return canonical_json([_value(step, name) for name in COMPARED_FIELDS])


def _field(step: Step, name: str) -> str:
    return canonical_json(_value(step, name))


def _value(step: Step, name: str) -> Any:
    value = getattr(step, name)
    if name == "action":
        value = value.value
    elif name in ("before", "after") and value is not None:
        value = dict(value)
    elif name == "depends_on":
        value = list(value)
    return value
