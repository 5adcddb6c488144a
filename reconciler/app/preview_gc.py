"""Which previews ``fleet preview gc`` removes: expired ones, and idle ones when a limit is set.

Each project is read once (its branch list and its endpoint list: two calls however many
previews it holds). A preview is

* ``expired`` when its branch's ``expires_at`` has passed, or the branch is gone (Neon deletes
  an expired branch itself; the record is all that is left to clean up);
* ``idle`` when an idle limit applies to its tenant and its compute is not running and was last
  active longer ago than the limit (a compute that never ran counts from the branch's creation).

A preview still ``creating`` is left alone while its expiry is ahead (its create may be running,
or the next create of the same run id finishes it); once that expiry has passed it is removed as
expired too, so a run that died and was never retried leaves nothing behind. A project that no
longer exists (the tenant was offboarded) has nothing left of its previews but their records.
What deleting a preview frees is the branch's logical size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from reconciler.apply.preview_steps import PreviewRemoval
from reconciler.credentials import Credentials
from reconciler.errors import NotFound
from reconciler.ledger.previews import PreviewRecord, PreviewStatus
from reconciler.neon import NeonClient
from reconciler.neon.wire import Branch, Endpoint


def find_removals(
    client: NeonClient,
    credentials: Credentials,
    records: Sequence[PreviewRecord],
    *,
    now: datetime,
    idle_after: Callable[[str], int | None],
) -> list[PreviewRemoval]:
    """The previews to delete, in record order, each with its reason and logical size."""
    by_project: dict[tuple[str, str], list[PreviewRecord]] = {}
    for record in records:
        by_project.setdefault((record.org_id, record.project_id), []).append(record)
    removals: dict[tuple[str, str], PreviewRemoval] = {}
    for (org_id, project_id), group in by_project.items():
        key = credentials.org_key(org_id)
        try:
            listed = client.list_branches(key, project_id)
            endpoints = {e.branch_id: e for e in client.list_endpoints(key, project_id)}
        except NotFound:
            listed, endpoints = [], {}  # the project is gone, and its branches with it
        branches = {b.id: b for b in listed}
        by_name = {b.name: b for b in listed}
        for record in group:
            if record.status is PreviewStatus.CREATING:
                removal = _unfinished(record, by_name.get(record.branch_name), now)
            else:
                branch = branches.get(record.branch_id or "")
                endpoint = None if branch is None else endpoints.get(branch.id)
                removal = judge(record, branch, endpoint, now, idle_after(record.tenant))
            if removal is not None:
                removals[(record.tenant, record.run_id)] = removal
    return [removals[(r.tenant, r.run_id)] for r in records if (r.tenant, r.run_id) in removals]


def judge(
    record: PreviewRecord,
    branch: Branch | None,
    endpoint: Endpoint | None,
    now: datetime,
    idle_seconds: int | None,
) -> PreviewRemoval | None:
    """Why one preview goes (``expired`` or ``idle``), or None to keep it."""
    if branch is None:
        return PreviewRemoval(record, "expired")
    size = branch.logical_size or 0
    expires = _time(branch.expires_at) or record.expires_at
    if expires is not None and expires <= now:
        return PreviewRemoval(record, "expired", size)
    if idle_seconds is None:
        return None
    if endpoint is not None and endpoint.current_state == "active":
        return None
    last = _time(endpoint.last_active if endpoint is not None else None)
    since = last or _time(branch.created_at) or record.created_at
    if since is not None and now - since >= timedelta(seconds=idle_seconds):
        return PreviewRemoval(record, "idle", size)
    return None


def _unfinished(
    record: PreviewRecord, branch: Branch | None, now: datetime
) -> PreviewRemoval | None:
    """A ``creating`` preview goes only once its expiry passed (its run is long over)."""
    if record.expires_at is None or record.expires_at > now:
        return None
    size = 0 if branch is None else branch.logical_size or 0
    return PreviewRemoval(record, "expired", size)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
