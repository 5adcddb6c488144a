"""The ``drift`` and ``import`` commands.

``fleet drift PATH`` is read-only towards Neon and exits 0 (clean) or, with
``--detailed-exitcode``, 2 when drift is reported; 1 on any error. ``fleet import`` writes
Tenant manifests for existing projects and adopts them in the ledger.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.app import drift, importing, planning
from reconciler.app.environment import Environment
from reconciler.cli.out_file import warn_if_out_looks_like_a_format
from reconciler.cli.state import FORMATS, State, pass_state
from reconciler.errors import UsageError
from reconciler.render.drift import render_drift


@click.command("drift")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option(
    "-o", "--out", "out_file", type=click.Path(path_type=Path), help="Also write the report here."
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when drift is found.")
@pass_state
def drift_command(
    state: State, path: Path, fmt: str, out_file: Path | None, detailed_exitcode: bool
) -> None:
    """Report what changed in the live fleet behind the manifests' back (read-only)."""
    desired = planning.validate(path)
    with Environment(state.options, desired.fleet) as env:
        result = drift.run_drift(env, desired, path)
    text = render_drift(result.document, fmt, color=state.output.color and out_file is None)
    click.echo(text, nl=False)
    if out_file is not None:
        warn_if_out_looks_like_a_format(state, out_file, "report")
        plain = render_drift(result.document, fmt) if state.output.color else text
        try:
            out_file.parent.mkdir(parents=True, exist_ok=True)
            out_file.write_text(plain, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the report to {out_file}: {exc.strerror}") from exc
        state.output.note(f"report saved to {out_file}")
    state.output.note(f"{result.api_calls} API call(s)")
    if detailed_exitcode and result.has_drift:
        sys.exit(2)


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path), default=".")
@click.option("--org", "org_alias", required=True, help="Alias of the org to import from.")
@click.option("--match", help="Only projects whose name matches this regular expression.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the Tenant manifests (best inside PATH).",
)
@pass_state
def import_command(
    state: State, path: Path, org_alias: str, match: str | None, out_dir: Path
) -> None:
    """Write Tenant manifests for an org's existing projects and adopt them in the ledger."""
    desired = planning.validate(path)
    with Environment(state.options, desired.fleet) as env:
        result = importing.run_import(
            env, desired, path, org_alias=org_alias, out_dir=out_dir, match=match
        )
    for manifest in result.imported:
        how = " (bound by project_id)" if manifest.bound else ""
        click.echo(f"imported {manifest.project.id} as tenant {manifest.tenant}{how}")
        for note in manifest.notes:
            click.echo(f"  note: {note}")
    for project_id, reason in result.skipped:
        click.echo(f"skipped {project_id}: {reason}")
    run = f" (ledger run #{result.run_id})" if result.run_id is not None else ""
    click.echo(f"Import complete: {len(result.imported)} tenant(s) written to {out_dir}{run}.")
    state.output.note(f"{result.api_calls} API call(s)")
