"""Runtime previews in the applier: create a branch with a compute for an agent run, delete it.

A preview is a branch named ``preview-<run id>`` with its own read-write compute, Neon's native
``expires_at`` and a connection secret delivered to the Fleet's sink. These handlers run on the
applier's executor (one lane per tenant, because Neon locks a project while its operations run),
under the apply lock the caller holds, and every run is recorded in the ledger's history (mode
``preview``), so ``fleet history`` shows them next to applies.

Crash safety follows the applier's rule: intent first, then the write, then the record.

* create: the branch is looked up by its deterministic name *before* anything is sent; the
  ``create_preview`` intent and a ``creating`` record are written next; only then is the branch
  requested. A lost answer or a run killed at any point is settled by the next create of the same
  run id, which finds the branch by name and finishes what is missing (compute, expiry, secret)
  instead of creating a second branch. Its intent is closed when the record is ``ready``.
* delete: the ``delete_preview`` intent is written, the branch deleted (already gone is fine:
  Neon deletes an expired branch itself), the sink's file withdrawn and the record dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from reconciler.apply import preview_secrets
from reconciler.apply.executor import ItemFailed
from reconciler.apply.secrets import SecretSink
from reconciler.credentials import Credentials
from reconciler.errors import NotFound, OutcomeUnknown
from reconciler.ledger import IntentOutcome, Ledger
from reconciler.ledger.previews import PreviewRecord, PreviewStatus
from reconciler.neon import NeonClient
from reconciler.neon.mutators import NeonWriter
from reconciler.neon.wire import Branch, Endpoint, Operation

CREATE_INTENT = "create_preview"
DELETE_INTENT = "delete_preview"


@dataclass(frozen=True)
class SnapshotSource:
    """Branch from a checkpoint's snapshot instead of a parent branch."""

    checkpoint_id: int
    snapshot_id: str


@dataclass(frozen=True)
class PreviewRequest:
    """One ``fleet preview create``, checked and resolved by the use case."""

    tenant: str
    run_id: str
    project_id: str
    org_id: str
    #: The parent branch's name; ignored when ``snapshot`` is set.
    parent_branch: str
    expires_at: datetime
    suspend_timeout_seconds: int
    compute: Mapping[str, float] = field(default_factory=dict)
    snapshot: SnapshotSource | None = None
    database: str | None = None
    role: str | None = None

    @property
    def branch_name(self) -> str:
        return preview_secrets.secret_name(self.run_id)

    def compute_settings(self) -> dict[str, float | int]:
        return {**self.compute, "suspend_timeout_seconds": self.suspend_timeout_seconds}


@dataclass(frozen=True)
class PreviewRemoval:
    """A preview to delete and why (``requested``, ``expired``, ``idle``)."""

    record: PreviewRecord
    reason: str
    #: The branch's logical size when it was last read (what deleting it frees).
    logical_size: int = 0


@dataclass
class PreviewContext:
    """What the preview handlers share during one run."""

    #: The caller's read client; ``client`` is the writer made from it (only apply/ writes).
    reader: NeonClient
    credentials: Credentials
    ledger: Ledger
    #: None only for deletes: a create refuses to run without a sink.
    sink: SecretSink | None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    operation_timeout: float = 300.0

    @functools.cached_property
    def client(self) -> NeonWriter:
        return NeonWriter.over(self.reader)


# ---------------------------------------------------------------------------------- create


