"""``fleet usage sync|report|quota``: consumption into the ledger, cost reports, quota alerts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click

from reconciler.app import planning
from reconciler.app.environment import Environment
from reconciler.app.usage import quota_status, sync_usage
from reconciler.app.usage_report import usage_report as build_usage_report
from reconciler.cli.state import State, pass_state
from reconciler.core.usage import GROUPINGS, parse_time
from reconciler.render.usage import FORMATS, render_quota, render_report, render_sync
from reconciler.render.usage_chart import write_chart

GRANULARITY = click.Choice(["hourly", "daily", "monthly"])
_PATH = click.argument("path", type=click.Path(path_type=Path))


def _time(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


_FROM = click.option("--from", "start", callback=_time, help="Window start (RFC 3339 or date).")
_TO = click.option("--to", "end", callback=_time, help="Window end (default: now).")


@click.group()
def usage() -> None:
    """Consumption, cost and quota utilisation of the fleet."""


@usage.command("sync")
@_PATH
@_FROM
@_TO
@click.option("--granularity", type=GRANULARITY, default="hourly", show_default=True)
@click.option("--max-requests", type=click.IntRange(1), help="At most this many consumption calls.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def sync(
    state: State,
    path: Path,
    start: datetime | None,
    end: datetime | None,
    granularity: str,
    max_requests: int | None,
    fmt: str,
) -> None:
    """Store new consumption of every managed org in the ledger (safe to re-run)."""
    desired = planning.validate(path)
    with Environment(state.options, desired.fleet) as env:
        result = sync_usage(
            env, desired, granularity=granularity, start=start, end=end, max_requests=max_requests
        )
    click.echo(render_sync(result, fmt))


@usage.command("report")
@_PATH
@click.option("--by", type=click.Choice(GROUPINGS), default="tenant", show_default=True)
@_FROM
@_TO
@click.option("--granularity", type=GRANULARITY, default="hourly", show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--top", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--chart", type=click.Path(path_type=Path), help="Also draw a chart (FILE.svg).")
@pass_state
def report(
    state: State,
    path: Path,
    by: str,
    start: datetime | None,
    end: datetime | None,
    granularity: str,
    fmt: str,
    top: int,
    chart: Path | None,
) -> None:
    """Totals per metric, top consumers and cost per tenant, tier or org (from the ledger)."""
    desired = planning.validate(path)
    with Environment(state.options, desired.fleet) as env:
        result = build_usage_report(
            env, desired, by=by, start=start, end=end, granularity=granularity, top=top
        )
    if chart is not None:
        write_chart(result, chart)
        state.output.note(f"chart written to {chart}")
    click.echo(render_report(result, fmt), nl=False)


@usage.command("quota")
@_PATH
@click.option(
    "--threshold",
    "thresholds",
    type=click.FloatRange(0.01, 10),
    multiple=True,
    help="Flag at this fraction of the quota (repeatable; default: alerts.quota_thresholds).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when a tenant is flagged.")
@pass_state
def quota(
    state: State, path: Path, thresholds: Sequence[float], fmt: str, detailed_exitcode: bool
) -> None:
    """Each tenant's current-period usage against its effective quota."""
    desired = planning.validate(path)
    with Environment(state.options, desired.fleet) as env:
        result = quota_status(env, desired, thresholds=tuple(thresholds) or None)
    click.echo(render_quota(result, fmt), nl=False)
    state.output.note(f"{result.requests} API call(s)")
    if detailed_exitcode and result.flagged:
        sys.exit(2)
