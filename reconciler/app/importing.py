"""Use case ``import``: existing projects of one org become Tenant manifests the ledger owns.

``fleet import PATH --org ALIAS [--match REGEX] --out DIR``:

1. observe the org with its org key (projects, their branches and endpoints, the org's keys,
   and the default branch's databases, roles and Neon Auth);
2. skip projects some tenant already claims (ledger record, binding or templated name);
3. write one ``DIR/<tenant>.yaml`` per remaining project (``manifests.export`` decides tier,
   overrides, binding, branches and keys), refusing to overwrite a file;
4. reload the manifests when DIR is inside PATH, so a bad result is caught and the written
   files removed again before the ledger is touched;
5. under the apply lock, adopt every project in the ledger and record a run of mode
   ``import`` (``fleet history`` shows it), one ``adopt_project`` step per tenant.

After it, ``fleet plan PATH`` is empty for the imported tenants. Nothing is written to Neon.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from reconciler import __version__
from reconciler.app.environment import Environment
from reconciler.core.drift_checks import claimed_project_ids
from reconciler.core.fingerprint import fingerprint, project_keys
from reconciler.core.model import DesiredFleet, LiveFleet, LiveProject, OwnedKey, OwnedTenant
from reconciler.errors import ManifestError, UsageError
from reconciler.ledger import RunInfo, StepOutcomeRecord, StepStatus, current_actor, utc_now
from reconciler.manifests import load_fleet
from reconciler.manifests.export import (
    ImportedManifest,
    build_manifest,
    sanitized_tenant,
    tenant_from_name,
)
from reconciler.observe import DetailNeeds, observe

#: Where the package's copy of the schemas lives (``reconciler/schemas`` → ``schemas/``).
_PACKAGE_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote and adopted."""

    imported: tuple[ImportedManifest, ...]
    files: tuple[Path, ...]
    #: Projects of the org that were left out, with the reason.
    skipped: tuple[tuple[str, str], ...]
    run_id: int | None
    api_calls: int


def run_import(
    env: Environment,
    desired: DesiredFleet,
    manifests: Path,
    *,
    org_alias: str,
    out_dir: Path,
    match: str | None = None,
) -> ImportResult:
    """Import the org's unclaimed projects (names matching ``match``) into ``out_dir``."""
    fleet = desired.fleet
    org = fleet.orgs.get(org_alias)
    if org is None:
        raise UsageError(f"unknown org alias {org_alias!r}; the Fleet has: {', '.join(fleet.orgs)}")
    tiers = [t for t in desired.tiers.values() if t.org_alias == org_alias]
    if not tiers:
        raise UsageError(f"no Tier lives in org {org_alias!r}: imported tenants need one")
    pattern = _compile(match)
    client, credentials, ledger = env.client(), env.credentials(), env.ledger()
    view = ledger.view()
    before = client.stats.snapshot().total_requests
    skipped: list[tuple[str, str]] = []

    def wanted(listed_projects: Sequence[LiveProject], claimed: set[str]) -> list[LiveProject]:
        chosen = []
        for project in sorted(listed_projects, key=lambda p: (p.name, p.id)):
            if pattern is not None and not pattern.search(project.name):
                continue
            if project.id in claimed:
                skipped.append((project.id, "already managed by a tenant"))
            else:
                chosen.append(project)
        return chosen

    selected: list[LiveProject] = []

    def needs(listed: LiveFleet) -> DetailNeeds:
        claimed = claimed_project_ids(desired, listed, view)
        selected.extend(wanted(list(listed.projects.values()), claimed))
        ids = frozenset(p.id for p in selected)
        return DetailNeeds(
            endpoints=ids, branches=ids, key_orgs=frozenset({org.id}), catalogs=ids, auth=ids
        )

    live, _ = observe(client, credentials, [org.id], needs, parallelism=fleet.policy.parallelism)
    manifests_out = _plan_manifests(desired, [live.projects[p.id] for p in selected], live)
    files = _write(manifests_out, out_dir)
    reloaded = _reload(manifests, out_dir, files)
    run_id = _adopt(env, manifests_out, reloaded, live) if manifests_out else None
    calls = client.stats.snapshot().total_requests - before
    return ImportResult(tuple(manifests_out), tuple(files), tuple(skipped), run_id, calls)


def _compile(match: str | None) -> re.Pattern[str] | None:
    if match is None:
        return None
    try:
        return re.compile(match)
    except re.error as exc:
        raise UsageError(f"--match {match!r} is not a valid regular expression: {exc}") from exc


