"""``fleet checkpoint``: compound checkpoints of tenants and their restore (docs/checkpoints.md).

Every subcommand takes the manifests with ``-f/--fleet PATH`` (or ``$FLEET_MANIFESTS``): they
name the orgs, keys, ledger and each tier's checkpoint policy. ``--format json`` makes stdout
machine-readable; notes go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from reconciler.app import planning
from reconciler.app.checkpoint_jobs import GcReport, collect_garbage, schedule_checkpoints
from reconciler.app.checkpoints import (
    Checkpoints,
    CreateOptions,
    RestoreOutcome,
    RestoreStep,
)
from reconciler.app.environment import Environment
from reconciler.app.source_revision import source_revision
from reconciler.cli.state import State, pass_state
from reconciler.errors import UsageError
from reconciler.ledger.checkpoints import CheckpointStatus
from reconciler.manifests.timing import parse_duration

OUTPUT = click.Choice(["text", "json"])
#: Exit code of ``schedule`` when some tenants could not be checkpointed (as apply's 4).
SCHEDULE_FAILED_EXIT = 4


def _fleet_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-f",
        "--fleet",
        "fleet_path",
        required=True,
        envvar="FLEET_MANIFESTS",
        type=click.Path(path_type=Path, exists=True),
        help="The manifests (file or directory); env FLEET_MANIFESTS.",
    )(command)


def _format_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--format", "fmt", type=OUTPUT, default="text", show_default=True)(command)


@contextmanager
def _service(state: State, fleet_path: Path) -> Iterator[Checkpoints]:
    desired = planning.validate(fleet_path)
    with Environment(state.options, desired.fleet) as env:
        yield Checkpoints(env, desired)


@click.group()
def checkpoint() -> None:
    """Compound checkpoints: a Neon snapshot bound to revision, secrets, deploy and run."""


@checkpoint.command()
@click.argument("tenant")
@_fleet_option
@click.option("--source-rev", help="Source revision (default: the manifests' git HEAD).")
@click.option("--secrets-version", help="Secrets/env version to roll back with.")
@click.option("--deploy-url", help="Deploy or preview URL of this state.")
@click.option("--run-id", help="The agent run this checkpoint precedes.")
@click.option("--meta", "meta", multiple=True, metavar="K=V", help="Extra metadata (repeatable).")
@click.option("--branch", help="Root branch to snapshot (default: the default branch).")
@click.option("--expires-in", help="Let Neon delete the snapshot after e.g. 7d, 12h.")
@_format_option
@pass_state
def create(
    state: State,
    tenant: str,
    fleet_path: Path,
    source_rev: str | None,
    secrets_version: str | None,
    deploy_url: str | None,
    run_id: str | None,
    meta: Sequence[str],
    branch: str | None,
    expires_in: str | None,
    fmt: str,
) -> None:
    """Snapshot TENANT's branch, wait for Neon, record the checkpoint; print its id."""
    options = CreateOptions(
        source_rev=source_revision(source_rev, fleet_path),
        secrets_version=secrets_version,
        deploy_url=deploy_url,
        run_id=run_id,
        meta=_meta(meta),
        branch=branch,
        expires_in_seconds=_duration(expires_in),
    )
    with _service(state, fleet_path) as service:
        record = service.create(tenant, options)
    if fmt == "json":
        click.echo(json.dumps(record.to_json()))
    else:
        click.echo(record.id)
        state.output.note(
            f"checkpoint #{record.id} of {tenant}: snapshot {record.snapshot_id} of branch "
            f"{record.branch_name} ({record.branch_id}) at {record.source_rev}"
        )


