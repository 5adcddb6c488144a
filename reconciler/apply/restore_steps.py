"""Step handlers for restoring a snapshot onto a tenant's branch, in the documented order.

``restore_onto_branch`` (the snapshot onto the branch, finalized unless previewing, operations
polled) → ``record_restored_branch`` (the ledger's branch id) → ``clean_old_branch`` (the
``<name> (old)`` branch deleted unless kept) → ``close_restore``. Steps of one restore share a
``RestoreProgress`` and run in the tenant's lane, one after the other.

Crash safety: a ``restore_snapshot`` intent naming the branch id being replaced is recorded
before Neon is asked. A run killed after Neon restored but before the ledger knew leaves it
open; the same restore run again finds it, sees the branch's name now on another id, and goes
on with the ledger and the cleanup instead of restoring a second time. A preview restore's
intent lists the project's branches first, so the preview branch it made is found again.

The handlers know nothing of checkpoint records (``reference`` says whose restore it is), so a
promotion (restore dev's snapshot onto production) composes them as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler import errors
from reconciler.apply.context import ApplyContext
from reconciler.ledger import Intent, IntentOutcome
from reconciler.neon import Branch

#: The intent recorded before a snapshot is restored (closed by ``close_restore``).
RESTORE_INTENT = "restore_snapshot"


@dataclass(frozen=True)
class RestoreRequest:
    """Restore ``snapshot_id`` onto the tenant's branch ``branch_name``."""

    tenant: str
    snapshot_id: str
    branch_name: str
    finalize: bool
    #: Identifies this restore among open intents, e.g. ``{"checkpoint_id": 7}``.
    reference: Mapping[str, Any] = field(default_factory=dict)
    #: The name of the branch a restore that is not finalized makes (default: Neon's choice),
    #: e.g. the dev branch ``fleet promote bootstrap`` makes from production's snapshot.
    new_branch_name: str | None = None


@dataclass
class RestoreProgress:
    """What the steps of one restore learn, in order (mutable: one lane, one writer)."""

    intent: int | None = None
    #: True once Neon may have restored (the request was sent): the intent then stays open
    #: on failure, for the next run to find out what happened.
    sent: bool = False
    branches: list[Branch] = field(default_factory=list)
    #: The id the branch had before the restore, and that branch (None: already deleted).
    replaced_id: str = ""
    replaced: Branch | None = None
    restored: Branch | None = None


def restore_onto_branch(
    ctx: ApplyContext, request: RestoreRequest, progress: RestoreProgress
) -> dict[str, Any]:
    """Restore the snapshot onto the branch (or find that a killed run already did)."""
    target = ctx.target(request.tenant)
    key, project_id = target.key, target.project_id
    branches = ctx.client.list_branches(key, project_id)
    current = next((b for b in branches if b.name == request.branch_name), None)
    if current is None:
        raise errors.UsageError(
            f"tenant {request.tenant}: branch {request.branch_name} no longer exists"
        )
    pending = _open_intent(ctx, request)
    landed = _landed(pending, branches, current) if pending is not None else None
    if pending is not None and landed is not None:
        progress.intent = pending.intent_id
    else:
        if pending is not None:  # Neon never restored: this run starts afresh
            ctx.ledger.resolve_intent(pending.intent_id, IntentOutcome.ABANDONED)
        progress.intent = ctx.ledger.record_intent(
            request.tenant, RESTORE_INTENT, _intent_detail(request, project_id, current, branches)
        )
    operations = 0
    if landed is not None:
        replaced_id, restored = landed
    else:
        progress.sent = True
        try:
            made = ctx.client.restore_snapshot(
                key, project_id, request.snapshot_id,
                target_branch_id=current.id, finalize=request.finalize,
                name=None if request.finalize else request.new_branch_name,
            )  # fmt: skip
        except errors.ApiClientError:
            progress.sent = False  # Neon refused it (e.g. a limit): nothing was restored
            raise
        ctx.client.wait_for_operations(
            key, project_id, made.operations, timeout=ctx.operation_timeout
        )
        replaced_id, restored, operations = current.id, made.branch, len(made.operations)
    progress.branches, progress.replaced_id, progress.restored = branches, replaced_id, restored
    progress.replaced = next((b for b in branches if b.id == replaced_id), None)
    return {
        "branch": request.branch_name,
        "from_branch_id": replaced_id,
        "new_branch_id": restored.id,
        "finalized": request.finalize,
        "operations": operations,
    }


def _intent_detail(
    request: RestoreRequest, project_id: str, current: Branch, branches: Sequence[Branch]
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        **request.reference,
        "project_id": project_id,
        "snapshot_id": request.snapshot_id,
        "branch_name": request.branch_name,
        "from_branch_id": current.id,
        "finalize": request.finalize,
    }
    if not request.finalize:
        detail["branch_ids_before"] = sorted(b.id for b in branches)
    return detail


