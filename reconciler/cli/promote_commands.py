"""``fleet promote``: a tenant's dev branch promoted to production by snapshots (docs/promotion.md).

Every subcommand takes TENANT and the manifests (``-f/--fleet PATH``); ``--branch`` names the dev
branch (default ``dev``) and ``--to`` production (default ``main``). Each step is printed as it
finishes (one JSON object per line with ``--format json``), then the promotion record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from reconciler.app import planning
from reconciler.app.checkpoints import RestoreStep
from reconciler.app.environment import Environment
from reconciler.app.promotion import PromoteOptions, Promotions
from reconciler.app.source_revision import source_revision
from reconciler.cli.checkpoint_commands import _fleet_option, _format_option, _meta
from reconciler.cli.state import State, pass_state
from reconciler.ledger.promotions import Promotion


@contextmanager
def _service(state: State, fleet_path: Path) -> Iterator[Promotions]:
    desired = planning.validate(fleet_path)
    with Environment(state.options, desired.fleet) as env:
        yield Promotions(env, desired)


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        (
            click.argument("tenant"),
            _fleet_option,
            click.option("--branch", default="dev", show_default=True, help="The dev branch."),
            click.option("--to", default="main", show_default=True, help="Production's branch."),
            click.option("--hook", envvar="FLEET_PROMOTE_HOOK",
                         help="Command run first, with the promotion as JSON on stdin; its "
                         "failure stops everything (env FLEET_PROMOTE_HOOK)."),
            click.option("--keep-old", is_flag=True,
                         help="Keep the `(old)` branch a restore leaves."),
            _format_option,
        )
    ):  # fmt: skip
        command = option(command)
    return command


def _metadata(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        (
            click.option("--source-rev",
                         help="Source revision (default: the manifests' git HEAD)."),
            click.option("--run-id", help="The agent run behind this promotion."),
            click.option("--meta", "meta", multiple=True, metavar="K=V",
                         help="Extra metadata for the checkpoints (repeatable)."),
        )
    ):  # fmt: skip
        command = option(command)
    return command


@click.group()
def promote() -> None:
    """Bootstrap a dev branch, promote it to production, refresh it, roll production back."""


def _execute(
    state: State, fmt: str, fleet_path: Path, tenant: str, command: str, options: PromoteOptions
) -> None:
    def report(step: RestoreStep) -> None:
        if fmt == "json":
            click.echo(json.dumps({"step": step.name, **step.detail}))
        else:
            shown = ", ".join(f"{k}={v}" for k, v in step.detail.items() if v not in (None, ""))
            click.echo(f"{step.name}: {shown}" if shown else step.name)

    with _service(state, fleet_path) as service:
        promotion = getattr(service, command)(tenant, options, report)
    if fmt == "json":
        click.echo(json.dumps({"step": "record", "promotion": promotion.to_json()}))
    else:
        state.output.note(_summary(command, promotion))


def _summary(command: str, p: Promotion) -> str:
    if command == "rollback":
        return (
            f"promotion #{p.id} of {p.tenant} rolled back: {p.target_branch} restored from "
            f"checkpoint #{p.rollback_checkpoint_id}"
        )
    if command == "bootstrap":
        return f"{p.tenant}: branch {p.target_branch} made from {p.source_branch} (#{p.id})"
    return (
        f"promotion #{p.id} ({p.kind.value}) of {p.tenant} done: {p.target_branch} now carries "
        f"{p.source_branch}'s state as {p.new_branch_id}"
        + (f"; roll back with checkpoint #{p.rollback_checkpoint_id}" if command == "run" else "")
    )


def _options(
    fleet_path: Path,
    branch: str,
    to: str,
    hook: str | None,
    keep_old: bool,
    source_rev: str | None = None,
    run_id: str | None = None,
    meta: Sequence[str] = (),
) -> PromoteOptions:
    return PromoteOptions(
        branch=branch, to=to, source_rev=source_revision(source_rev, fleet_path), run_id=run_id,
        meta=_meta(meta), hook=hook, keep_old=keep_old,
    )  # fmt: skip


@promote.command()
@_common
@_metadata
@pass_state
def bootstrap(state: State, /, tenant: str, fleet_path: Path, fmt: str, **given: Any) -> None:
    """Make TENANT's dev branch from production's latest checkpoint (or a new one)."""
    _execute(state, fmt, fleet_path, tenant, "bootstrap", _options(fleet_path, **given))


@promote.command(name="run")
@_common
@_metadata
@pass_state
def run_command(state: State, /, tenant: str, fleet_path: Path, fmt: str, **given: Any) -> None:
    """Checkpoint production, snapshot dev, restore it onto production."""
    _execute(state, fmt, fleet_path, tenant, "run", _options(fleet_path, **given))


@promote.command()
@_common
@_metadata
@pass_state
def refresh(state: State, /, tenant: str, fleet_path: Path, fmt: str, **given: Any) -> None:
    """Re-create TENANT's dev branch from production's state (same name and compute)."""
    _execute(state, fmt, fleet_path, tenant, "refresh", _options(fleet_path, **given))


@promote.command()
@_common
@pass_state
def rollback(state: State, /, tenant: str, fleet_path: Path, fmt: str, **given: Any) -> None:
    """Restore production from the checkpoint TENANT's last promotion took."""
    options = PromoteOptions(**given)
    _execute(state, fmt, fleet_path, tenant, "rollback", options)
