"""Operations: time-based progress (scheduling → running → finished) and the 423 project lock.

No background thread moves operations along: each one stores when it starts and finishes, and
its status is computed from the injected clock whenever it is read. The operations of one
request run one after another, each taking ``operation_duration_ms``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from reconciler.emulator import ids
from reconciler.emulator.web import HttpError

#: Part of an operation's own duration it spends in ``scheduling`` before ``running``.
_SCHEDULING_SHARE = 0.2


def ensure_unlocked(conn: sqlite3.Connection, project_id: str, now: float) -> None:
    """Raise 423 Locked when the project still has an unfinished operation."""
    busy = conn.execute(
        "SELECT 1 FROM operations WHERE project_id = ? AND finish_at > ? LIMIT 1",
        (project_id, now),
    ).fetchone()
    if busy is not None:
        raise HttpError(
            423, "project already has running operations, scheduling of new ones is prohibited"
        )


def schedule(
    conn: sqlite3.Connection,
    project_id: str,
    steps: Sequence[tuple[str, str | None, str | None]],
    now: float,
    duration_ms: int,
) -> list[dict[str, Any]]:
    """Record one operation per ``(action, branch_id, endpoint_id)`` step; return their JSON."""
    duration = duration_ms / 1000
    created: list[dict[str, Any]] = []
    for index, (action, branch_id, endpoint_id) in enumerate(steps):
        started = now + index * duration
        op_id = ids.operation_id()
        conn.execute(
            "INSERT INTO operations (id, project_id, branch_id, endpoint_id, action, "
            "started_at, finish_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (op_id, project_id, branch_id, endpoint_id, action, started, started + duration),
        )
        row = conn.execute("SELECT * FROM operations WHERE id = ?", (op_id,)).fetchone()
        created.append(operation_json(row, now))
    return created


def operation_json(row: sqlite3.Row, now: float) -> dict[str, Any]:
    """The Neon ``Operation`` object for a stored operation, as of ``now``."""
    started, finish = float(row["started_at"]), float(row["finish_at"])
    if now >= finish:
        status = "finished"
    elif now < started + (finish - started) * _SCHEDULING_SHARE:
        status = "scheduling"
    else:
        status = "running"
    seen = min(max(now, started), finish)
    body: dict[str, Any] = {
        "id": row["id"],
        "project_id": row["project_id"],
        "action": row["action"],
        "status": status,
        "failures_count": 0,
        "created_at": ids.timestamp(started),
        "updated_at": ids.timestamp(seen),
        "total_duration_ms": round((seen - started) * 1000),
    }
    if row["branch_id"]:
        body["branch_id"] = row["branch_id"]
    if row["endpoint_id"]:
        body["endpoint_id"] = row["endpoint_id"]
    return body