def create_preview(ctx: PreviewContext, request: PreviewRequest) -> dict[str, Any]:
    """Create (or finish creating) the preview of ``request``; see the module docstring."""
    key = ctx.credentials.org_key(request.org_id)
    branches = {b.name: b for b in ctx.client.list_branches(key, request.project_id)}
    if request.snapshot is None and request.parent_branch not in branches:
        raise ItemFailed(
            f"tenant {request.tenant} has no branch {request.parent_branch!r} to branch the "
            "preview from (--parent)"
        )
    ctx.ledger.record_intent(
        request.tenant,
        CREATE_INTENT,
        {
            "run_id": request.run_id,
            "project_id": request.project_id,
            "branch_name": request.branch_name,
        },
    )
    ctx.ledger.save_preview(_record(request, PreviewStatus.CREATING))
    found = branches.get(request.branch_name)
    created = found is None
    if found is not None:
        branch, endpoint = _adopt(ctx, key, request, found)
    else:
        parent = branches.get(request.parent_branch)
        branch, endpoint = _create(ctx, key, request, None if parent is None else parent.id)
    secret = _connection_secret(ctx, key, request, branch, endpoint)
    if ctx.sink is None:
        raise ItemFailed("no secret sink is configured: the connection secret cannot be delivered")
    ctx.sink.deliver(secret)
    ctx.ledger.save_preview(
        replace(
            _record(request, PreviewStatus.READY),
            branch_id=branch.id,
            endpoint_id=endpoint.id,
            secret_fingerprint=preview_secrets.fingerprint(secret.uri),
            expires_at=_parse_time(branch.expires_at) or request.expires_at,
        )
    )
    # This run's intent and any a killed run left for the same preview: it exists now.
    _close_create_intents(ctx.ledger, request)
    return {
        "project_id": request.project_id,
        "branch_id": branch.id,
        "endpoint_id": endpoint.id,
        "created": created,
    }


def _record(request: PreviewRequest, status: PreviewStatus) -> PreviewRecord:
    snapshot = request.snapshot
    return PreviewRecord(
        tenant=request.tenant,
        run_id=request.run_id,
        project_id=request.project_id,
        org_id=request.org_id,
        branch_name=request.branch_name,
        status=status,
        parent_branch=None if snapshot is not None else request.parent_branch,
        checkpoint_id=None if snapshot is None else snapshot.checkpoint_id,
        expires_at=request.expires_at,
    )


def _create(
    ctx: PreviewContext, key: str, request: PreviewRequest, parent_id: str | None
) -> tuple[Branch, Endpoint]:
    """Request the branch; a lost answer is read back by name, never sent again."""
    try:
        if request.snapshot is not None:
            return _restore(ctx, key, request, request.snapshot)
        answer = ctx.client.create_branch(
            key,
            request.project_id,
            name=request.branch_name,
            parent_id=parent_id,
            expires_at=_stamp(request.expires_at),
            endpoint_type="read_write",
            endpoint_settings=request.compute_settings(),
        )
    except OutcomeUnknown:
        listed = {b.name: b for b in ctx.client.list_branches(key, request.project_id)}
        found = listed.get(request.branch_name)
        if found is None:
            raise ItemFailed(
                f"the create of preview branch {request.branch_name!r} got no answer and no "
                "such branch exists; run the same preview create again"
            ) from None
        return _adopt(ctx, key, request, found)
    _wait(ctx, key, request.project_id, answer.operations)
    if not answer.endpoints:
        return _adopt(ctx, key, request, answer.branch)
    return answer.branch, answer.endpoints[0]


def _restore(
    ctx: PreviewContext, key: str, request: PreviewRequest, snapshot: SnapshotSource
) -> tuple[Branch, Endpoint]:
    """A preview from a checkpoint: the snapshot restored (not finalized) as a new branch."""
    restored = ctx.client.restore_snapshot(
        key, request.project_id, snapshot.snapshot_id, name=request.branch_name
    )
    _wait(ctx, key, request.project_id, restored.operations)
    # A restore takes neither an expiry nor compute settings: _adopt settles both.
    return _adopt(ctx, key, request, restored.branch)


def _adopt(
    ctx: PreviewContext, key: str, request: PreviewRequest, branch: Branch
) -> tuple[Branch, Endpoint]:
    """Finish a branch that exists: give it its compute and expiry where they are missing."""
    client, project_id = ctx.client, request.project_id
    if branch.expires_at is None:
        branch, ops = client.update_branch(
            key, project_id, branch.id, expires_at=_stamp(request.expires_at)
        )
        _wait(ctx, key, project_id, ops)
    endpoints = [
        e
        for e in client.list_endpoints(key, project_id)
        if e.branch_id == branch.id and e.type == "read_write"
    ]
    if not endpoints:
        endpoint, ops = client.create_endpoint(
            key,
            project_id,
            branch.id,
            min_cu=request.compute.get("autoscaling_limit_min_cu"),
            max_cu=request.compute.get("autoscaling_limit_max_cu"),
            suspend_timeout_seconds=request.suspend_timeout_seconds,
        )
        _wait(ctx, key, project_id, ops)
        return branch, endpoint
    endpoint = endpoints[0]
    if endpoint.suspend_timeout_seconds != request.suspend_timeout_seconds:
        endpoint, ops = client.update_endpoint(
            key,
            project_id,
            endpoint.id,
            autoscaling_limit_min_cu=request.compute.get("autoscaling_limit_min_cu"),
            autoscaling_limit_max_cu=request.compute.get("autoscaling_limit_max_cu"),
            suspend_timeout_seconds=request.suspend_timeout_seconds,
        )
        _wait(ctx, key, project_id, ops)
    return branch, endpoint


