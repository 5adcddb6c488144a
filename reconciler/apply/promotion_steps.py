"""Step handlers of ``fleet promote``, composed from the snapshot and restore handlers.

A promotion takes checkpoints (``snapshot_steps.take_snapshot``) and restores one onto a branch
(``restore_steps``); what this module adds is resuming a promotion a killed run left behind:

* ``ensure_checkpoint``: a checkpoint record the killed run began is settled by reading its
  snapshot back by name (``settle_record``), never taken a second time; only a record whose
  snapshot certainly does not exist is replaced by a new one.
* ``restore_once``: a restore whose intent is still open is resumed by ``restore_onto_branch``;
  one the promotion already recorded as landed (the branch carries the id it noted) is not
  sent again.
* ``note_restored``: the promotion record (and, for production, the ledger's branch id) learn
  the branch's new id before the ``(old)`` branch is cleaned.
* ``size_compute``: the compute of a branch bootstrap made gets the tenant's settings.

Limit refusals (snapshots, root branches) name the tenant and the limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler import errors
from reconciler.apply.context import ApplyContext
from reconciler.apply.restore_steps import (
    RESTORE_INTENT,
    RestoreProgress,
    RestoreRequest,
    record_restored_branch,
    restore_onto_branch,
)
from reconciler.apply.snapshot_steps import settle_record, take_snapshot
from reconciler.ledger import Intent
from reconciler.ledger.checkpoints import SETTLED, Checkpoint, CheckpointStatus

#: Neon's code for a project at its root-branch cap (UNCONFIRMED; the emulator uses it).
ROOT_BRANCH_LIMIT_CODES = frozenset({"ROOT_BRANCHES_LIMIT_EXCEEDED"})


def ensure_checkpoint(
    ctx: ApplyContext, found: Checkpoint | None, begin: Callable[[], Checkpoint]
) -> Checkpoint:
    """The promotion's checkpoint: ``found`` once settled, else a new one ``begin`` records."""
    if found is not None and found.status is CheckpointStatus.CREATING:
        target = ctx.target(found.tenant)
        settled = settle_record(ctx, found, [(target.binding.org_id, target.key)])["settled"]
        if settled == "discarded":
            found = None  # the killed run never got its snapshot: take it now
        elif settled != "ready":
            raise errors.UsageError(f"tenant {found.tenant}: checkpoint #{found.id} {settled}")
    if found is not None:
        record = ctx.ledger.checkpoints.get(found.id)
        if record.status in SETTLED and record.snapshot_id is not None:
            return record
        raise errors.UsageError(
            f"tenant {record.tenant}: checkpoint #{record.id} of this promotion is "
            f"{record.status.value} without a snapshot; it cannot be resumed"
        )
    record = begin()
    take_snapshot(ctx, record)
    return ctx.ledger.checkpoints.get(record.id)


def checkpoint_detail(record: Checkpoint) -> dict[str, Any]:
    """What the run history keeps of a checkpoint step."""
    return {"checkpoint_id": record.id, "snapshot_id": record.snapshot_id or ""}


def restore_once(
    ctx: ApplyContext,
    request: RestoreRequest,
    progress: RestoreProgress,
    landed: tuple[str, str] | None,
) -> dict[str, Any]:
    """Restore as ``restore_onto_branch`` does, unless this promotion's restore already landed.

    ``landed`` is (replaced id, new id) as the promotion recorded them. When the branch still
    carries that new id and no restore intent is open, a killed run finished the restore and
    closed its intent: the listing fills ``progress`` (for the cleanup) and Neon is not asked.
    """
    if landed is not None and _open_restore(ctx, request) is None:
        target = ctx.target(request.tenant)
        branches = ctx.client.list_branches(target.key, target.project_id)
        current = next((b for b in branches if b.name == request.branch_name), None)
        if current is not None and current.id == landed[1]:
            progress.branches, progress.replaced_id, progress.restored = (
                branches,
                landed[0],
                current,
            )
            progress.replaced = next((b for b in branches if b.id == landed[0]), None)
            return {"branch": request.branch_name, "from_branch_id": landed[0],
                    "new_branch_id": current.id, "resumed": True}  # fmt: skip
    try:
        return restore_onto_branch(ctx, request, progress)
    except errors.ApiError as exc:
        raise _explained(exc, request.tenant) from exc


