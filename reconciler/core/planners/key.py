"""Planning a tenant's project-scoped API keys.

A declared key ``k`` of project ``p`` is the org API key named ``api_key_name(p, k)`` scoped to
the project. neon-fleet only ever revokes keys it owns: project-scoped keys of the tenant's
project whose name starts with ``api_key_prefix(p)``, or whose id the ledger recorded
(``OwnedTenant.keys``, keyed by the full Neon key name, which ``OwnedKey.name`` repeats; when
the org's keys were not observed a bare declared key name there is understood too).

* Declared and missing → ``create_api_key``; owned but no longer declared → ``revoke_api_key``.
* Of the live keys carrying a declared name, only the one the ledger records is kept: the
  applier records a key only after the secret sink took its token, so the recorded key is the
  one the sink holds. Every other key of that name (the old key of an interrupted rotation, a
  key minted by a run that died before recording it) is revoked. When the ledger records none
  of them, the sink may hold none of their tokens: they are all revoked and a new key is minted.
* A ledger row whose key is gone from its (observed) org is settled: a declared key is minted
  again (the create replaces the row); the row of an undeclared one gets a ``revoke_api_key``
  that finds nothing to revoke and drops the row. Keys recorded for a project the tenant no
  longer has (its project vanished and is made anew) are revoked.
* When the org's keys were not observed (the org is absent from ``LiveFleet.api_keys``), the
  ledger's record is the only knowledge: ledger keys count as present.
* A transfer invalidates every project-scoped key of the moved project, so all owned keys are
  revoked (in the source org) and every declared key is created again in the destination org,
  both after the transfer. Keys neon-fleet does not own are left alone, with a warning.
* For a project being created, every declared key is created after the project.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.core.context import PlanContext, is_ignored
from reconciler.core.fingerprint import project_keys
from reconciler.core.model import DesiredTenant, LiveProject, OwnedTenant
from reconciler.core.naming import api_key_name, api_key_prefix
from reconciler.core.plan import Action, FieldChange, Step
from reconciler.core.plan_payloads import CreateApiKey, RevokeApiKey
from reconciler.core.planners.tenant_outcome import TRANSFER_PLACEHOLDER, TenantOutcome, step_id


@dataclass(frozen=True, slots=True)
class _Key:
    key_id: int
    name: str
    org_id: str
    project_id: str


def plan_keys(
    ctx: PlanContext,
    tenant: DesiredTenant,
    project: LiveProject | None,
    record: OwnedTenant | None,
    base: str | None,
    out: TenantOutcome,
) -> None:
    """Add the key steps of ``tenant`` to ``out``."""
    if is_ignored("api_keys", tenant.lifecycle.ignore_changes):
        return
    wanted = {api_key_name(tenant.project_name, s.name): s.name for s in tenant.api_keys}
    deps = (base,) if base else ()
    transferring = out.transfer is not None
    if transferring:
        deps = (*deps, TRANSFER_PLACEHOLDER)
    if project is None:
        _settle_rows(ctx, tenant, record, None, wanted, [], deps, out)
        for full in sorted(wanted, key=lambda n: wanted[n]):
            out.steps.append(_create(tenant, wanted[full], full, None, deps, "declared"))
        return
    owned, foreign = _existing(ctx, tenant, project, record)
    if transferring:
        if foreign:
            names = ", ".join(sorted(k.name for k in foreign))
            out.warnings.append(
                f"{tenant.name}: project-scoped keys not owned by neon-fleet stop working "
                f"after the transfer and are left alone: {names}"
            )
        for key in owned:
            out.steps.append(_revoke(tenant, key, deps, "keys stop working after a transfer"))
        _settle_rows(ctx, tenant, record, project.id, wanted, owned, deps, out)
        for full in sorted(wanted, key=lambda n: wanted[n]):
            reason = "re-issued in the destination org after the transfer"
            out.steps.append(_create(tenant, wanted[full], full, project.id, deps, reason))
        return
    kept = _kept_keys(record, project, owned, wanted)
    for key in owned:
        if kept.get(key.name) != key.key_id:
            out.steps.append(_revoke(tenant, key, deps, _revoke_reason(key, wanted, kept)))
    _settle_rows(ctx, tenant, record, project.id, wanted, owned, deps, out)
    for full in sorted(wanted, key=lambda n: wanted[n]):
        if full not in kept:
            out.steps.append(
                _create(
                    tenant,
                    wanted[full],
                    full,
                    project.id,
                    deps,
                    "declared and missing",
                    org_id=project.org_id,
                )
            )


def _kept_keys(
    record: OwnedTenant | None, project: LiveProject, owned: list[_Key], wanted: dict[str, str]
) -> dict[str, int]:
    """Full key name → the id of the live key kept for it (recorded, declared, one per name)."""
    recorded = _recorded_ids(record, project)
    kept: dict[str, int] = {}
    # The row under the key's full name is the latest delivery; a legacy row under the bare
    # declared name only counts when there is none.
    latest = {n: k.key_id for n, k in record.keys.items()} if recorded and record else {}
    for key in sorted(owned, key=lambda k: latest.get(k.name) != k.key_id):
        if key.name in wanted and key.name not in kept and key.key_id in recorded:
            kept[key.name] = key.key_id
    return kept


def _revoke_reason(key: _Key, wanted: dict[str, str], kept: dict[str, int]) -> str:
    if key.name not in wanted:
        return "no longer declared"
    if key.name in kept:
        return f"a duplicate of the recorded key {kept[key.name]}"
    return "not recorded in the ledger, so the secret sink may not hold it: replaced"


def _recorded_ids(record: OwnedTenant | None, project: LiveProject) -> frozenset[int]:
    """Ids of the keys the ledger records for ``project`` (none when it records another)."""
    if record is None or record.project_id != project.id:
        return frozenset()
    return frozenset(k.key_id for k in record.keys.values())


def _settle_rows(
    ctx: PlanContext,
    tenant: DesiredTenant,
    record: OwnedTenant | None,
    project_id: str | None,
    wanted: dict[str, str],
    owned: list[_Key],
    deps: tuple[str, ...],
    out: TenantOutcome,
) -> None:
    """Revoke or drop ledger rows the key comparison above does not cover.

    * Keys recorded for another project than ``project_id`` (the tenant's recorded project is
      gone and a new one is made, or another project is adopted): revoked — they are neon-fleet's
      and useless now, and minting the declared keys again would overwrite their rows.
    * Undeclared keys that no longer exist in their (observed) org — a revoke whose answer was
      lost, a key revoked behind neon-fleet's back: a revoke that finds nothing drops the row.
      A declared key's row needs nothing here: minting the key again replaces it.
    """
    if record is None:
        return
    planned = {k.key_id for k in owned}
    for name, key in sorted(record.keys.items(), key=lambda item: item[1].key_id):
        if key.key_id in planned or key.org_id not in ctx.live.api_keys:
            continue
        live = key.key_id in {k.id for k in ctx.keys.get((key.org_id, key.project_id), ())}
        ref = _Key(key.key_id, key.name, key.org_id, key.project_id)
        if key.project_id != project_id:
            reason = f"recorded for project {key.project_id}, which the tenant no longer has"
        elif not live and name not in wanted:
            reason = "recorded in the ledger but gone from Neon: drop the record"
        else:
            continue
        out.steps.append(_revoke(tenant, ref, deps, reason))


def _existing(
    ctx: PlanContext, tenant: DesiredTenant, project: LiveProject, record: OwnedTenant | None
) -> tuple[list[_Key], list[_Key]]:
    """(owned, foreign) project-scoped keys of ``project``, owned ones in id order."""
    recorded = (
        {k.key_id: k for k in record.keys.values()}
        if record is not None and record.project_id == project.id
        else {}
    )
    observed = project_keys(ctx.live, project, ctx.keys)
    prefix = api_key_prefix(tenant.project_name)
    if observed is None:
        # The ledger should record full Neon key names; a bare declared name is accepted too.
        keys = [
            _Key(
                k.key_id,
                k.name if k.name.startswith(prefix) else api_key_name(tenant.project_name, k.name),
                k.org_id,
                k.project_id,
            )
            for k in recorded.values()
        ]
        return sorted(keys, key=lambda k: k.key_id), []
    owned: list[_Key] = []
    foreign: list[_Key] = []
    for key in sorted(observed, key=lambda k: k.id):
        ref = _Key(key.id, key.name, key.org_id, project.id)
        (owned if key.name.startswith(prefix) or key.id in recorded else foreign).append(ref)
    return owned, foreign


def _create(
    tenant: DesiredTenant,
    key: str,
    full: str,
    project_id: str | None,
    deps: tuple[str, ...],
    reason: str,
    org_id: str | None = None,
) -> Step:
    return Step(
        id=step_id(tenant.name, Action.CREATE_API_KEY, key),
        tenant=tenant.name,
        # Keys are minted where the project will be: its org, unless a transfer moves it.
        payload=CreateApiKey(key, full, org_id or tenant.org_id, project_id),
        depends_on=deps,
        reason=reason,
        changes=(FieldChange(f"api_keys.{key}", None, full, f"tenant {tenant.name}"),),
    )


def _revoke(tenant: DesiredTenant, key: _Key, deps: tuple[str, ...], reason: str) -> Step:
    return Step(
        id=step_id(tenant.name, Action.REVOKE_API_KEY, str(key.key_id)),
        tenant=tenant.name,
        payload=RevokeApiKey(key.key_id, key.name, key.org_id, key.project_id),
        depends_on=deps,
        reason=reason,
    )
