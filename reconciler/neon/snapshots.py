"""Snapshot wire types and reads of the Neon API (all Beta); the writes (create, rename, delete,
restore, finalize) are ``NeonWriter`` methods (``reconciler.neon.mutators.snapshots``).

Functions take the ``NeonClient`` (so every call shares its limiter, retries, error mapping and
stats) and the key to use. Create sends its options in the query string as the OpenAPI document
and SDK do (neon-api-notes.md §6). Writes are never re-sent after a lost answer
(``OutcomeUnknown``): the caller reads back, e.g. ``find_snapshot_by_name`` after a create.

Restore semantics worth knowing: a *finalized* restore creates a branch with a **new id** that
takes over the target's name and computes, and leaves the old branch behind as ``<name> (old)``
without compute; every id of that branch stored anywhere must be replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.neon import fields as f
from reconciler.neon.wire import Branch, Endpoint, Operation

if TYPE_CHECKING:  # the client imports nothing from here; this keeps the import one-way
    from reconciler.neon.client import NeonClient

SNAPSHOTS = "/projects/{project_id}/snapshots"
SNAPSHOT = SNAPSHOTS + "/{snapshot_id}"
BRANCH = "/projects/{project_id}/branches/{branch_id}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot (spec: ``Snapshot``). ``full_size`` is None until Neon has calculated it."""

    id: str
    name: str
    created_at: str
    source_branch_id: str | None = None
    lsn: str | None = None
    timestamp: str | None = None
    expires_at: str | None = None
    manual: bool | None = None
    #: Full logical size in bytes (0: not charged); None: not calculated yet.
    full_size: int | None = None
    #: Incremental size since the previous scheduled snapshot, when billed that way.
    diff_size: int | None = None

    @classmethod
    def from_wire(cls, data: f.JsonObject) -> Snapshot:
        """Parse a ``Snapshot`` object."""
        kind = "snapshot"
        data = f.as_object(data, kind)
        manual = data.get("manual")
        return cls(
            id=f.required_str(data, "id", kind),
            name=f.required_str(data, "name", kind),
            created_at=f.required_str(data, "created_at", kind),
            source_branch_id=f.optional_str(data, "source_branch_id", kind),
            lsn=f.optional_str(data, "lsn", kind),
            timestamp=f.optional_str(data, "timestamp", kind),
            expires_at=f.optional_str(data, "expires_at", kind),
            manual=f.flag(data, "manual", kind) if manual is not None else None,
            full_size=f.optional_int(data, "full_size", kind),
            diff_size=f.optional_int(data, "diff_size", kind),
        )


@dataclass(frozen=True, slots=True)
class CreatedSnapshot:
    """``POST …/snapshot``: the snapshot and the operations to wait for."""

    snapshot: Snapshot
    operations: tuple[Operation, ...]


@dataclass(frozen=True, slots=True)
class RestoredSnapshot:
    """``POST …/restore``: the new branch, its endpoints and the operations to wait for.

    ``restored_as`` is the id of the branch it replaced (or will replace when finalized);
    ``restore_status`` is ``restored`` (preview) or ``finalized``.
    """

    branch: Branch
    endpoints: tuple[Endpoint, ...]
    operations: tuple[Operation, ...]
    restored_from: str | None = None
    restored_as: str | None = None
    restore_status: str | None = None


def operations_in(body: f.JsonObject) -> tuple[Operation, ...]:
    return tuple(Operation.from_wire(item) for item in f.object_list(body, "operations", "body"))


def inner_object(body: object, key: str) -> f.JsonObject:
    inner = f.optional_object(f.as_object(body, "response"), key, "response")
    if inner is None:
        raise f.malformed("response", key, None)
    return inner


def list_snapshots(client: NeonClient, key: str, project_id: str) -> list[Snapshot]:
    """Every snapshot of a project (the route has no pagination)."""
    body = client.request(key, "GET", SNAPSHOTS, path={"project_id": project_id})
    data = f.as_object(body, "snapshot list")
    return [Snapshot.from_wire(item) for item in f.object_list(data, "snapshots", "snapshot list")]


def find_snapshot_by_name(
    client: NeonClient, key: str, project_id: str, name: str
) -> Snapshot | None:
    """The snapshot named ``name`` (the read-back after a create whose answer was lost)."""
    return next((s for s in list_snapshots(client, key, project_id) if s.name == name), None)
