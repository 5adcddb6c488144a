"""Snapshot writes of ``NeonWriter``: create, rename, delete, restore, finalize (Neon Beta).

Create sends its options in the query string as the OpenAPI document and SDK do
(neon-api-notes.md §6). Writes are never re-sent after a lost answer (``OutcomeUnknown``): the
caller reads back, e.g. ``snapshots.find_snapshot_by_name`` after a create. Wire types and
parsing live in ``reconciler.neon.snapshots``.
"""

from __future__ import annotations

from typing import Any

from reconciler.neon import fields as f
from reconciler.neon import snapshots as snap
from reconciler.neon.http import ApiHttp
from reconciler.neon.wire import Branch, Endpoint, Operation


class SnapshotWrites:
    """The snapshot mutations (a mixin of ``NeonWriter``; needs ``self._http``)."""

    _http: ApiHttp

    def create_snapshot(
        self,
        key: str,
        project_id: str,
        branch_id: str,
        *,
        name: str | None = None,
        expires_at: str | None = None,
        timestamp: str | None = None,
        lsn: str | None = None,
    ) -> snap.CreatedSnapshot:
        """Snapshot a root branch (now, or at ``timestamp``/``lsn`` inside the restore window)."""
        params: dict[str, Any] = {
            "name": name, "expires_at": expires_at, "timestamp": timestamp, "lsn": lsn,
        }  # fmt: skip
        body = self._http.call(
            key,
            "POST",
            snap.BRANCH + "/snapshot",
            path={"project_id": project_id, "branch_id": branch_id},
            params=params,
        )
        return snap.CreatedSnapshot(
            snap.Snapshot.from_wire(snap.inner_object(body, "snapshot")),
            snap.operations_in(f.as_object(body, "response")),
        )

    def rename_snapshot(
        self, key: str, project_id: str, snapshot_id: str, name: str
    ) -> snap.Snapshot:
        """Rename a snapshot."""
        body = self._http.call(
            key,
            "PATCH",
            snap.SNAPSHOT,
            path={"project_id": project_id, "snapshot_id": snapshot_id},
            body={"snapshot": {"name": name}},
        )
        return snap.Snapshot.from_wire(snap.inner_object(body, "snapshot"))

    def delete_snapshot(self, key: str, project_id: str, snapshot_id: str) -> tuple[Operation, ...]:
        """Delete a snapshot (202); returns the operations to wait for."""
        body = self._http.call(
            key,
            "DELETE",
            snap.SNAPSHOT,
            path={"project_id": project_id, "snapshot_id": snapshot_id},
        )
        return snap.operations_in(f.as_object(body, "response")) if body is not None else ()

    def restore_snapshot(
        self,
        key: str,
        project_id: str,
        snapshot_id: str,
        *,
        target_branch_id: str | None = None,
        name: str | None = None,
        finalize: bool = False,
    ) -> snap.RestoredSnapshot:
        """Restore a snapshot onto ``target_branch_id`` (default: its source branch).

        With ``finalize`` the new branch replaces the target at once (new id, same name and
        computes; the target becomes ``<name> (old)``); otherwise it is a preview branch.
        """
        request: dict[str, Any] = {"finalize_restore": finalize}
        if target_branch_id is not None:
            request["target_branch_id"] = target_branch_id
        if name is not None:
            request["name"] = name
        body = self._http.call(
            key,
            "POST",
            snap.SNAPSHOT + "/restore",
            path={"project_id": project_id, "snapshot_id": snapshot_id},
            body=request,
        )
        data = f.as_object(body, "response")
        branch_data = snap.inner_object(body, "branch")
        return snap.RestoredSnapshot(
            branch=Branch.from_wire(branch_data),
            endpoints=tuple(
                Endpoint.from_wire(item) for item in f.object_list(data, "endpoints", "response")
            ),
            operations=snap.operations_in(data),
            restored_from=f.optional_str(branch_data, "restored_from", "branch"),
            restored_as=f.optional_str(branch_data, "restored_as", "branch"),
            restore_status=f.optional_str(branch_data, "restore_status", "branch"),
        )

    def finalize_restore(
        self, key: str, project_id: str, branch_id: str, *, name: str | None = None
    ) -> tuple[Operation, ...]:
        """Finalize a preview restore; ``name`` renames the replaced branch (default: generated)."""
        body = self._http.call(
            key,
            "POST",
            snap.BRANCH + "/finalize_restore",
            path={"project_id": project_id, "branch_id": branch_id},
            body={"name": name} if name is not None else {},
        )
        return snap.operations_in(f.as_object(body, "response"))
