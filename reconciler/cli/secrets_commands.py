"""``fleet secrets rotate``: new role passwords, delivered to the secret sink."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.app import secret_rotation as rotation_use_cases
from reconciler.cli.keys_commands import rotate_and_report
from reconciler.cli.state import State, pass_state


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
    rotate_and_report(state, path, rotation_use_cases.rotate, tenant, roles, lock_timeout, fmt)