def _plan_manifests(
    desired: DesiredFleet, projects: Sequence[LiveProject], live: LiveFleet
) -> list[ImportedManifest]:
    fleet = desired.fleet
    tiers = [t for t in desired.tiers.values() if fleet.orgs[t.org_alias].id in live.observed_orgs]
    name_counts: dict[str, int] = {}
    for project in live.projects.values():
        name_counts[project.name] = name_counts.get(project.name, 0) + 1
    taken = {name.lower() for name in desired.tenants}
    result: list[ImportedManifest] = []
    for project in projects:
        tenant = tenant_from_name(fleet.project_name_template, project.name)
        bound = tenant is None or name_counts[project.name] > 1 or tenant.lower() in taken
        if bound or tenant is None:
            tenant = _unique(sanitized_tenant(project.name, project.id), project.id, taken)
        taken.add(tenant.lower())
        keys = live.api_keys.get(project.org_id, ())
        org_tiers = [t for t in tiers if fleet.orgs[t.org_alias].id == project.org_id]
        result.append(build_manifest(fleet, org_tiers, project, tenant, bound=bound, keys=keys))
    return result


def _unique(name: str, project_id: str, taken: set[str]) -> str:
    if name.lower() not in taken:
        return name
    # File names are compared case-insensitively on some systems: keep tenants distinct there.
    suffix = "-" + project_id
    return name[: 63 - len(suffix)].rstrip("-_") + suffix


def schema_ref(out_dir: Path) -> str:
    """The modeline target, stable wherever the manifests are checked out: the nearest
    ``schemas/tenant.schema.json`` above DIR as a relative path, else the schema's published
    ``$id``. Never an absolute path: the files are meant for git, and a path into this
    machine's installed package means nothing on the next one."""
    target = out_dir.resolve()
    for parent in [target, *target.parents]:
        candidate = parent / "schemas" / "tenant.schema.json"
        if candidate.is_file():
            return os.path.relpath(candidate, target)
    published = json.loads((_PACKAGE_SCHEMAS / "tenant.schema.json").read_text(encoding="utf-8"))
    return str(published["$id"])


def _write(imported: Sequence[ImportedManifest], out_dir: Path) -> list[Path]:
    targets = [out_dir / f"{m.tenant}.yaml" for m in imported]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise UsageError(f"refusing to overwrite existing file(s): {', '.join(existing)}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        modeline = f"# yaml-language-server: $schema={schema_ref(out_dir)}\n"
        for manifest, target in zip(imported, targets, strict=True):
            header = f"# Imported by fleet import from project {manifest.project.id}"
            header += f" ({manifest.project.name!r}) in {manifest.project.org_id}.\n"
            notes = "".join(f"# note: {n}\n" for n in manifest.notes)
            body = yaml.safe_dump(dict(manifest.document), sort_keys=False, allow_unicode=True)
            target.write_text(modeline + header + notes + body, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the imported manifests to {out_dir}: {exc}") from exc
    return targets


def _reload(manifests: Path, out_dir: Path, files: Sequence[Path]) -> DesiredFleet | None:
    """The manifests with the imported files, when DIR is part of them; undo on a problem."""
    root = manifests.resolve()
    if not root.is_dir() or not out_dir.resolve().is_relative_to(root):
        return None
    try:
        return load_fleet(manifests)
    except ManifestError:
        for file in files:
            file.unlink(missing_ok=True)
        raise


def _adopt(
    env: Environment,
    imported: Sequence[ImportedManifest],
    reloaded: DesiredFleet | None,
    live: LiveFleet,
) -> int:
    ledger = env.ledger()
    digest_source = json.dumps([m.document for m in imported], sort_keys=True)
    info = RunInfo(
        who=current_actor(),
        started_at=utc_now(),
        plan_digest=hashlib.sha256(digest_source.encode()).hexdigest(),
        manifest_digest=reloaded.digest if reloaded else "",
        tool_version=__version__,
        mode="import",
    )
    with ledger.apply_lock(f"{current_actor()} (import)"):
        run_id = ledger.begin_run(info)
        for manifest in imported:
            started = utc_now()
            project = manifest.project
            tenant = reloaded.tenants.get(manifest.tenant) if reloaded else None
            ledger.upsert_tenant(
                OwnedTenant(
                    tenant=manifest.tenant,
                    project_id=project.id,
                    org_id=project.org_id,
                    branch_ids=dict(manifest.branch_ids),
                    keys={
                        k.name: OwnedKey(k.name, k.id, k.org_id, project.id) for k in manifest.keys
                    },
                    fingerprint=fingerprint(project, project_keys(live, project)),
                    manifest_digest=tenant.digest if tenant else "",
                )
            )
            ledger.record_step(
                run_id,
                StepOutcomeRecord(
                    step_id=f"{manifest.tenant}/adopt_project",
                    tenant=manifest.tenant,
                    action="adopt_project",
                    status=StepStatus.SUCCEEDED,
                    started_at=started,
                    finished_at=utc_now(),
                    message=f"imported as tier {manifest.tier}"
                    + (" with a project_id binding" if manifest.bound else ""),
                    resource_ids={"project_id": project.id, "org_id": project.org_id},
                ),
            )
        ledger.finish_run(run_id, "succeeded", {"succeeded": len(imported)})
    return run_id
