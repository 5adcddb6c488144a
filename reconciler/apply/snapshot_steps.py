"""Step handlers for snapshots: take one for a checkpoint record, settle a crashed take, delete.

Each handler changes Neon through ``ctx.client`` (the writer), records what it did in the
ledger's checkpoint store and returns the resource ids for the run history. A snapshot is taken
write-ahead twice over: the checkpoint record exists (``creating``, with the snapshot's unique
deterministic name) before the request, and a ``create_snapshot`` intent names it. A create
whose answer is lost is never re-sent but read back by that name, and a create interrupted for
good (SIGKILL) is settled by ``settle_record`` on a later run, never guessed.

The handlers take the tenant's binding from the context (``ctx.target``), not a checkpoint use
case, so a promotion (snapshot dev, restore onto production) composes them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from reconciler import errors
from reconciler.apply.context import ApplyContext
from reconciler.ledger import IntentOutcome
from reconciler.ledger.checkpoints import Checkpoint
from reconciler.neon import Operation
from reconciler.neon.snapshots import find_snapshot_by_name

#: The intent recorded before a snapshot is requested (closed when its record is settled).
CREATE_SNAPSHOT_INTENT = "create_snapshot"
#: Neon's code for a project at its snapshot cap (UNCONFIRMED; the emulator uses it).
SNAPSHOT_LIMIT_CODES = frozenset({"SNAPSHOTS_LIMIT_EXCEEDED"})

#: Waits for a create's operations: (key, project id, operations). Default: the context's.
OperationWait = Callable[[str, str, Sequence[Operation]], object]


def take_snapshot(
    ctx: ApplyContext, record: Checkpoint, wait: OperationWait | None = None
) -> dict[str, Any]:
    """Snapshot the branch of a ``creating`` record, wait for Neon, mark the record ``ready``."""
    target = ctx.target(record.tenant)
    store = ctx.ledger.checkpoints
    intent = ctx.ledger.record_intent(
        record.tenant,
        CREATE_SNAPSHOT_INTENT,
        {"checkpoint_id": record.id, "project_id": target.project_id,
         "org_id": target.binding.org_id, "snapshot_name": record.snapshot_name},
    )  # fmt: skip
    try:
        created = ctx.client.create_snapshot(
            target.key, target.project_id, record.branch_id,
            name=record.snapshot_name, expires_at=_stamp(record.expires_at),
        )  # fmt: skip
        snapshot, operations = created.snapshot, created.operations
    except errors.OutcomeUnknown:
        # Never re-send: read back by the record's unique snapshot name.
        read_back = find_snapshot_by_name(
            ctx.client, target.key, target.project_id, record.snapshot_name
        )
        if read_back is None:
            _forget(ctx, record, intent, IntentOutcome.ABANDONED)
            raise
        snapshot, operations = read_back, ()
    except errors.ApiError as exc:
        _forget(ctx, record, intent, IntentOutcome.FAILED)
        raise _explained(exc, record.tenant, target.project_id) from exc
    # Keep the id before waiting: if the wait fails the record stays ``creating`` with it (and
    # the intent open), and a later run settles it by reading the snapshot back.
    store.attach_snapshot(record.id, snapshot.id)
    if wait is not None:
        wait(target.key, target.project_id, operations)
    elif operations:
        ctx.client.wait_for_operations(
            target.key, target.project_id, operations, timeout=ctx.operation_timeout
        )
    store.mark_ready(record.id, snapshot.id, snapshot.full_size)
    ctx.ledger.resolve_intent(intent, IntentOutcome.DONE)
    return {"checkpoint_id": record.id, "snapshot_id": snapshot.id}


def _forget(ctx: ApplyContext, record: Checkpoint, intent: int, outcome: str) -> None:
    """The snapshot certainly was not made: drop the record, close the intent."""
    ctx.ledger.checkpoints.discard(record.id)
    ctx.ledger.resolve_intent(intent, outcome)


def settle_record(
    ctx: ApplyContext, record: Checkpoint, keys: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """Settle a record a crashed or interrupted create left ``creating``.

    It is read back by its unique snapshot name with each (org, key) in turn (the project may
    have moved org since): ``ready`` when the snapshot exists, ``discarded`` when the project
    was read and it does not. A record no key can read is left for a later run and reported.
    The record's open ``create_snapshot`` intent is closed with the same outcome.
    """
    store = ctx.ledger.checkpoints
    tried: list[str] = []
    for org_id, key in keys:
        tried.append(org_id)
        try:
            found = find_snapshot_by_name(ctx.client, key, record.project_id, record.snapshot_name)
        except (errors.NotFound, errors.Forbidden):
            continue  # not (or no longer) in this org
        if found is None:
            store.discard(record.id)
            _close_create_intents(ctx, record.id, IntentOutcome.ABANDONED)
            return {"checkpoint_id": record.id, "settled": "discarded"}
        store.mark_ready(record.id, found.id, found.full_size)
        _close_create_intents(ctx, record.id, IntentOutcome.DONE)
        return {"checkpoint_id": record.id, "settled": "ready", "snapshot_id": found.id}
    return {
        "checkpoint_id": record.id,
        "settled": f"unsettled: project {record.project_id} not found with the keys of "
        f"{', '.join(tried) or 'no managed org'}",
    }


def _close_create_intents(ctx: ApplyContext, checkpoint_id: int, outcome: str) -> None:
    for intent in ctx.ledger.pending_intents():
        if (
            intent.action == CREATE_SNAPSHOT_INTENT
            and intent.detail.get("checkpoint_id") == checkpoint_id
        ):
            ctx.ledger.resolve_intent(intent.intent_id, outcome)


def delete_snapshot(
    ctx: ApplyContext, record: Checkpoint, key: str, snapshot_id: str | None
) -> dict[str, Any]:
    """Delete a record's snapshot (when Neon still has it) with ``key``, then the record.

    The key is the caller's: the record's project may have moved org since it was taken.
    """
    project_id = record.project_id
    if snapshot_id is not None:
        try:
            operations = ctx.client.delete_snapshot(key, project_id, snapshot_id)
        except errors.NotFound:
            operations = ()  # an overlapping gc deleted it after this one listed it: goal met
        if operations:
            ctx.client.wait_for_operations(
                key, project_id, operations, timeout=ctx.operation_timeout
            )
    ctx.ledger.checkpoints.delete(record.id)
    return {"checkpoint_id": record.id, "snapshot_id": snapshot_id or ""}


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _explained(exc: errors.ApiError, tenant: str, project_id: str) -> errors.ApiError:
    """A limit refusal names the tenant and the limit; other errors pass unchanged."""
    if exc.code not in SNAPSHOT_LIMIT_CODES:
        return exc
    return type(exc)(
        f"cannot checkpoint tenant {tenant}: project {project_id} is at Neon's "
        f"snapshot limit ({exc.detail}); run `fleet checkpoint gc` to delete checkpoints "
        "the tier's retention no longer keeps",
        status=exc.status, code=exc.code, request_id=exc.request_id,
        method=exc.method, route=exc.route, body=exc.body,
    )  # fmt: skip
