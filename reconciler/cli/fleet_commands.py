"""The core commands: ``validate``, ``plan``, ``apply`` and ``history``."""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import click

from reconciler.app import applying, history_prune, plan_trust, planning, shard_budget
from reconciler.app.environment import Environment
from reconciler.app.history import read_history, render_history
from reconciler.app.output import apply_exit_error, apply_summary, plan_chunks, plan_text
from reconciler.cli import FORMATS, State, cli, pass_state
from reconciler.cli.out_file import warn_if_out_looks_like_a_format
from reconciler.core.sharding import Shard
from reconciler.errors import UsageError

_SHARD_HELP = (
    "Only shard I of N (0 … N-1) of the tenants, by a stable hash of the name; N runners apply "
    "one fleet at once on a PostgreSQL ledger, sharing each account's budget (docs/scale.md)."
)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@pass_state
def validate(state: State, path: Path) -> None:
    """Check manifests (schema and semantics) without contacting Neon."""
    desired = planning.validate(path)
    click.echo(
        f"{path}: valid — {len(desired.tenants)} tenant(s), {len(desired.tiers)} tier(s), "
        f"{len(desired.fleet.orgs)} org(s)"
    )


@contextlib.contextmanager
def _kept_from_the_collector() -> Iterator[Callable[[], None]]:
    """Calls of the yielded function move every object alive then out of the collector's walks.

    The manifests, the live state and the plan live as long as the command; every full
    collection walked all of them again (a fifth of the CPU of a 10,000-tenant plan, more at
    100,000). ``gc.freeze`` leaves reference counting alone: frozen objects are still freed
    when unreferenced. Full collections are also made rarer inside the block (young ones still
    collect the short-lived cycles), since what the command builds is kept to its end anyway.
    Leaving the block restores both, so in-process callers (tests) keep an ordinary heap.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], max(thresholds[2], _FULL_COLLECTION_EVERY))
    try:
        yield gc.freeze
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


#: Inside ``_kept_from_the_collector``: a full collection after this many middle ones (10 by
#: default), i.e. after about 700,000 net allocations instead of 70,000.
_FULL_COLLECTION_EVERY = 100


_ECHO_CHUNK = 1 << 20


def _echo_chunks(chunks: Iterable[str]) -> None:
    """Print ``chunks`` in pieces of about a megabyte: a large plan's text is never held whole,
    and echo (which flushes) runs a few times, not once per tenant."""
    pending: list[str] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= _ECHO_CHUNK:
            click.echo("".join(pending), nl=False)
            pending, size = [], 0
    click.echo("".join(pending), nl=False)


def _file_chunks(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        while chunk := handle.read(_ECHO_CHUNK):
            yield chunk


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_file",
    type=click.Path(path_type=Path),
    help="Save the plan to this file (the output format is --format).",
)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@click.option("--tenant", "tenants", multiple=True, help="Plan only this tenant (repeatable).")
@click.option(
    "--refresh",
    type=click.Choice(["changed", "all"]),
    default="changed",
    show_default=True,
    help="Read compute/branch details of changed tenants only, or of all (docs/scale.md).",
)
@click.option("--shard", "shard_text", metavar="I/N", help=_SHARD_HELP)
@pass_state
def plan(
    state: State,
    path: Path,
    out_file: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    tenants: Sequence[str],
    refresh: Literal["changed", "all"],
    shard_text: str | None,
) -> None:
    """Diff the manifests against the live fleet and print (and optionally save) the plan."""
    shard = _shard_option(shard_text, tenants)
    with _kept_from_the_collector() as keep:
        keep()  # the modules loaded so far
        desired = planning.validate(path)
        keep()
        with (
            Environment(state.options, desired.fleet) as env,
            shard_budget.shared_budgets(env, shard),
        ):
            result = planning.make_plan(
                env, desired, targets=tenants, refresh=refresh, manifests=path, shard=shard
            )
        keep()
        if out_file is not None:
            planning.save_plan(result.plan, out_file)
            warn_if_out_looks_like_a_format(state, out_file, "plan")
        if out_file is not None and fmt == "json":
            # The file's text is the JSON rendering: print it back instead of building and
            # sealing the document a second time.
            _echo_chunks(_file_chunks(out_file))
        else:
            _echo_chunks(plan_chunks(result.plan, fmt, color=state.output.color))
    if out_file is not None:
        state.output.note(f"plan saved to {out_file}; apply it with: fleet apply {out_file}")
    state.output.note(f"{result.api_calls} API call(s)")
    contract = result.plan.contract
    # A shard's counts are of its own tenants: the others are not planned here at all.
    list_only = contract.list_only_tenants or 0
    if contract.shard is not None:
        declared = sum(1 for name in result.plan.targets if name in desired.tenants)
        refreshed = contract.refreshed_tenants
        list_only = declared - (declared if refreshed is None else refreshed)
        state.output.note(
            f"shard {contract.shard}: {len(result.plan.targets)} tenant(s) planned; the other "
            "shards' tenants are left to their runners"
        )
    if list_only:
        state.output.note(
            f"incremental refresh: {contract.refreshed_tenants} tenant(s) read in "
            f"full, {list_only} from list pages only "
            "(--refresh=all reads every tenant's computes and branches)"
        )
    if detailed_exitcode and result.plan.has_changes:
        sys.exit(2)


@cli.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Apply without asking (PATH form only).")
@click.option("--parallelism", type=click.IntRange(1, 64), help="Concurrent steps.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Seconds to wait for another apply's lock.",
)
@click.option("--tenant", "tenants", multiple=True, help="Apply only this tenant (PATH form).")
@click.option(
    "--refresh",
    type=click.Choice(["changed", "all"]),
    default=None,
    help="PATH form: what the plan reads; all (default) also heals drift fleet plan skips.",
)
@click.option(
    "-f",
    "--manifests",
    type=click.Path(path_type=Path),
    help="PLANFILE form: the manifests to check the plan against (default: the path the plan "
    "was made from).",
)
@click.option("--shard", "shard_text", metavar="I/N", help=_SHARD_HELP + " PATH form.")
@pass_state
def apply(
    state: State,
    target: Path,
    auto_approve: bool,
    parallelism: int | None,
    fmt: str,
    lock_timeout: float,
    tenants: Sequence[str],
    refresh: Literal["changed", "all"] | None,
    manifests: Path | None,
    shard_text: str | None,
) -> None:
    """Apply a saved PLANFILE (checked against the manifests), or plan PATH, confirm, and apply.

    Exits 5 when blockers held tenants back (the rest was applied), 4 when steps failed.
    """
    output = state.output
    shard = _shard_option(shard_text, tenants)
    from_file = planning.is_plan_file(target)
    if from_file and shard is not None:
        raise UsageError(
            "--shard shapes a new plan and only goes with a manifests PATH; a saved plan "
            "applies the shard it was made for (fleet plan --shard I/N -o FILE)"
        )
    if from_file and (tenants or refresh):
        # A saved plan is applied exactly as reviewed; narrowing it here would apply a plan
        # nobody saw.
        raise UsageError(
            "--tenant and --refresh shape a new plan and only go with a manifests PATH; "
            "a saved plan is applied exactly (make a plan with fleet plan --tenant … -o FILE)"
        )
    if manifests is not None and not from_file:
        raise UsageError("-f/--manifests goes with a PLANFILE; the manifests PATH is the argument")
    saved = planning.load_plan_file(target) if from_file else None
    desired = (
        plan_trust.manifests_for(saved, manifests)
        if saved is not None
        else planning.validate(target)
    )
    if saved is not None and manifests is None:
        # The plan file chose them: say which, so a log shows it (CI should pin them with -f).
        output.note(
            f"checked the plan against the manifests it names, {saved.contract.manifests} "
            "(-f PATH names them instead)"
        )
    if saved is not None:
        shard = plan_trust.saved_shard(saved)
    with (
        Environment(state.options, desired.fleet) as env,
        applying.apply_session(env, lock_timeout=lock_timeout, shard=shard) as recovered,
    ):
        if recovered.did_anything:
            output.note(
                f"recovered from an interrupted apply: {recovered.closed} open intent(s) settled"
                + "".join(f"\n  revoked untracked key {k}" for k in recovered.revoked_keys)
            )
        if saved is not None:
            vouched = plan_trust.vouch(env, desired, saved)
            the_plan, planned_from, digest = vouched.plan, vouched.live, vouched.digest
        else:
            result = planning.make_plan(
                env,
                desired,
                targets=tenants,
                refresh=refresh or "all",
                manifests=target,
                shard=shard,
            )
            the_plan, planned_from, digest = result.plan, result.live, None
            if fmt == "text":
                click.echo(plan_text(the_plan, "text", color=output.color), nl=False)
            if the_plan.steps and not auto_approve:
                _confirm_or_refuse()
        if the_plan.steps:
            outcome = applying.apply_plan(
                env,
                the_plan,
                parallelism=parallelism,
                on_event=output.progress(len(the_plan.steps), json_lines=fmt == "json"),
                planned_from=planned_from,
                digest=digest,
            )
        else:
            outcome = applying.settle_converged(env, the_plan)
    output.finish_progress()
    summary = apply_summary(outcome, fmt, the_plan.blockers)
    if fmt == "json" or outcome.report.results or the_plan.blockers:
        click.echo(summary)
    else:
        output.note(summary)  # "No changes": a note, as fleet plan says it
    failure = apply_exit_error(outcome, the_plan.blockers)
    if failure is not None:
        raise failure


def _shard_option(text: str | None, tenants: Sequence[str]) -> Shard | None:
    """``--shard I/N`` parsed, refused with ``--tenant`` (both choose the tenants)."""
    if text is None:
        return None
    if tenants:
        raise UsageError("--shard and --tenant both choose tenants: use one of them")
    return Shard.parse(text)


def _confirm_or_refuse() -> None:
    if not sys.stdin.isatty():
        raise UsageError(
            "refusing to apply without confirmation: stdin is not a terminal; "
            "pass --auto-approve, or apply a saved plan file"
        )
    if not click.confirm("Apply these changes?", default=False):
        raise UsageError("apply cancelled")


@cli.command()
@click.argument("run_id", required=False, type=int)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "-f",
    "--fleet",
    "fleet_path",
    type=click.Path(path_type=Path),
    help="Manifests whose Fleet names the ledger (default: --ledger/FLEET_LEDGER).",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Remove history older than the retention (policy.history_retention, default 90d).",
)
@click.option("--dry-run", is_flag=True, help="With --prune: count what would go, remove nothing.")
@click.option(
    "--older-than", metavar="DURATION", help="With --prune: this retention instead (e.g. 30d)."
)
@pass_state
def history(
    state: State,
    run_id: int | None,
    limit: int,
    fmt: str,
    fleet_path: Path | None,
    prune: bool,
    dry_run: bool,
    older_than: str | None,
) -> None:
    """Show the audit trail of apply runs (one run's steps with RUN_ID); never creates a ledger.

    With --prune, remove step records of old finished runs, resolved intents and drift history
    older than the retention (run summaries, open intents and checkpoints are kept).
    """
    if prune or dry_run or older_than is not None:
        if not prune:
            raise UsageError("--dry-run and --older-than go with --prune")
        if run_id is not None:
            raise UsageError("--prune applies to the whole ledger: drop RUN_ID")
        seconds = history_prune.parse_older_than(older_than) if older_than else None
        pruned = history_prune.prune(state.options, fleet_path, older_than=seconds, dry_run=dry_run)
        if fmt == "json":
            state.output.note(f"ledger: {pruned.ledger} ({pruned.source})")
        click.echo(history_prune.render_pruned(pruned, fmt), nl=False)
        return
    runs = read_history(state.options, fleet_path, run_id, limit)
    if fmt == "json":  # stdout stays one JSON document; the text form heads itself with this
        state.output.note(f"ledger: {runs.ledger} ({runs.source})")
    click.echo(render_history(runs, fmt), nl=False)
