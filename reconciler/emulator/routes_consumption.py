"""``GET /consumption_history/v2/projects``: per-project consumption from ``usage.py``.

Rules, in order: project-scoped keys are refused (403: an org route); ``org_id`` must be one
the key acts in (404: "not a member", as the spec says); the consumption bucket (a token bucket
of ``limits.consumption_per_minute`` per account, kept in the state file so every request and
process shares it) answers 429 when empty; the org's plan must be usage-based (403 for
``free``); then the parameters (400) and the range (406: hourly ≤ 168 h back, daily ≤ 60 days,
monthly ≤ 1 year, never before 2024-03-01).

``from`` is rounded down and ``to`` up to the granularity (UNCONFIRMED: Neon documents only
"rounded"). Projects come newest first (creation time, then id, descending); the cursor is
the id of the page's last project. Timeframes without a complete hour are left out, and so
are zero-valued metrics (as in Neon's documented example). Billing periods are calendar months.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from reconciler.emulator import ids, usage
from reconciler.emulator.store import get_meta, set_meta
from reconciler.emulator.web import HttpError, Request, Response, Route

GRANULARITIES = ("hourly", "daily", "monthly")
USAGE_BASED_PLANS = frozenset({"launch", "scale", "agent", "business", "enterprise"})
EARLIEST = dt.datetime(2024, 3, 1, tzinfo=dt.UTC).timestamp()
_ID = re.compile(r"^[a-z0-9-]{1,60}$")
_DAY = 86400


def consumption_projects(conn: sqlite3.Connection, req: Request) -> Response:
    """GET /consumption_history/v2/projects."""
    principal = req.principal
    if principal.kind == "project":
        raise HttpError(403, "a project-scoped API key cannot read consumption history")
    org_id = req.arg("org_id")
    if not org_id or not _ID.match(org_id):
        raise HttpError(400, "query parameter org_id is required")
    if org_id not in principal.orgs():
        raise HttpError(404, f"the account is not a member of organization {org_id}")
    _take_token(conn, principal.account_id, req)
    org = conn.execute("SELECT plan FROM orgs WHERE id = ?", (org_id,)).fetchone()
    if org is None:
        raise HttpError(404, f"organization {org_id} not found")
    if org["plan"] not in USAGE_BASED_PLANS:
        raise HttpError(
            403,
            "project consumption history requires a Launch, Scale, Agent, Business or "
            f"Enterprise plan; {org_id} is on {org['plan']}",
        )
    granularity = req.arg("granularity")
    if granularity not in GRANULARITIES:
        raise HttpError(400, "query parameter granularity must be hourly, daily or monthly")
    metrics = _metrics(_list_arg(req, "metrics"))
    project_ids = _list_arg(req, "project_ids")
    if len(project_ids) > 100 or not all(_ID.match(pid) for pid in project_ids):
        raise HttpError(400, "query parameter project_ids takes up to 100 project ids")
    limit = req.int_arg("limit", 1, 100, default=10)
    assert limit is not None
    start = floor_time(_time_arg(req, "from"), granularity)
    end = ceil_time(_time_arg(req, "to"), granularity)
    _check_range(start, end, granularity, req.now)
    rows = _page(conn, org_id, project_ids, req.arg("cursor"), limit)
    settings = usage.settings_from_limits(req.limits)
    body: dict[str, Any] = {
        "projects": [
            {
                "project_id": row["id"],
                "periods": _periods(
                    row, org_id, org["plan"], metrics, granularity, start, end, req.now, settings
                ),
            }
            for row in rows
        ]
    }
    if rows:
        body["pagination"] = {"cursor": rows[-1]["id"]}
    return Response(200, body)


def _take_token(conn: sqlite3.Connection, account: str, req: Request) -> None:
    """The consumption bucket; stored in the state file (a 429 rolls nothing forward)."""
    capacity = float(req.limits.consumption_per_minute)
    key = f"consumption_bucket:{account}"
    state = get_meta(conn, key) or {"tokens": capacity, "updated": req.now}
    elapsed = max(0.0, req.now - float(state["updated"]))
    tokens = min(capacity, float(state["tokens"]) + elapsed * capacity / 60.0)
    if tokens < 1.0:
        raise HttpError(429, "too many consumption history requests; retry with backoff")
    set_meta(conn, key, {"tokens": tokens - 1.0, "updated": req.now})


def _list_arg(req: Request, name: str) -> list[str]:
    """A list parameter given repeated (``a=1&a=2``) or comma-separated (``a=1,2``)."""
    return [part for value in req.query.get(name, ()) for part in value.split(",") if part]


def _metrics(names: Sequence[str]) -> tuple[str, ...]:
    if not names:
        raise HttpError(400, "query parameter metrics is required")
    unknown = sorted(set(names) - set(usage.METRICS))
    if unknown:
        raise HttpError(
            400, f"unknown metric(s) {', '.join(unknown)}; supported: {', '.join(usage.METRICS)}"
        )
    return tuple(dict.fromkeys(names))


def _time_arg(req: Request, name: str) -> float:
    raw = req.arg(name)
    if not raw:
        raise HttpError(400, f"query parameter {name} is required")
    try:
        return ids.parse_timestamp(raw)
    except ValueError:
        raise HttpError(400, f"query parameter {name} must be an RFC 3339 date-time") from None


def floor_time(at: float, granularity: str) -> float:
    """Round ``at`` down to the start of its hour, day or month (UTC)."""
    if granularity == "monthly":
        return usage.month_start(at)
    step = usage.HOUR if granularity == "hourly" else _DAY
    return at // step * step


def ceil_time(at: float, granularity: str) -> float:
    """Round ``at`` up to the next hour, day or month boundary (unchanged when on one)."""
    start = floor_time(at, granularity)
    return start if start == at else next_boundary(start, granularity)


def next_boundary(at: float, granularity: str) -> float:
    """The timeframe start after the one beginning at ``at``."""
    if granularity == "monthly":
        return usage.next_month(at)
    return at + (usage.HOUR if granularity == "hourly" else _DAY)


def _check_range(start: float, end: float, granularity: str, now: float) -> None:
    if granularity == "hourly":
        oldest = floor_time(now, "hourly") - 168 * usage.HOUR
        window = "168 hours"
    elif granularity == "daily":
        oldest = floor_time(now, "daily") - 60 * _DAY
        window = "60 days"
    else:
        this_month = dt.datetime.fromtimestamp(usage.month_start(now), dt.UTC)
        oldest = this_month.replace(year=this_month.year - 1).timestamp()
        window = "1 year"
    if start < max(oldest, EARLIEST):
        raise HttpError(
            406, f"{granularity} consumption is available for the last {window} only "
            f"(and not before 2024-03-01); from={ids.timestamp(start)} is too early",
        )  # fmt: skip
    if end <= start:
        raise HttpError(406, "the consumption range is empty: to must be after from")


def _page(
    conn: sqlite3.Connection, org_id: str, project_ids: Sequence[str], cursor: str | None,
    limit: int,
) -> list[sqlite3.Row]:  # fmt: skip
    clauses, args = ["org_id = ?"], [org_id]
    if project_ids:
        clauses.append(f"id IN ({', '.join('?' * len(project_ids))})")
        args.extend(project_ids)
    if cursor:
        anchor = conn.execute(
            "SELECT created_at, id FROM projects WHERE id = ? AND org_id = ?", (cursor, org_id)
        ).fetchone()
        if anchor is None:
            raise HttpError(400, "query parameter cursor does not name a project of this org")
        clauses.append("(created_at < ? OR (created_at = ? AND id < ?))")
        args.extend([anchor["created_at"], anchor["created_at"], anchor["id"]])
    rows: list[sqlite3.Row] = conn.execute(
        f"SELECT id, name, created_at FROM projects WHERE {' AND '.join(clauses)} "
        "ORDER BY created_at DESC, id DESC LIMIT ?",
        (*args, limit),
    ).fetchall()
    return rows


def _periods(
    row: sqlite3.Row, org_id: str, plan: str, metrics: tuple[str, ...], granularity: str,
    start: float, end: float, now: float, settings: usage.UsageSettings,
) -> list[dict[str, Any]]:  # fmt: skip
    begins = usage.history_start(ids.parse_timestamp(row["created_at"]), settings)
    periods: dict[float, dict[str, Any]] = {}
    frame = max(start, floor_time(begins, granularity))
    stop = min(end, now)
    while frame < stop:
        frame_end = next_boundary(frame, granularity)
        first, last = usage.complete_hours(frame, frame_end, begins, now)
        if last > first:
            values = usage.metric_values(row["name"], metrics, settings, frame, frame_end,
                                         begins, now)  # fmt: skip
            period = periods.get(usage.month_start(frame))
            if period is None:
                period = _period(org_id, plan, usage.month_start(frame), now)
                periods[usage.month_start(frame)] = period
            period["consumption"].append(
                {
                    "timeframe_start": ids.timestamp(frame),
                    "timeframe_end": ids.timestamp(frame_end),
                    "metrics": [
                        {"metric_name": name, "value": value}
                        for name, value in values.items()
                        if value
                    ],
                }
            )
        frame = frame_end
    return list(periods.values())


def _period(org_id: str, plan: str, period_start: float, now: float) -> dict[str, Any]:
    period_end = usage.next_month(period_start)
    period: dict[str, Any] = {
        "period_id": str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"neon-fleet-emulator/period/{org_id}/{period_start}")
        ),
        "period_plan": plan,
        "period_start": ids.timestamp(period_start),
        "consumption": [],
    }
    if period_end <= now:
        period["period_end"] = ids.timestamp(period_end)
    return period


ROUTES = (Route("GET", "/consumption_history/v2/projects", consumption_projects),)