def _meta(pairs: Sequence[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--meta takes KEY=VALUE, not {pair!r}")
        meta[name.strip()] = value
    return meta


def _duration(text: str | None) -> int | None:
    if text is None:
        return None
    seconds = parse_duration(text)
    if seconds is None:
        raise UsageError(f"--expires-in takes a duration such as 12h or 7d, not {text!r}")
    return seconds


@checkpoint.command(name="list")
@click.argument("tenant", required=False)
@_fleet_option
@_format_option
@pass_state
def list_command(state: State, tenant: str | None, fleet_path: Path, fmt: str) -> None:
    """List checkpoints, newest first (only TENANT's when given)."""
    with _service(state, fleet_path) as service:
        records = service.list(tenant)
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in records]))
        return
    if not records:
        click.echo("No checkpoints.")
        return
    click.echo(f"{'ID':>6}  {'TENANT':<20} {'STATUS':<10} {'CREATED':<20} {'BRANCH':<12} REV")
    for r in records:
        click.echo(
            f"{r.id:>6}  {r.tenant:<20} {r.status.value:<10} {_when(r.created_at):<20} "
            f"{r.branch_name:<12} {r.source_rev[:12]}"
        )


@checkpoint.command()
@click.argument("checkpoint_id", metavar="ID", type=int)
@_fleet_option
@_format_option
@pass_state
def show(state: State, checkpoint_id: int, fleet_path: Path, fmt: str) -> None:
    """Show one checkpoint record."""
    with _service(state, fleet_path) as service:
        record = service.show(checkpoint_id)
    click.echo(json.dumps(record.to_json(), indent=None if fmt == "json" else 2))


@checkpoint.command()
@click.argument("checkpoint_id", metavar="ID", type=int)
@_fleet_option
@click.option("--preview", is_flag=True, help="Restore to a preview branch; do not finalize.")
@click.option("--keep-old", is_flag=True, help="Keep the '<name> (old)' branch.")
@click.option(
    "--hook",
    envvar="FLEET_CHECKPOINT_HOOK",
    help="Command run with the record as JSON on stdin before Neon is touched; "
    "its failure stops the restore (env FLEET_CHECKPOINT_HOOK).",
)
@_format_option
@pass_state
def restore(
    state: State,
    checkpoint_id: int,
    fleet_path: Path,
    preview: bool,
    keep_old: bool,
    hook: str | None,
    fmt: str,
) -> None:
    """Roll a tenant back to checkpoint ID (see docs/checkpoints.md for the order of steps)."""

    def report(step: RestoreStep) -> None:
        if fmt == "json":
            click.echo(json.dumps({"step": step.name, **step.detail}))
        else:
            shown = ", ".join(f"{k}={v}" for k, v in step.detail.items() if v not in (None, ""))
            click.echo(f"{step.name}: {shown}" if shown else step.name)

    with _service(state, fleet_path) as service:
        outcome = service.restore(
            checkpoint_id, preview=preview, keep_old=keep_old, hook=hook, on_step=report
        )
    record = outcome.checkpoint
    if fmt == "json":
        click.echo(json.dumps({"step": "record", "checkpoint": record.to_json()}))
    else:
        state.output.note(_restored_text(outcome))


def _restored_text(outcome: RestoreOutcome) -> str:
    """What a restore did, in words: a preview leaves the branch alone and makes its own."""
    record = outcome.checkpoint
    if record.status is CheckpointStatus.PREVIEWED:
        name, branch_id = outcome.restored_branch_name, record.restored_branch_id
        # Neon names a branch created without a name after its id: do not say it twice.
        shown = f"{name} ({branch_id})" if name and name != branch_id else str(branch_id)
        return (
            f"checkpoint #{record.id} previewed: {record.tenant} preview branch {shown} "
            f"created from snapshot {record.snapshot_id}; branch {record.branch_name} is unchanged"
        )
    kept = outcome.kept_old_reason
    return (
        f"checkpoint #{record.id} {record.status.value}: {record.tenant} branch "
        f"{record.branch_name} is now {record.restored_branch_id}"
        + (f"; kept the old branch ({kept})" if kept else "")
    )