def make_branch_once(
    ctx: ApplyContext, request: RestoreRequest, progress: RestoreProgress
) -> dict[str, Any]:
    """Make ``request.new_branch_name`` by a restore that is not finalized, unless it exists.

    A killed run's open intent is resumed by ``restore_onto_branch`` (it finds the branch it
    made); an existing branch without one was made before and is kept as it is, if it is a
    root branch (Neon snapshots only those, and ``fleet promote run`` snapshots it).
    """
    name = request.new_branch_name
    if _open_restore(ctx, request) is None:
        target = ctx.target(request.tenant)
        branches = ctx.client.list_branches(target.key, target.project_id)
        existing = next((b for b in branches if b.name == name), None)
        if existing is not None:
            if existing.parent_id is not None:
                raise errors.UsageError(
                    f"tenant {request.tenant}: branch {name} exists and is not a root branch; "
                    "fleet promote needs a root branch it can snapshot (choose another --branch)"
                )
            return {"branch": name, "branch_id": existing.id, "existing": True}
    try:
        made = restore_onto_branch(ctx, request, progress)
    except errors.ApiError as exc:
        raise _explained(exc, request.tenant) from exc
    return {**made, "branch": name}


def _open_restore(ctx: ApplyContext, request: RestoreRequest) -> Intent | None:
    return next(
        (
            i
            for i in ctx.ledger.pending_intents()
            if i.action == RESTORE_INTENT
            and i.tenant == request.tenant
            and all(i.detail.get(k) == v for k, v in request.reference.items())
        ),
        None,
    )


def note_restored(
    ctx: ApplyContext,
    request: RestoreRequest,
    progress: RestoreProgress,
    promotion_id: int,
    *,
    managed: bool,
) -> dict[str, Any]:
    """Record the branch's new id on the promotion (and in the ledger for a managed branch)."""
    assert progress.restored is not None  # restore_once ran first
    if managed:
        record_restored_branch(ctx, request, progress)
    ctx.ledger.promotions.attach(
        promotion_id, from_branch_id=progress.replaced_id, new_branch_id=progress.restored.id
    )
    return {"branch": request.branch_name, "branch_id": progress.restored.id}


def size_compute(
    ctx: ApplyContext, tenant: str, branch_name: str, settings: Mapping[str, float | int]
) -> dict[str, Any]:
    """Give the branch's computes ``settings`` (min/max CU, suspend timeout) where they differ."""
    target = ctx.target(tenant)
    branches = ctx.client.list_branches(target.key, target.project_id)
    branch = next((b for b in branches if b.name == branch_name), None)
    if branch is None:
        raise errors.UsageError(f"tenant {tenant}: branch {branch_name} does not exist")
    changed: list[str] = []
    for endpoint in ctx.client.list_endpoints(target.key, target.project_id):
        if endpoint.branch_id != branch.id:
            continue
        if all(getattr(endpoint, name) == value for name, value in settings.items()):
            continue
        _, operations = ctx.client.update_endpoint(
            target.key, target.project_id, endpoint.id,
            autoscaling_limit_min_cu=_number(settings, "autoscaling_limit_min_cu"),
            autoscaling_limit_max_cu=_number(settings, "autoscaling_limit_max_cu"),
            suspend_timeout_seconds=_seconds(settings),
        )  # fmt: skip
        ctx.client.wait_for_operations(
            target.key, target.project_id, operations, timeout=ctx.operation_timeout
        )
        changed.append(endpoint.id)
    return {"branch": branch_name, "branch_id": branch.id, "resized": ",".join(changed)}


def _number(settings: Mapping[str, float | int], name: str) -> float | None:
    value = settings.get(name)
    return None if value is None else float(value)


def _seconds(settings: Mapping[str, float | int]) -> int | None:
    value = settings.get("suspend_timeout_seconds")
    return None if value is None else int(value)


def _explained(exc: errors.ApiError, tenant: str) -> errors.ApiError:
    """A root-branch limit refusal names the tenant and the limit; others pass unchanged."""
    if exc.code not in ROOT_BRANCH_LIMIT_CODES:
        return exc
    return type(exc)(
        f"cannot promote tenant {tenant}: its project is at Neon's root branch limit "
        f"({exc.detail}); delete unused root branches (e.g. `(old)` branches kept by "
        "--keep-old) and run the command again",
        status=exc.status, code=exc.code, request_id=exc.request_id,
        method=exc.method, route=exc.route, body=exc.body,
    )  # fmt: skip
