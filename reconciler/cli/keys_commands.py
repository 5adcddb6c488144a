"""``fleet keys rotate``: replace a tenant's project-scoped API keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import click

from reconciler.app import keys as key_use_cases
from reconciler.app import planning
from reconciler.app.applying import ApplyOutcome
from reconciler.app.environment import Environment
from reconciler.apply.executor import Status
from reconciler.cli.state import State, pass_state
from reconciler.errors import ApplyError
from reconciler.render.output import apply_summary


@click.group()
def keys() -> None:
    """Project-scoped API keys of tenants."""


@keys.command("rotate")
@click.argument("path", type=click.Path(path_type=Path))
@click.argument("tenant")
@click.option("--key", "key_names", multiple=True, help="Rotate only this key (repeatable).")
@click.option("--lock-timeout", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def rotate(
    state: State,
    path: Path,
    tenant: str,
    key_names: Sequence[str],
    lock_timeout: float,
    fmt: str,
) -> None:
    """Mint TENANT's keys anew, deliver them to the secret sink, then revoke the old ones."""
    rotate_and_report(state, path, key_use_cases.rotate, tenant, key_names, lock_timeout, fmt)


def rotate_and_report(
    state: State,
    path: Path,
    rotate: Callable[..., ApplyOutcome],
    tenant: str,
    names: Sequence[str],
    lock_timeout: float,
    fmt: str,
) -> None:
    """Run a rotation use case (``keys rotate``, ``secrets rotate``) and print its summary;
    exit 4 when a step failed, as ``fleet apply`` does."""
    desired = planning.validate(path)
    with Environment(state.options, desired.fleet) as env:
        outcome = rotate(
            env,
            desired,
            tenant,
            names,
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