def _open_intent(ctx: ApplyContext, request: RestoreRequest) -> Intent | None:
    """The open intent a killed run left for this very restore, if any."""
    for intent in ctx.ledger.pending_intents():
        if (
            intent.action == RESTORE_INTENT
            and intent.tenant == request.tenant
            and intent.detail.get("snapshot_id") == request.snapshot_id
            and intent.detail.get("branch_name") == request.branch_name
            and bool(intent.detail.get("finalize")) == request.finalize
            and all(intent.detail.get(k) == v for k, v in request.reference.items())
        ):
            return intent
    return None


def _landed(
    intent: Intent, branches: Sequence[Branch], current: Branch
) -> tuple[str, Branch] | None:
    """(replaced branch id, restored branch) when the killed run's restore happened on Neon."""
    from_id = str(intent.detail.get("from_branch_id"))
    known = intent.detail.get("restored_branch_id")
    if known is not None:
        # A failed run saw the restore land: done while the restored branch is still there
        # (under the branch's name, for a finalized restore).
        found = [b for b in branches if b.id == known]
        if not found or (intent.detail.get("finalize") and current.id != known):
            return None
        return from_id, found[0]
    if intent.detail.get("finalize"):
        if current.id == from_id:
            return None  # the name is still on the old branch: Neon did not restore
        return from_id, current
    before = set(intent.detail.get("branch_ids_before") or ())
    made = [b for b in branches if b.id not in before and b.parent_id is None and not b.default]
    return (current.id, made[0]) if len(made) == 1 else None


def record_restored_branch(
    ctx: ApplyContext, request: RestoreRequest, progress: RestoreProgress
) -> dict[str, Any]:
    """Keep the ledger's branch id current (a finalized restore gives the branch a new id)."""
    assert progress.restored is not None  # restore_onto_branch ran first
    new_id = progress.restored.id
    owned = ctx.ledger.tenant(request.tenant)
    binding = ctx.binding(request.tenant)
    if owned is not None and owned.project_id == binding.project_id:
        # Only a tenant the ledger owns has branch ids to keep current.
        binding.branch_ids[request.branch_name] = new_id
        ctx.record(
            request.tenant,
            lambda t: replace(t, branch_ids={**t.branch_ids, request.branch_name: new_id}),
        )
    return {"branch": request.branch_name, "branch_id": new_id}


def clean_old_branch(
    ctx: ApplyContext, request: RestoreRequest, progress: RestoreProgress, keep_old: bool
) -> dict[str, Any]:
    """Delete the replaced ``<name> (old)`` branch unless kept (or Neon must keep it)."""
    deleted, reason = _delete_old(ctx, request.tenant, progress, keep_old)
    return {"old_branch_id": progress.replaced_id, "deleted": deleted, "kept_because": reason}


def _delete_old(
    ctx: ApplyContext, tenant: str, progress: RestoreProgress, keep_old: bool
) -> tuple[bool, str]:
    old = progress.replaced
    if keep_old:
        return False, "--keep-old"
    if old is None:
        return True, ""  # a killed run deleted it already
    children = sorted(b.name for b in progress.branches if b.parent_id == old.id)
    if children:
        # Neon keeps children on the replaced branch; deleting it would fail.
        return False, f"it has child branches: {', '.join(children)}"
    target = ctx.target(tenant)
    gone = ctx.client.delete_branch(target.key, target.project_id, old.id)
    if gone is not None:
        ctx.client.wait_for_operations(
            target.key, target.project_id, gone[1], timeout=ctx.operation_timeout
        )
    return True, ""


def close_restore(
    ctx: ApplyContext, request: RestoreRequest, progress: RestoreProgress, *, failed: bool = False
) -> None:
    """Close the restore's intent: done, or failed.

    A failed restore whose request Neon may have carried out keeps an open intent, so that the
    next run of the same restore finishes it instead of restoring a second time: the intent
    as it was when the answer never came (lost, operations unfinished, a kill), or, when Neon's
    answer named the new branch and a later step failed, a new intent naming that branch, so
    the next run resumes only while the branch still has that id.
    """
    if progress.intent is None:
        return
    restored = progress.restored
    if failed and progress.sent and restored is None:
        return
    outcome = IntentOutcome.FAILED if failed else IntentOutcome.DONE
    ctx.ledger.resolve_intent(progress.intent, outcome)
    progress.intent = None
    if failed and restored is not None:
        target = ctx.target(request.tenant)
        detail = {
            **request.reference,
            "project_id": target.project_id,
            "snapshot_id": request.snapshot_id,
            "branch_name": request.branch_name,
            "from_branch_id": progress.replaced_id,
            "restored_branch_id": restored.id,
            "finalize": request.finalize,
        }
        progress.intent = ctx.ledger.record_intent(request.tenant, RESTORE_INTENT, detail)
