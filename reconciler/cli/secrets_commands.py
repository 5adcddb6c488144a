"""``fleet secrets rotate``: new role passwords, delivered to the secret sink."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.app import planning
from reconciler.app import secret_rotation as rotation_use_cases
from reconciler.app.environment import Environment
from reconciler.apply.executor import Status
from reconciler.cli.state import State, pass_state
from reconciler.errors import ApplyError
from reconciler.render.output import apply_summary


@click.group()
def secrets() -> None:
    """Connection secrets of tenants (DATABASE_URL and its parts)."""


@secrets.command("rotate")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("tenant")
@click.option("--role", "roles", multiple=True, help="Rotate only this role (repeatable).")
@click.option("--lock-timeout", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def rotate(
    state: State,
    path: Path,
    tenant: str,
    roles: Sequence[str],
    lock_timeout: float,
    fmt: str,
) -> None:
    """Reset the passwords of TENANT's roles and deliver its connection secrets anew."""
    desired = planning.validate(path)
    with Environment(state.options, desired.fleet) as env:
        outcome = rotation_use_cases.rotate(
            env,
            desired,
            tenant,
            roles,
            lock_timeout=lock_timeout,
            on_event=state.output.progress(0, json_lines=fmt == "json"),
        )
    click.echo(apply_summary(outcome, fmt))
    report = outcome.report
    if not report.ok:
        raise ApplyError(
            report.count(Status.FAILED),
            report.count(Status.SKIPPED),
            report.count(Status.SUCCEEDED),
        )
