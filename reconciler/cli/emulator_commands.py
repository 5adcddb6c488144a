"""``fleet emulator serve``: the local Neon API emulator on a loopback port."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

from reconciler.cli import cli
from reconciler.errors import UsageError


@cli.group()
def emulator() -> None:
    """The local Neon API emulator."""


@emulator.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
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
def emulator_serve(host: str, port: int, state_path: Path, seed_path: Path | None) -> None:
    """Serve the emulator on HOST:PORT until interrupted (--port 0 picks a free port)."""
    from reconciler.emulator import Emulator, load_seed, serve_forever

    seed = load_seed(seed_path) if seed_path is not None else None
    try:
        emu = Emulator(state_path, seed)
    except sqlite3.Error as exc:
        raise UsageError(
            f"--state {state_path}: cannot use it as the emulator's state ({exc})"
        ) from exc

    def ready(url: str) -> None:
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
