"""The ``fleet`` command line: click commands only; the work happens in ``reconciler.app``.

Exit codes (design.md §4): 0 success / no changes; 1 error; 2 changes present (``plan`` and
``drift`` with ``--detailed-exitcode``); 3 stale plan refused; 4 apply finished with failed
steps; 5 apply finished but blocked tenants were left unchanged. Bad flags exit 1 too (click's
usual 2 would read as "changes present" in CI). Errors print one ``Error: …`` message and never a
traceback (``-v`` adds the cause chain).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click

from reconciler import __version__
from reconciler.app.environment import API_HOST_ENV, GlobalOptions
from reconciler.cli.checkpoint_commands import checkpoint
from reconciler.cli.drift_commands import drift_command, import_command
from reconciler.cli.emulator_commands import emulator
from reconciler.cli.fleet_commands import apply, history, plan, validate
from reconciler.cli.keys_commands import keys
from reconciler.cli.preview_commands import preview
from reconciler.cli.promote_commands import promote
from reconciler.cli.secrets_commands import secrets
from reconciler.cli.state import State
from reconciler.cli.usage_commands import usage
from reconciler.errors import ManifestError, ReconcilerError
from reconciler.render.output import Output


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="neon-fleet")
# No click envvar: NEON_API_HOST is read where the URL is built (api_base_url), so api_host here
# is only ever the flag, and --sandbox can refuse the flag without refusing a shell's variable.
@click.option("--api-host", help="Neon API base URL (env NEON_API_HOST).")
@click.option("--ledger", "ledger_url", help="Ledger URL (sqlite:///… or postgresql://…).")
@click.option("--sandbox", is_flag=True, help="Use a local emulator under .fleet/; no Neon API.")
@click.option("--no-color", is_flag=True, help="Never colour output (NO_COLOR is honoured too).")
@click.option("-v", "--verbose", count=True, help="More logging; -vv for HTTP-level detail.")
@click.pass_context
def cli(
    ctx: click.Context,
    api_host: str | None,
    ledger_url: str | None,
    sandbox: bool,
    no_color: bool,
    verbose: int,
) -> None:
    """neon-fleet: plan and apply declarative tenant fleets on Neon Postgres."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    output = Output.for_terminal(no_color=no_color)
    options = GlobalOptions(api_host=api_host, ledger_url=ledger_url, sandbox=sandbox)
    ctx.obj = State(options, output, verbose)
    if sandbox:
        ignored = "; NEON_API_HOST is ignored" if options.environ.get(API_HOST_ENV) else ""
        output.note(
            "sandbox: using the local emulator in .fleet/sandbox.db; no Neon API is contacted"
            + ignored
        )


# Every command, listed here rather than found by scanning the package: the command modules
# import nothing from this one, so the import graph (and import-linter) sees the whole CLI.
COMMANDS: tuple[click.Command, ...] = (
    validate,
    plan,
    apply,
    history,
    drift_command,
    import_command,
    checkpoint,
    keys,
    secrets,
    preview,
    promote,
    usage,
    emulator,
)
for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: run the CLI and map errors to exit codes (never a traceback)."""
    try:
        cli.main(args=argv, prog_name="fleet", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except ReconcilerError as exc:
        _report(exc)
        sys.exit(exc.exit_code)
    sys.exit(0)


def _report(exc: ReconcilerError) -> None:
    message = str(exc)
    if isinstance(exc, ManifestError):
        click.echo(f"Error: {len(exc.problems)} problem(s) in the manifests:", err=True)
        click.echo(message, err=True)
    else:
        click.echo(f"Error: {message}", err=True)
    if logging.getLogger().isEnabledFor(logging.INFO) and exc.__cause__ is not None:
        click.echo(f"  caused by: {type(exc.__cause__).__name__}: {exc.__cause__}", err=True)