@checkpoint.command()
@click.argument("tenant", required=False)
@_fleet_option
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@_format_option
@pass_state
def gc(state: State, tenant: str | None, fleet_path: Path, dry_run: bool, fmt: str) -> None:
    """Delete expired checkpoints and those the tier's retention no longer keeps."""
    with _service(state, fleet_path) as service:
        report = collect_garbage(service, tenant, dry_run=dry_run)
    click.echo(_gc_text(report) if fmt == "text" else json.dumps(_gc_json(report)))


def _gc_json(report: GcReport) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "deleted": [
            {"id": c.checkpoint.id, "tenant": c.checkpoint.tenant, "reason": c.reason,
             "snapshot_id": c.checkpoint.snapshot_id, "freed_bytes": c.freed_bytes}
            for c in report.collected
        ],
        "freed_bytes": report.freed_bytes,
        "unsized": report.unsized,
        "settled": {str(k): v for k, v in report.settled.items()},
    }  # fmt: skip


def _gc_text(report: GcReport) -> str:
    verb = "would be deleted" if report.dry_run else "deleted"
    lines = [f"checkpoint #{cid} left by an interrupted create: {how}"
             for cid, how in report.settled.items()]  # fmt: skip
    lines += [
        f"{verb} #{c.checkpoint.id} {c.checkpoint.tenant} ({c.reason})" for c in report.collected
    ]
    sized = len(report.collected) - report.unsized
    lines.append(
        f"{len(report.collected)} checkpoint(s) {verb}; storage freed: {report.freed_bytes} "
        f"bytes (Neon reported sizes for {sized} of {len(report.collected)})"
    )
    return "\n".join(lines)


@checkpoint.command()
@_fleet_option
@click.option(
    "--max-per-minute",
    type=click.FloatRange(min=1),
    help="Request budget of this run (on top of the account-wide limiter).",
)
@click.option("--source-rev", help="Source revision (default: the manifests' git HEAD).")
@click.option("--limit", type=click.IntRange(min=1), help="Most checkpoints to take this run.")
@click.option("--parallelism", type=click.IntRange(1, 64), help="Concurrent tenants.")
@_format_option
@pass_state
def schedule(
    state: State,
    fleet_path: Path,
    max_per_minute: float | None,
    source_rev: str | None,
    limit: int | None,
    parallelism: int | None,
    fmt: str,
) -> None:
    """Checkpoint every tenant whose tier's checkpoints.every has passed (for cron)."""
    revision = source_revision(source_rev, fleet_path)
    with _service(state, fleet_path) as service:
        report = schedule_checkpoints(
            service,
            source_rev=revision,
            max_per_minute=max_per_minute,
            limit=limit,
            parallelism=parallelism or service.desired.fleet.policy.parallelism,
        )
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "created": [{"id": c.id, "tenant": c.tenant} for c in report.created],
                    "not_due": list(report.not_due),
                    "deferred": list(report.deferred),
                    "failed": dict(report.failed),
                    "taken_elsewhere": list(report.taken_elsewhere),
                    "settled": {str(k): v for k, v in report.settled.items()},
                    "requests": report.requests,
                    "seconds": round(report.seconds, 3),
                }
            )
        )
    else:
        for cid, how in report.settled.items():
            click.echo(f"checkpoint #{cid} left by an interrupted create: {how}")
        for name, message in report.failed.items():
            click.echo(f"failed {name}: {message}")
        elsewhere = (
            f", {len(report.taken_elsewhere)} taken by another run"
            if report.taken_elsewhere
            else ""
        )
        click.echo(
            f"{len(report.created)} checkpoint(s) taken, {len(report.not_due)} not due, "
            f"{len(report.deferred)} deferred, {len(report.failed)} failed{elsewhere} "
            f"({report.requests} API requests in {report.seconds:.1f}s)"
        )
    if report.failed:
        sys.exit(SCHEDULE_FAILED_EXIT)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
