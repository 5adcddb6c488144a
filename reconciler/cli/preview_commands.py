"""``fleet preview``: runtime previews per agent run (docs/previews.md).

The agent platform calls these at run time, not from git. Every subcommand takes the manifests
with ``-f/--fleet PATH`` (or ``$FLEET_MANIFESTS``); ``--format json`` makes stdout
machine-readable, progress and notes go to stderr. The connection secret is never printed: it
goes to the Fleet's secret sink.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from reconciler.app import planning
from reconciler.app.environment import Environment
from reconciler.app.previews import CreateOptions, Previews
from reconciler.apply.preview_secrets import secret_name
from reconciler.cli.state import State, pass_state
from reconciler.core.catalog import DEFAULT_BRANCH
from reconciler.errors import ApplyError
from reconciler.ledger.previews import PreviewRecord

OUTPUT = click.Choice(["text", "json"])
#: Previews wait this long for another apply's lock by default: agent runs start concurrently.
DEFAULT_LOCK_TIMEOUT = 120.0


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--format", "fmt", type=OUTPUT, default="text", show_default=True)(
        command
    )
    return click.option(
        "-f",
        "--fleet",
        "fleet_path",
        required=True,
        envvar="FLEET_MANIFESTS",
        type=click.Path(path_type=Path, exists=True),
        help="The manifests (file or directory); env FLEET_MANIFESTS.",
    )(command)


def _lock_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--lock-timeout",
        type=click.FloatRange(0),
        default=DEFAULT_LOCK_TIMEOUT,
        show_default=True,
        help="Seconds to wait for the apply lock.",
    )(command)


@contextmanager
def _service(state: State, fleet_path: Path) -> Iterator[Previews]:
    desired = planning.validate(fleet_path)
    with Environment(state.options, desired.fleet) as env:
        yield Previews(env, desired)


def _line(record: PreviewRecord) -> str:
    expires = record.to_json()["expires_at"] or "never"
    return (
        f"{record.tenant}\t{record.run_id}\t{record.status.value}\t"
        f"{record.branch_id or '-'}\t{record.endpoint_id or '-'}\texpires {expires}"
    )


@click.group()
def preview() -> None:
    """Runtime previews: a branch with its own compute per agent run, expiring on its own."""


@preview.command()
@click.argument("tenant")
@click.option("--run-id", required=True, help="The agent run; the same id never makes two.")
@click.option("--ttl", help="Lifetime, e.g. 2h (default: the tier's previews.ttl, else 2h).")
@click.option("--parent", default=DEFAULT_BRANCH, show_default=True, help="Branch to branch from.")
@click.option("--from-checkpoint", type=int, help="Branch from this checkpoint's snapshot.")
@click.option("--database", help="Database of the connection secret (default: the only one).")
@click.option("--role", help="Role of the connection secret (default: the database's owner).")
@_lock_option
@_common
@pass_state
def create(
    state: State,
    tenant: str,
    run_id: str,
    ttl: str | None,
    parent: str,
    from_checkpoint: int | None,
    database: str | None,
    role: str | None,
    lock_timeout: float,
    fleet_path: Path,
    fmt: str,
) -> None:
    """Create TENANT's preview for an agent run and deliver its connection secret to the sink."""
    options = CreateOptions(run_id, ttl, parent, from_checkpoint, database, role)
    with _service(state, fleet_path) as previews:
        outcome = previews.create(
            tenant,
            options,
            lock_timeout=lock_timeout,
            on_event=state.output.progress(1, json_lines=fmt == "json"),
        )
    record = outcome.record
    if fmt == "json":
        click.echo(json.dumps({**record.to_json(), "created": outcome.created}, sort_keys=True))
        return
    verb = "created" if outcome.created else "exists already (nothing created)"
    click.echo(f"preview {record.run_id} of {tenant} {verb}: {_line(record)}")
    state.output.note(
        f"connection secret: in the secret sink as {tenant}/{secret_name(record.run_id)}"
    )


@preview.command("list")
@click.argument("tenant", required=False)
@_common
@pass_state
def list_previews(state: State, tenant: str | None, fleet_path: Path, fmt: str) -> None:
    """List previews (TENANT's only when given), oldest first."""
    with _service(state, fleet_path) as previews:
        records = previews.records(tenant)
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in records], sort_keys=True))
        return
    for record in records:
        click.echo(_line(record))
    if not records:
        state.output.note("no previews")


@preview.command()
@click.argument("tenant")
@click.option("--run-id", required=True, help="The agent run whose preview to delete.")
@_lock_option
@_common
@pass_state
def delete(
    state: State, tenant: str, run_id: str, lock_timeout: float, fleet_path: Path, fmt: str
) -> None:
    """Delete TENANT's preview of an agent run: its branch, compute and sink file."""
    with _service(state, fleet_path) as previews:
        removal = previews.delete(
            tenant,
            run_id,
            lock_timeout=lock_timeout,
            on_event=state.output.progress(1, json_lines=fmt == "json"),
        )
    if fmt == "json":
        click.echo(json.dumps({"deleted": removal.record.to_json()}, sort_keys=True))
    else:
        click.echo(f"preview {run_id} of {tenant} deleted")


@preview.command()
@click.option("--idle-after", help="Also delete previews idle this long (default: the tier's).")
@_lock_option
@_common
@pass_state
def gc(
    state: State, idle_after: str | None, lock_timeout: float, fleet_path: Path, fmt: str
) -> None:
    """Delete expired previews, and idle ones where an idle limit is set; report storage freed."""
    with _service(state, fleet_path) as previews:
        outcome = previews.gc(
            idle_after=idle_after,
            lock_timeout=lock_timeout,
            on_event=state.output.progress(0, json_lines=fmt == "json"),
        )
    removed = [
        {**r.record.to_json(), "reason": r.reason, "freed_bytes": r.logical_size}
        for r in outcome.removed
    ]
    failed = [{**r.record.to_json(), "reason": r.reason} for r in outcome.failed]
    if fmt == "json":
        report = {
            "removed": removed,
            "failed": failed,
            "kept": outcome.kept,
            "freed_bytes": outcome.freed_bytes,
        }
        click.echo(json.dumps(report, sort_keys=True))
    else:
        for item in removed:
            click.echo(
                f"removed {item['tenant']}/{item['run_id']} ({item['reason']}, "
                f"{item['freed_bytes']} bytes)"
            )
        click.echo(
            f"{len(removed)} preview(s) removed, {len(failed)} failed, {outcome.kept} kept; "
            f"storage freed: {outcome.freed_bytes} bytes"
        )
    if failed:
        raise ApplyError(len(failed), 0, len(removed))
