"""``GET /consumption_history/v2/projects``: typed pages of per-project consumption.

This is Neon's billing-aligned source (the legacy account endpoint is gone). The route draws
from the limiter's consumption budget (about 50 requests/minute; ``ratelimit.py`` classifies
every template under ``/consumption_history``), and 429s are retried like any other, so a
caller walking many pages never loses one. Times are RFC 3339 strings, UTC, second precision.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from reconciler.core.usage import METRICS
from reconciler.errors import UsageError
from reconciler.neon import fields as f
from reconciler.neon.client import NeonClient

ROUTE = "/consumption_history/v2/projects"
GRANULARITIES: tuple[str, ...] = ("hourly", "daily", "monthly")
MAX_PAGE = 100
MAX_PROJECT_IDS = 100


@dataclass(frozen=True, slots=True)
class Timeframe:
    """One timeframe's metric values (metrics Neon left out are zero)."""

    start: str
    end: str
    values: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Period:
    """A billing period of one project; ``end`` only for past periods."""

    period_id: str
    plan: str
    start: str
    end: str | None
    timeframes: tuple[Timeframe, ...]


@dataclass(frozen=True, slots=True)
class ProjectConsumption:
    """One project's consumption in the requested window."""

    project_id: str
    periods: tuple[Period, ...]

    def timeframes(self) -> Iterator[Timeframe]:
        """Every timeframe of every period, oldest first."""
        for period in self.periods:
            yield from period.timeframes


@dataclass(frozen=True, slots=True)
class ConsumptionPage:
    """One page: up to ``limit`` projects, newest first, and the next page's cursor."""

    projects: tuple[ProjectConsumption, ...]
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ConsumptionQuery:
    """What to ask for; validated here so a bad query never costs a rate-limited call."""

    org_id: str
    start: str
    end: str
    granularity: str
    metrics: tuple[str, ...] = METRICS
    project_ids: tuple[str, ...] = ()
    limit: int = MAX_PAGE

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise UsageError(f"granularity must be one of {', '.join(GRANULARITIES)}")
        unknown = sorted(set(self.metrics) - set(METRICS))
        if unknown or not self.metrics:
            raise UsageError(f"unknown consumption metric(s): {', '.join(unknown) or '(none)'}")
        if len(self.project_ids) > MAX_PROJECT_IDS:
            raise UsageError(f"at most {MAX_PROJECT_IDS} project ids per consumption query")
        if not 1 <= self.limit <= MAX_PAGE:
            raise UsageError(f"the consumption page size must be 1 to {MAX_PAGE}")

    def params(self, cursor: str | None) -> dict[str, str | int | None]:
        """Query parameters; lists are comma-joined, as Neon's own SDK sends them."""
        return {
            "org_id": self.org_id,
            "from": self.start,
            "to": self.end,
            "granularity": self.granularity,
            "metrics": ",".join(self.metrics),
            "project_ids": ",".join(self.project_ids) or None,
            "limit": self.limit,
            "cursor": cursor,
        }


def parse_consumption_page(body: object) -> ConsumptionPage:
    """Parse a 200 answer of ``GET /consumption_history/v2/projects``."""
    data = f.as_object(body, "consumption")
    projects = []
    for item in f.object_list(data, "projects", "consumption"):
        periods = []
        for period in f.object_list(item, "periods", "consumption project"):
            frames = []
            for frame in f.object_list(period, "consumption", "consumption period"):
                values: dict[str, int] = {}
                for metric in f.object_list(frame, "metrics", "consumption timeframe"):
                    name = f.required_str(metric, "metric_name", "consumption metric")
                    values[name] = values.get(name, 0) + f.required_int(
                        metric, "value", "consumption metric"
                    )
                frames.append(
                    Timeframe(
                        start=f.required_str(frame, "timeframe_start", "consumption timeframe"),
                        end=f.required_str(frame, "timeframe_end", "consumption timeframe"),
                        values=values,
                    )
                )
            periods.append(
                Period(
                    period_id=f.required_str(period, "period_id", "consumption period"),
                    plan=f.optional_str(period, "period_plan", "consumption period") or "",
                    start=f.required_str(period, "period_start", "consumption period"),
                    end=f.optional_str(period, "period_end", "consumption period"),
                    timeframes=tuple(frames),
                )
            )
        projects.append(
            ProjectConsumption(
                project_id=f.required_str(item, "project_id", "consumption project"),
                periods=tuple(periods),
            )
        )
    pagination = f.optional_object(data, "pagination", "consumption")
    cursor = f.optional_str(pagination, "cursor", "pagination") if pagination else None
    return ConsumptionPage(tuple(projects), cursor or None)


def fetch_consumption_page(
    client: NeonClient, key: str, query: ConsumptionQuery, cursor: str | None = None
) -> ConsumptionPage:
    """One page of consumption (one request through the consumption budget)."""
    return parse_consumption_page(client.request(key, "GET", ROUTE, params=query.params(cursor)))
