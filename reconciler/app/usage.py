"""Use case ``fleet usage sync``: Neon consumption history into the ledger, incrementally.

Per managed org and granularity the window runs from where the last sync stopped (the ledger's
sync mark; on a first run a default look-back) to now, clamped to what Neon keeps at that
granularity (168 hours, 60 days, one year). Every page goes into the ledger as an upsert, so an
overlapping window never double counts. The mark then moves to the end of the last timeframe
that is final: Neon's numbers settle within about an hour, so timeframes that ended less than
``settle`` ago are fetched again next time. A cron job every 15 minutes therefore asks only for
the last hour or so. All consumption calls draw from the client's consumption budget (about
50/min) and ``max_requests`` bounds one run; an org cut short keeps its old mark.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from reconciler.app.environment import Environment
from reconciler.core.model import DesiredFleet
from reconciler.core.usage import (
    PERIOD_COUNTERS,
    OrgSync,
    QuotaReport,
    QuotaUse,
    SyncResult,
    TenantQuota,
    floor_time,
    iso,
    oldest_allowed,
    parse_time,
    passed_threshold,
)
from reconciler.errors import Forbidden, UsageError
from reconciler.ledger.usage import UsageSample, UsageStore
from reconciler.neon import NeonClient
from reconciler.neon.consumption import (
    GRANULARITIES,
    MAX_PAGE,
    ConsumptionQuery,
    fetch_consumption_page,
)

#: How far back a first sync reaches, per granularity.
DEFAULT_LOOKBACK = {
    "hourly": timedelta(hours=24),
    "daily": timedelta(days=30),
    "monthly": timedelta(days=0),
}
#: Timeframes that ended longer ago than this are final (Neon: "up to 1 h to be reportable").
DEFAULT_SETTLE = timedelta(hours=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def sync_usage(
    env: Environment,
    desired: DesiredFleet,
    *,
    granularity: str = "hourly",
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    max_requests: int | None = None,
    settle: timedelta = DEFAULT_SETTLE,
    page_size: int = MAX_PAGE,
) -> SyncResult:
    """Fetch consumption for every managed org into the ledger (see the module docstring)."""
    if granularity not in GRANULARITIES:
        raise UsageError(f"granularity must be one of {', '.join(GRANULARITIES)}")
    if max_requests is not None and max_requests < 1:
        raise UsageError("--max-requests must be at least 1")
    moment = now or utc_now()
    client, credentials, ledger = env.client(), env.credentials(), env.ledger()
    if start is not None and end is not None and end <= start:
        raise UsageError("the sync window is empty: --to must be after --from")
    store = UsageStore(ledger)
    view = ledger.view()
    by_project = {t.project_id: name for name, t in view.tenants.items()}
    by_name = {t.project_name: name for name, t in desired.tenants.items()}
    budget = [max_requests if max_requests is not None else -1]
    results = []
    before = client.stats.snapshot().total_requests
    for org in sorted(desired.fleet.orgs.values(), key=lambda o: o.id):
        key = credentials.org_key(org.id)
        window = _window(store, org.id, granularity, start, end, moment)
        if isinstance(window, str):
            results.append(OrgSync(org.id, None, None, note=window))
            continue
        # Earlier syncs' attributions spare the project listing on every cron run.
        known = {**store.known_tenants(org.id), **by_project}
        names = _Names(client, key, org.id, known, by_name)
        results.append(
            _sync_org(
                client,
                key,
                store,
                names,
                org.id,
                granularity,
                window,
                moment,
                settle,
                budget,
                page_size,
            )
        )
    requests = client.stats.snapshot().total_requests - before
    return SyncResult(granularity, tuple(results), requests)


def _window(
    store: UsageStore,
    org_id: str,
    granularity: str,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
) -> tuple[datetime, datetime, bool] | str:
    """``(from, to, clamped)`` for one org, or the reason there is nothing to fetch."""
    mark = store.synced_until(org_id, granularity)
    begin = start or mark or (now - DEFAULT_LOOKBACK[granularity])
    begin = floor_time(begin, granularity)
    finish = min(end or now, now)
    oldest = oldest_allowed(now, granularity)
    clamped = begin < oldest
    begin = max(begin, oldest)
    if finish <= begin:
        return "nothing new to fetch"
    return begin, finish, clamped


class _Names:
    """Project id → tenant: the ledger first, then (once per org, if needed) project names."""

    def __init__(
        self,
        client: NeonClient,
        key: str,
        org_id: str,
        by_project: Mapping[str, str],
        by_name: Mapping[str, str],
    ) -> None:
        self._client, self._key, self._org_id = client, key, org_id
        self._by_project, self._by_name = by_project, by_name
        self._listed: dict[str, str] | None = None

    def tenant(self, project_id: str) -> str | None:
        found = self._by_project.get(project_id)
        if found is not None:
            return found
        if self._listed is None:
            listing = self._client.list_projects(self._key, org_id=self._org_id)
            self._listed = {
                p.id: self._by_name[p.name] for p in listing.projects if p.name in self._by_name
            }
        return self._listed.get(project_id)


def _sync_org(
    client: NeonClient,
    key: str,
    store: UsageStore,
    names: _Names,
    org_id: str,
    granularity: str,
    window: tuple[datetime, datetime, bool],
    now: datetime,
    settle: timedelta,
    budget: list[int],
    page_size: int,
) -> OrgSync:
    begin, finish, clamped = window
    note = f"history before {iso(begin)} is no longer kept at {granularity}" if clamped else ""
    query = ConsumptionQuery(org_id, iso(begin), iso(finish), granularity, limit=page_size)
    pages = samples = 0
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        if budget[0] == 0:
            mark = store.synced_until(org_id, granularity)
            note = "the request budget is spent; the next run continues"
            return OrgSync(org_id, begin, finish, pages, samples, mark, complete=False, note=note)
        budget[0] -= 1
        try:
            page = fetch_consumption_page(client, key, query, cursor)
        except Forbidden as exc:
            return OrgSync(org_id, begin, finish, note=f"skipped: {exc}")
        pages += 1
        rows = [
            UsageSample(
                project_id=project.project_id,
                metric=metric,
                granularity=granularity,
                timeframe_start=parse_time(frame.start),
                timeframe_end=parse_time(frame.end),
                value=value,
                org_id=org_id,
                tenant=names.tenant(project.project_id),
            )
            for project in page.projects
            for frame in project.timeframes()
            for metric, value in frame.values.items()
        ]
        samples += store.upsert(rows)
        cursor = page.cursor
        if not page.projects or cursor is None or len(page.projects) < query.limit:
            break
        if cursor in seen:  # a server bug must not become an endless loop
            break
        seen.add(cursor)
    final = min(finish, floor_time(now - settle, granularity))
    mark = store.synced_until(org_id, granularity)
    if final > begin and (mark is None or begin <= mark):
        mark = store.mark_synced(org_id, granularity, final)
    return OrgSync(org_id, begin, finish, pages, samples, mark, note=note)


def quota_status(
    env: Environment, desired: DesiredFleet, *, thresholds: tuple[float, ...] | None = None
) -> QuotaReport:
    """One ``GET /projects/{id}`` per tenant: its period counters against its quota."""
    levels = tuple(sorted(thresholds or desired.fleet.quota_thresholds))
    if not levels or any(not 0 < t <= 10 for t in levels):
        raise UsageError("quota thresholds must be fractions above 0, e.g. 0.8 and 0.95")
    client, credentials, ledger = env.client(), env.credentials(), env.ledger()
    owned = ledger.view().tenants
    before = client.stats.snapshot().total_requests
    listed: dict[str, dict[str, str]] = {}
    results = []
    for name, tenant in sorted(desired.tenants.items()):
        record = owned.get(name)
        org_id = record.org_id if record else tenant.org_id
        project_id = record.project_id if record else None
        if project_id is None:
            if org_id not in listed:
                listing = client.list_projects(credentials.org_key(org_id), org_id=org_id)
                listed[org_id] = {p.name: p.id for p in listing.projects}
            project_id = listed[org_id].get(tenant.project_name)
        if project_id is None:
            results.append(TenantQuota(name, tenant.tier, org_id, None, note="no project yet"))
            continue
        project = client.get_project(credentials.org_key(org_id), project_id)
        uses = tuple(
            QuotaUse(counter, getattr(project, counter) or 0, _limit(tenant.quota, counter))
            for counter in PERIOD_COUNTERS
        )
        worst = max((u.ratio for u in uses if u.ratio is not None), default=None)
        results.append(
            TenantQuota(
                name,
                tenant.tier,
                project.org_id or org_id,
                project_id,
                uses,
                project.consumption_period_end,
                passed_threshold(worst, levels),
            )
        )
    requests = client.stats.snapshot().total_requests - before
    return QuotaReport(levels, tuple(results), requests)


def _limit(quota: Mapping[str, object], counter: str) -> int:
    sourced = quota.get(counter)
    value = getattr(sourced, "value", 0) if sourced is not None else 0
    return int(value) if isinstance(value, int) else 0
