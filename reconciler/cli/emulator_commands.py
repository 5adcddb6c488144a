"""``fleet emulator serve``: the local Neon API emulator on a loopback port."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from reconciler.errors import UsageError

#: The environment variable ``--admin-token`` is read from (kept out of ``ps`` output).
ADMIN_TOKEN_ENV = "FLEET_EMULATOR_ADMIN_TOKEN"


@click.group()
def emulator() -> None:
    """The local Neon API emulator."""


@emulator.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything beyond loopback exposes the API to the network "
    "(a warning says so); the /_emulator/ admin API still answers loopback clients only "
    "unless --admin-token is set.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path),
    default="emulator.db",
    show_default=True,
    help="SQLite file that keeps the emulator's state.",
)
@click.option(
    "--seed",
    "seed_path",
    type=click.Path(path_type=Path),
    help="Seed file: orgs, keys, projects, limits, faults (see the README).",
)
@click.option(
    "--admin-token",
    envvar=ADMIN_TOKEN_ENV,
    help=f"Let clients beyond loopback use the /_emulator/ admin API when they send this token "
    f"in the X-Emulator-Admin-Token header (also ${ADMIN_TOKEN_ENV}).",
)
def emulator_serve(
    host: str, port: int, state_path: Path, seed_path: Path | None, admin_token: str | None
) -> None:
    """Serve the emulator on HOST:PORT until interrupted (--port 0 picks a free port)."""
    from reconciler.emulator import Emulator, load_seed, serve_forever
    from reconciler.emulator.admin import is_loopback

    seed = load_seed(seed_path) if seed_path is not None else None
    try:
        emu = Emulator(state_path, seed, admin_token=admin_token)
    except sqlite3.Error as exc:
        raise UsageError(
            f"--state {state_path}: cannot use it as the emulator's state ({exc})"
        ) from exc

    def ready(url: str) -> None:
        bound = urlsplit(url).hostname
        if not is_loopback(bound):
            click.echo(exposure_warning(str(bound), admin_token is not None), err=True)
        click.echo(f"Neon API emulator listening on {url}", err=False)
        sys.stdout.flush()

    try:
        serve_forever(emu, host, port, on_ready=ready)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
    finally:
        emu.close()


def exposure_warning(host: str, has_admin_token: bool) -> str:
    """What serving beyond loopback exposes, for stderr."""
    admin = (
        "the /_emulator/ admin API answers other clients only with the admin token"
        if has_admin_token
        else "the /_emulator/ admin API answers loopback clients only (set --admin-token "
        "to open it to others)"
    )
    return (
        f"Warning: the emulator listens on {host}, beyond loopback: anyone who can reach it "
        f"can call the emulated Neon API with the seeded keys; {admin}."
    )