def _connection_secret(
    ctx: PreviewContext, key: str, request: PreviewRequest, branch: Branch, endpoint: Endpoint
) -> preview_secrets.PreviewSecret:
    """The branch's connection URI for the chosen database and its owner (or ``--role``)."""
    databases = ctx.client.list_databases(key, request.project_id, branch.id)
    names = sorted(d.name for d in databases)
    if request.database is not None:
        chosen = next((d for d in databases if d.name == request.database), None)
    elif len(databases) == 1:
        chosen = databases[0]
    else:
        chosen = next((d for d in databases if d.name == "neondb"), None)
    if chosen is None:
        wanted = request.database or "one of them (--database)"
        raise ItemFailed(
            f"preview branch {branch.id} has databases {', '.join(names) or 'none'}: "
            f"cannot pick {wanted}"
        )
    role = request.role or chosen.owner_name
    uri = ctx.client.get_connection_uri(
        key, request.project_id, database_name=chosen.name, role_name=role, branch_id=branch.id
    ).uri
    return preview_secrets.PreviewSecret(
        tenant=request.tenant,
        run_id=request.run_id,
        project_id=request.project_id,
        branch_id=branch.id,
        endpoint_id=endpoint.id,
        database=chosen.name,
        role=role,
        expires_at=branch.expires_at or _stamp(request.expires_at),
        uri=uri,
    )


def _close_create_intents(ledger: Ledger, request: PreviewRequest) -> None:
    """Close every open create intent of this preview (tenant and run id)."""
    for intent in ledger.pending_intents():
        if (
            intent.action == CREATE_INTENT
            and intent.tenant == request.tenant
            and intent.detail.get("run_id") == request.run_id
        ):
            ledger.resolve_intent(intent.intent_id, IntentOutcome.DONE)


# ---------------------------------------------------------------------------------- delete


def delete_preview(ctx: PreviewContext, removal: PreviewRemoval) -> dict[str, Any]:
    """Delete a preview's branch (gone already is fine), withdraw its secret, drop its record."""
    record = removal.record
    key = ctx.credentials.org_key(record.org_id)
    intent = ctx.ledger.record_intent(
        record.tenant,
        DELETE_INTENT,
        {"run_id": record.run_id, "project_id": record.project_id, "branch_id": record.branch_id},
    )
    branch_id = record.branch_id or _branch_id_by_name(ctx, key, record)
    if branch_id is not None:
        try:
            outcome = ctx.client.delete_branch(key, record.project_id, branch_id)
        except NotFound:
            outcome = None  # Neon already deleted it (its expires_at passed)
        if outcome is not None:
            _wait(ctx, key, record.project_id, outcome[1])
    preview_secrets.withdraw(ctx.sink, record.tenant, record.run_id)
    ctx.ledger.drop_preview(record.tenant, record.run_id)
    ctx.ledger.resolve_intent(intent, IntentOutcome.DONE)
    return {
        "project_id": record.project_id,
        "branch_id": branch_id,
        "reason": removal.reason,
        "freed_bytes": removal.logical_size,
    }


def _branch_id_by_name(ctx: PreviewContext, key: str, record: PreviewRecord) -> str | None:
    """A ``creating`` record may not know its branch id yet: find the branch by its name."""
    try:
        listed = ctx.client.list_branches(key, record.project_id)
    except NotFound:
        return None  # the project is gone, and the branch with it
    for branch in listed:
        if branch.name == record.branch_name:
            return branch.id
    return None


# ---------------------------------------------------------------------------------- helpers


def _wait(ctx: PreviewContext, key: str, project_id: str, ops: Sequence[Operation]) -> None:
    if ops:
        ctx.client.wait_for_operations(key, project_id, ops, timeout=ctx.operation_timeout)


def _stamp(moment: datetime) -> str:
    """RFC 3339 with whole seconds, as Neon takes ``expires_at``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
