"""Batched project transfers between orgs, with per-tenant outcomes.

One ``transfer_projects`` plan step moves up to 400 projects in one call (the personal key is
used here and nowhere else). Neon answers 422 when some projects have GitHub/Vercel
integrations, naming them: those are split out and the rest of the batch is sent again, so one
bad project does not hold back the others. 406 (plan limits) fails the batch with each limit's
name, expected and actual value.

So that one tenant's failed move skips only that tenant's later steps, the applier gives every
tenant of a batch a *gate* item (``<step id>#<tenant>``) that depends on the batch and fails when
its tenant did not move; the tenant's own steps depend on its gate instead of on the batch.

Each project's move is a write-ahead intent (``transfer_project``) recorded before the call and
closed once the ledger holds the outcome: a run that dies between Neon moving a project and the
ledger saying so leaves the intent open, and recovery reads the project's org back, so the
ledger never keeps a moved project under its old org (where its key rotations and revokes would
fail with 404 for ever).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.apply.context import ApplyContext, Handler, payload_of
from reconciler.apply.executor import ItemFailed
from reconciler.core.plan import Action, Step
from reconciler.core.plan_payloads import TransferProjects
from reconciler.errors import NotAcceptable, OutcomeUnknown, UnprocessableEntity
from reconciler.ledger import IntentOutcome

GATE_SEPARATOR = "#"
#: The intent recorded before each project of a batch is moved (settled by apply.recovery).
TRANSFER_INTENT = "transfer_project"


def gate_id(step_id: str, tenant: str) -> str:
    return f"{step_id}{GATE_SEPARATOR}{tenant}"


def transfer_projects(ctx: ApplyContext, step: Step) -> dict[str, Any]:
    """Move the batch; record (tenant → why) the projects that could not move for the gates."""
    payload = payload_of(step, TransferProjects)
    failures = ctx.transfer_failures.setdefault(step.id, {})
    source, destination = payload.source_org_id, payload.destination_org_id
    pending = payload.projects()
    key = ctx.credentials.transfer_key()
    intents = {
        project_id: ctx.ledger.record_intent(
            tenant,
            TRANSFER_INTENT,
            {"project_id": project_id, "source_org_id": source, "destination_org_id": destination},
        )
        for project_id, tenant in sorted(pending.items())
    }
    try:
        _move(ctx, key, (source, destination), pending, failures)
    except ItemFailed:
        for intent in intents.values():
            ctx.ledger.resolve_intent(intent, IntentOutcome.FAILED)
        raise
    for project_id, tenant in pending.items():
        binding = ctx.binding(tenant)
        binding.org_id = destination
        ctx.record(tenant, lambda t: replace(t, org_id=destination))
        ctx.ledger.resolve_intent(intents[project_id], IntentOutcome.DONE)
    for project_id in sorted(set(intents) - set(pending)):
        ctx.ledger.resolve_intent(intents[project_id], IntentOutcome.ABANDONED)
    if not pending:
        raise ItemFailed("no project of the batch could be transferred: " + _summary(failures))
    return {"moved": sorted(pending), "failed": sorted(failures)}


def _move(
    ctx: ApplyContext,
    key: str,
    orgs: tuple[str, str],
    pending: dict[str, str],
    failures: dict[str, str],
) -> None:
    """Send the transfer; afterwards ``pending`` holds what moved, ``failures`` why the rest
    did not. An unexpected error leaves the intents open for recovery to read back."""
    source, destination = orgs
    while pending:
        try:
            ctx.client.transfer_projects(key, source, destination, sorted(pending))
            break
        except OutcomeUnknown:
            # The answer was lost; the move may have happened. Read the destination org back
            # (never re-send): what is there moved, the rest did not.
            arrived = _projects_in(ctx, destination, pending)
            for project_id in sorted(set(pending) - arrived):
                failures[pending.pop(project_id)] = (
                    f"the transfer got no answer and the project is still in {source}; apply again"
                )
            break
        except UnprocessableEntity as exc:
            offending = {
                str(p.get("id")): str(p.get("integration", "an"))
                for p in exc.projects
                if str(p.get("id")) in pending
            }
            if not offending:
                raise
            for project_id, integration in sorted(offending.items()):
                failures[pending.pop(project_id)] = (
                    f"project {project_id} has the {integration} integration, which Neon "
                    "cannot transfer (422); disconnect it and apply again"
                )
        except NotAcceptable as exc:
            limits = "; ".join(
                f"{lim.get('name')}: expected {lim.get('expected')}, actual {lim.get('actual')}"
                for lim in exc.limits
            )
            raise ItemFailed(
                f"Neon refused the transfer from {source} to {destination} (406): "
                + (limits or exc.detail)
            ) from exc


def _projects_in(ctx: ApplyContext, org_id: str, wanted: dict[str, str]) -> set[str]:
    listing = ctx.client.list_projects(ctx.credentials.org_key(org_id), org_id=org_id)
    return {p.id for p in listing.projects if p.id in wanted}


def transfer_gate(failures: dict[str, str], tenant: str) -> None:
    """Fail this tenant's gate when its project did not move."""
    if tenant in failures:
        raise ItemFailed(failures[tenant])


def _summary(failures: dict[str, str]) -> str:
    return "; ".join(f"{tenant}: {why}" for tenant, why in sorted(failures.items()))


#: This module's part of the apply layer's action registry (merged in ``apply.handlers``).
HANDLERS: dict[Action, Handler] = {
    Action.TRANSFER_PROJECTS: transfer_projects,
}
